"""DRAIN (here from a recycle): the worker stops taking connections, hands
its idle keep-alive connections back to the listener (the client's next
request on one is served by the new worker: no connection drops because a
pool recycled), finishes the request in progress keep-alive and hands that
connection back too (as HTTP.sys keeps a client's connection over a
recycle), and exits 0 once no connection is left. Also checks the stats it
reports (requests served, busy, connections, memory)."""
import socket
import wasptest
from wasptest import check, wait_until, pid_alive, TIME_SCALE


def recv_all(s):
    got = b""
    while True:
        b = s.recv(65536)
        if not b:
            return got
        got += b


def recv_until(s, marker, what):
    got = b""
    while marker not in got:
        b = s.recv(65536)
        check(b, "%s: closed after %r" % (what, got))
        got += b
    return got


def keep_alive_conn(srv, host):
    """A connection that has had one request answered and stays open:
    the socket and that response."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10 * TIME_SCALE)
    s.sendall(b"GET /index.html HTTP/1.1\r\nHost: %s\r\n\r\n" % host)
    return s, recv_until(s, b"pool A\n", "idle connection")


def test(t):
    srv = t.server(pools={"A": {}}).start()
    host = srv.host("A").encode()

    # idle keep-alive connections owned by the worker
    idle, first = keep_alive_conn(srv, host)
    pid = int(first.split(b"X-Wasp-Pid: ")[1].split(b"\r\n")[0])
    more = []
    for _ in range(9):
        s, got = keep_alive_conn(srv, host)
        check(b"X-Wasp-Pid: %d\r\n" % pid in got, "another worker: %r" % got)
        more.append(s)

    # a request in progress: the worker answers it after 3 s, from a timer
    busy = socket.create_connection(("127.0.0.1", srv.port), timeout=20 * TIME_SCALE)
    busy.sendall(b"GET /__wasp_test/sleep?ms=3000 HTTP/1.1\r\nHost: %s\r\n\r\n" % host)

    def stats():
        w = [w for w in srv.workers("A") if w["pid"] == pid]
        return w and w[0]["busy"] == 1 and w[0]["requests"] >= 1 and w[0]["connections"] == 11 \
            and w[0].get("privateKB", 1) > 0 and w
    wait_until(stats, timeout=10, what="stats: 1 busy, 11 connections")

    srv.waspctl("recycle", "apppool", "A")

    # the request in progress completes, keep-alive, in the old worker
    data = recv_until(busy, b"slept 3000 ms", "in-flight request")
    check(data.startswith(b"HTTP/1.1 200 "), "in-flight request: %r" % data)
    check(b"\r\nConnection: close\r\n" not in data, "Connection: close: %r" % data)
    check(b"X-Wasp-Pid: %d\r\n" % pid in data, "answered by another worker: %r" % data)
    # and its connection went back too: the next request is the new worker's
    busy.sendall(b"GET /index.html HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                 % host)
    data = recv_all(busy)
    busy.close()
    check(data.startswith(b"HTTP/1.1 200 ") and b"pool A\n" in data,
          "after the in-flight request: %r" % data)
    check(b"X-Wasp-Pid: %d\r\n" % pid not in data, "served by the drained worker: %r" % data)

    wait_until(lambda: not pid_alive(pid), timeout=10, what="drained worker to exit")
    # the idle connection was handed back: it still works, in the new worker
    idle.sendall(b"GET /index.html HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host)
    data = recv_all(idle)
    idle.close()
    check(data.startswith(b"HTTP/1.1 200 ") and b"pool A\n" in data,
          "idle connection after the recycle: %r" % data)
    check(b"X-Wasp-Pid: %d\r\n" % pid not in data, "served by the drained worker: %r" % data)
    for s in more:
        s.sendall(b"GET /index.html HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                  % host)
        data = recv_all(s)
        s.close()
        check(data.startswith(b"HTTP/1.1 200 ") and b"X-Wasp-Pid: %d\r\n" % pid not in data,
              "another idle connection after the recycle: %r" % data)
    srv.wait_log("(pid %d) exited with status 0" % pid)
    r = srv.get(pool="A")
    check(r.status == 200 and r.pid != pid, "after the recycle %r" % r)


wasptest.main(test)
