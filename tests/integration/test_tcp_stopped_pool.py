"""A tcp pool stopped with `waspctl stop apppool`: its workers go, a new tcp
connection is reset by wasp-tcp (raw TCP has no 503 to write, and a FIN
would look like a session the server ended) while the HTTP pool serves on;
started again, it echoes. A TcpLevel pool and an HttpLevel one (the
default) are both reset."""
import socket
import wasptest
from wasptest import check, wait_until
from test_tcp_lifecycle import LOCATION, echo, echo_ok, http_site, tcp_site


def reset(port):
    """A new connection to port is reset before it carries a byte (maybe
    before connect() returns)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
            c.settimeout(10)
            got = c.recv(16)
    except ConnectionResetError:
        return True
    wasptest.log("port %d: %r instead of a reset" % (port, got))
    return False


def test(t):
    tport, lport = wasptest.free_port(), wasptest.free_port()
    srv = t.server(
        pools={"T": {"failure": {"loadBalancerCapabilities": "TcpLevel"}}, "L": {}, "H": {}},
        sites=[http_site(t), tcp_site(t, tport), tcp_site(t, lport, "L", 3)])
    srv.config_text = srv.config_text.replace(
        "</configuration>", LOCATION % "T" + LOCATION % "L" + "</configuration>")
    srv.start()
    wait_until(lambda: srv.children("wasp-tcp"), what="wasp-tcp to start")
    for port in (tport, lport):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
            check(echo(c, b"before") == b"before", "echo on %d before the stop" % port)

    for name in ("T", "L"):
        srv.waspctl("stop", "apppool", name)
        wait_until(lambda: srv.pool_state(name) == "Stopped", what="%s stopped" % name)
        wait_until(lambda: srv.worker_pids(name) == [], what="%s's workers gone" % name)
    for port in (tport, lport):
        wait_until(lambda: reset(port), what="a reset from the stopped pool on %d" % port)
        check(reset(port), "a second connection to the stopped pool on %d" % port)
    r = srv.get("/index.html", host="h.test")
    check(r.status == 200 and r.body == b"pool H\n", "HTTP beside stopped tcp pools: %r" % r)
    check(srv.worker_pids("T") == [] and srv.worker_pids("L") == [],
          "a stopped pool started a worker")

    for name, port in (("T", tport), ("L", lport)):
        srv.waspctl("start", "apppool", name)
        wait_until(lambda: srv.pool_state(name) == "Started", what="%s started" % name)
        wait_until(lambda: echo_ok(port), what="echo on %s after start apppool" % name)


wasptest.main(test)
