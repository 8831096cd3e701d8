"""Raw TCP through wasp-tcp: a site with a tcp binding gets its own adapter
(waspd starts wasp-tcp beside wasp-http), a connection goes to the pool of
the site's root application, started on demand, and to the stream handler
the application selects (system.webServer/streamHandlers: echo). An HTTP
pool serves beside it. The open tcp connection keeps its worker from the
idle timeout; once it closes, the worker is stopped. A tcp site whose
application selects no handler gets its connections closed, and so does
one whose application's enabledProtocols leaves tcp out."""
import os
import socket
import threading
import time
import wasptest
from wasptest import check, wait_until, pid_alive
from test_tcp_lifecycle import LOCATION, content, read_back, recv_or_eof, closed, http_site


def recv_exactly(sock, n, timeout=10.0):
    sock.settimeout(timeout)
    return read_back(sock, n)


def test(t):
    tport, nport, dport = wasptest.free_port(), wasptest.free_port(), wasptest.free_port()
    srv = t.server(
        pools={"T": {"processModel": {"idleTimeout": "00:00:02"}}, "H": {}, "N": {},
               "D": {}},
        sites=[http_site(t),
               {"name": "T", "id": 2, "bindings": ["tcp/127.0.0.1:%d:" % tport],
                "apps": [{"path": "/", "pool": "T", "physicalPath": content(t, "T"),
                          "attrs": {"enabledProtocols": "http, tcp"}}]},
               {"name": "N", "id": 3, "bindings": ["tcp/127.0.0.1:%d:" % nport,
                                                   "127.0.0.1:{port}:n.test"],
                "apps": [{"path": "/", "pool": "N", "physicalPath": content(t, "N"),
                          "attrs": {"enabledProtocols": "tcp"}}]},
               {"name": "D", "id": 4, "bindings": ["tcp/127.0.0.1:%d:" % dport],
                "apps": [{"path": "/", "pool": "D", "physicalPath": content(t, "D")}]}])
    srv.config_text = srv.config_text.replace("</configuration>",
                                              LOCATION % "T" + LOCATION % "D" + "</configuration>")
    srv.start()
    wait_until(lambda: srv.children("wasp-tcp"), what="wasp-tcp to start")
    check(srv.worker_pids("T") == [], "T's worker started before a connection")

    with socket.create_connection(("127.0.0.1", tport), timeout=10) as c:
        c.sendall(b"hello\n")
        check(recv_exactly(c, 6) == b"hello\n", "echo of a line")
        # more than the worker's buffer and the sockets hold: the worker
        # stops reading while we are not reading what it wrote
        blob = os.urandom(4 * 1024 * 1024)
        sender = threading.Thread(target=c.sendall, args=(blob,))
        sender.start()
        back = recv_exactly(c, len(blob), timeout=30)
        sender.join(30)
        check(back == blob, "echo of 4 MiB: %d bytes back" % len(back))
        pids = srv.worker_pids("T")
        check(len(pids) == 1, "T's workers: %r" % pids)
        # HTTP beside it
        r = srv.get("/index.html", host="h.test")
        check(r.status == 200 and r.body == b"pool H\n", "HTTP pool H: %r" % r)
        # the open connection counts: the worker outlives idleTimeout
        t0 = time.monotonic()
        wait_until(lambda: time.monotonic() - t0 > 3.5, timeout=6, what="3.5 s")
        check(pid_alive(pids[0]), "T's worker stopped with a connection open")
        c.sendall(b"still here\n")
        check(recv_exactly(c, 11) == b"still here\n", "echo after idleTimeout")
    t1 = time.monotonic()
    wait_until(lambda: not pid_alive(pids[0]), timeout=15, what="idle T worker to exit")
    check(time.monotonic() - t1 >= 1.0, "stopped before idleTimeout")

    # a new connection starts a new worker
    with socket.create_connection(("127.0.0.1", tport), timeout=10) as c:
        c.sendall(b"again")
        check(recv_exactly(c, 5) == b"again", "echo on a new worker")

    # no stream handler selected: closed, and said why
    check(closed(nport), "site N without a handler answered")
    srv.wait_log("no stream handler selected")

    # enabledProtocols without tcp (the default, "http"): closed by wasp-tcp,
    # no worker started for it
    with socket.create_connection(("127.0.0.1", dport), timeout=10) as c:
        c.settimeout(10)
        got = recv_or_eof(c)
        check(got == b"", "site D (http only) answered %r" % got)
    check(srv.worker_pids("D") == [], "a worker started for D")
    # and HTTP to an application whose enabledProtocols is "tcp": 404
    r = srv.get("/index.html", host="n.test")
    check(r.status == 404, "HTTP to a tcp-only application: %r" % r)


wasptest.main(test)
