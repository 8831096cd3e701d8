"""Half-close (RFC 9112 9.6): a client that sends its requests and then
shuts down its sending side (shutdown(SHUT_WR), as `nc -N` and some
HTTP/1.0 clients do) still gets every response, and then the connection
is closed. Four ways in: the first request for an on-demand pool that has
no worker yet (the connection waits in the listener's queue when the FIN
arrives), the same with pipelined requests, and both again once the worker
is ready (the listener hands the half-closed connection to it at once)."""
import socket

import wasptest
from wasptest import check, TIME_SCALE


def exchange(port, data):
    """Send data, shut down our side, read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10 * TIME_SCALE) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                chunks.append(b"<reset>")
                break
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks)


def statuses(raw):
    """Status codes of the Content-Length framed responses in raw, in order
    (None for bytes that do not parse as one)."""
    out = []
    while raw:
        head, sep, rest = raw.partition(b"\r\n\r\n")
        if not sep or not head.startswith(b"HTTP/1."):
            return out + [None]
        clen = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                clen = int(value)
        out.append(int(head.split()[1]))
        raw = rest[clen:]
    return out


def get(host, path=b"/index.html", version=b"HTTP/1.1"):
    return b"GET " + path + b" " + version + b"\r\nHost: " + host + b"\r\n\r\n"


def test(t):
    srv = t.server(pools={"A": {"startMode": "OnDemand"},
                          "B": {"startMode": "OnDemand"}}).start()
    a, b = srv.host("A").encode(), srv.host("B").encode()
    check(srv.worker_processes() == [], "a worker before any request")

    # One request, pool A not started: it waits in the listener's queue.
    raw = exchange(srv.port, get(a))
    check(statuses(raw) == [200] and raw.endswith(b"pool A\n"),
          "half-closed first request (queued): %r" % raw)

    # Pipelined requests, pool B not started.
    raw = exchange(srv.port, get(b) + get(b, b"/nothing") + get(b))
    check(statuses(raw) == [200, 404, 200] and raw.endswith(b"pool B\n"),
          "half-closed pipelined requests (queued): %r" % raw)

    # The workers are ready now: straight to them.
    raw = exchange(srv.port, get(a))
    check(statuses(raw) == [200] and raw.endswith(b"pool A\n"),
          "half-closed request to a ready worker: %r" % raw)
    raw = exchange(srv.port, get(a) + get(a, b"/nothing") + get(a))
    check(statuses(raw) == [200, 404, 200] and raw.endswith(b"pool A\n"),
          "half-closed pipelined requests to a ready worker: %r" % raw)
    # A response that takes a while (from a timer): the FIN came long before.
    raw = exchange(srv.port, get(a, b"/__wasp_test/sleep?ms=200"))
    check(statuses(raw) == [200], "half-closed, slow response: %r" % raw)
    raw = exchange(srv.port, get(a, version=b"HTTP/1.0"))
    check(statuses(raw) == [200] and raw.endswith(b"pool A\n"),
          "half-closed HTTP/1.0 request: %r" % raw)


wasptest.main(test)
