"""A tcp pool has the lifecycle of an HTTP one: recycle with a long-lived
connection (it stays on the old worker, which exits once it closes, while
new connections go to the new worker), rapid-fail protection (crashes stop
the pool; its connections are closed while the HTTP pool serves on), and
wasp-tcp killed and restarted by waspd while HTTP keeps serving."""
import os
import signal
import socket
import wasptest
from wasptest import check, wait_until, pid_alive

CRASHES = 3
LOCATION = """  <location path="%s">
    <system.webServer>
      <streamHandlers>
        <add protocol="tcp" handler="echo" />
      </streamHandlers>
    </system.webServer>
  </location>
"""


def content(t, name):
    d = os.path.join(t.dir, "c-" + name)
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    with open(os.path.join(d, "index.html"), "w") as f:
        f.write("pool %s\n" % name)
    os.chmod(os.path.join(d, "index.html"), 0o644)
    return d


def tcp_site(t, tport, name="T", site_id=2):
    """Site `name` with a tcp binding on tport, its root application in pool
    `name` taking tcp only."""
    return {"name": name, "id": site_id, "bindings": ["tcp/127.0.0.1:%d:" % tport],
            "apps": [{"path": "/", "pool": name, "physicalPath": content(t, name),
                      "attrs": {"enabledProtocols": "tcp"}}]}


def http_site(t):
    """Site H, HTTP on the server's port (host h.test), in pool H."""
    return {"name": "H", "id": 1, "bindings": ["127.0.0.1:{port}:h.test"],
            "apps": [{"path": "/", "pool": "H", "physicalPath": content(t, "H")}]}


def tcp_server(t, tport, pool_attrs, location=LOCATION):
    """A started server with HTTP pool H (site H) and tcp pool T (site T on
    tport, with pool_attrs, its handler chosen by `location`), wasp-tcp up."""
    srv = t.server(pools={"T": pool_attrs, "H": {}},
                   sites=[http_site(t), tcp_site(t, tport)])
    srv.config_text = srv.config_text.replace("</configuration>",
                                              location % "T" + "</configuration>")
    srv.start()
    wait_until(lambda: srv.children("wasp-tcp"), what="wasp-tcp to start")
    return srv


def read_line(c):
    """One line from c, byte by byte (what follows it stays unread)."""
    c.settimeout(10)
    line = b""
    while not line.endswith(b"\n"):
        b = c.recv(1)
        check(b, "closed before a whole line: %r" % line)
        line += b
    return line


def read_back(c, n):
    """n bytes from c, or fewer when it closes first."""
    got = b""
    while len(got) < n:
        b = c.recv(n - len(got))
        if not b:
            break
        got += b
    return got


def echo(c, data):
    c.settimeout(10)
    c.sendall(data)
    return read_back(c, len(data))


def recv_or_eof(c, n=16):
    """What c sends next; b"" when it closes (or resets)."""
    try:
        return c.recv(n)
    except ConnectionResetError:
        return b""


def closed(port):
    """A connection to port is closed without an answer (a reset may come
    before connect() returns)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
            c.settimeout(10)
            c.sendall(b"x")
            return c.recv(16) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


def test(t):
    tport = wasptest.free_port()
    srv = tcp_server(t, tport, {"failure": {"rapidFailProtection": True,
                                            "rapidFailProtectionInterval": "00:05:00",
                                            "rapidFailProtectionMaxCrashes": CRASHES}})

    # recycle: the open connection stays on the old worker
    c1 = socket.create_connection(("127.0.0.1", tport), timeout=10)
    check(echo(c1, b"one") == b"one", "first connection")
    old = srv.worker_pids("T")
    check(len(old) == 1, "T's workers %r" % old)
    srv.waspctl("recycle", "apppool", "T")
    wait_until(lambda: [p for p in srv.worker_pids("T") if p != old[0]],
               what="T's new worker")
    new = [p for p in srv.worker_pids("T") if p != old[0]]
    with socket.create_connection(("127.0.0.1", tport), timeout=10) as c2:
        check(echo(c2, b"two") == b"two", "a connection after the recycle")
        check(echo(c1, b"still one") == b"still one", "the old connection after the recycle")
        check(pid_alive(old[0]), "the old worker exited with a connection open")
        c1.close()
        wait_until(lambda: not pid_alive(old[0]), timeout=20,
                   what="the old worker to exit once its connection closed")
        # c2 was not on the old worker
        check(echo(c2, b"two again") == b"two again", "the new worker's connection")
    check(pid_alive(new[0]), "the new worker is gone")

    # wasp-tcp killed: waspd starts another; HTTP serves meanwhile, and a
    # connection already handed off stays with its worker
    lsn = srv.children("wasp-tcp")
    http_lsn = srv.listener_pids()
    c3 = socket.create_connection(("127.0.0.1", tport), timeout=10)
    check(echo(c3, b"three") == b"three", "a connection before wasp-tcp is killed")
    os.kill(lsn[0], signal.SIGKILL)
    r = srv.get("/index.html", host="h.test")
    check(r.status == 200 and r.body == b"pool H\n", "HTTP while wasp-tcp is down: %r" % r)
    wait_until(lambda: srv.children("wasp-tcp") and srv.children("wasp-tcp") != lsn,
               what="wasp-tcp started again")
    wait_until(lambda: echo_ok(tport), what="echo through the new wasp-tcp")
    check(srv.listener_pids() == http_lsn, "wasp-http restarted too")
    check(echo(c3, b"three again") == b"three again", "the connection after wasp-tcp's restart")
    c3.close()

    # rapid-fail: crashes stop the tcp pool, not the HTTP one
    for i in range(CRASHES):
        check(srv.pool_state("T") == "Started", "T stopped early, after %d" % i)
        with socket.create_connection(("127.0.0.1", tport), timeout=10) as c:
            check(echo(c, b"crash") == b"crash", "crash %d: echo" % i)
            pids = srv.worker_pids("T")
            for p in pids:
                os.kill(p, signal.SIGKILL)
        for p in pids:
            wait_until(lambda: p not in srv.worker_pids(), what="worker %d forgotten" % p)
    wait_until(lambda: srv.pool_state("T") == "Stopped", what="T stopped by rapid-fail")
    srv.wait_log("rapid")
    check(closed(tport), "a stopped tcp pool answered")
    check(srv.worker_pids("T") == [], "stopped pool has workers")
    r = srv.get("/index.html", host="h.test")
    check(r.status == 200 and r.body == b"pool H\n", "HTTP beside a stopped tcp pool: %r" % r)
    srv.waspctl("start", "apppool", "T")
    wait_until(lambda: srv.pool_state("T") == "Started", what="T started again")
    wait_until(lambda: echo_ok(tport), what="echo after start apppool")


def echo_ok(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            return echo(c, b"ping") == b"ping"
    except OSError:
        return False


if __name__ == "__main__":
    wasptest.main(test)
