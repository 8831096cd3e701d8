"""systemd's file descriptor store: under a NOTIFY_SOCKET waspd stores each
listening socket (FDSTORE=1, FDNAME=wasp-PROTOCOL-ADDRESS-PORT), stores
the socket of a binding a reload adds and removes (FDSTOREREMOVE=1) the one
of a binding a reload drops. A second waspd started with the stored
sockets (LISTEN_FDS, LISTEN_FDNAMES, as systemd passes them back on a
restart) takes them for their bindings, stores nothing again, closes and removes
(FDSTOREREMOVE=1) a stored socket no binding wants, and serves.

A client loop runs across the stop of the first waspd and the start of the
second: the socket never closes (the store holds it), so no connection is
refused. The first waspd's listener stops accepting and hands over what it
holds before its workers drain, so no request fails either: the clients
wait in the backlog for the second."""
import errno
import socket
import threading
import time

import notifytest
import wasptest
from wasptest import check, wait_until


def name(port):
    return "wasp-http-127.0.0.1-%d" % port


def fd_port(fd):
    s = socket.socket(fileno=socket.dup(fd))
    try:
        return s.getsockname()[1], s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    finally:
        s.close()


def test(t):
    ns = notifytest.NotifySocket(t.dir)
    srv = t.server(pools={"A": {}}, env={"NOTIFY_SOCKET": ns.path}).start()
    port = srv.port
    wait_until(lambda: ns.seen("FDNAME", name(port)), what="FDSTORE of the socket")
    stored = ns.seen("FDNAME", name(port))
    check(len(stored) == 1 and stored[0].fields.get("FDSTORE") == "1" and
          len(stored[0].fds) == 1, "one FDSTORE=1 with one fd: %r" % stored)
    check(fd_port(stored[0].fds[0]) == (port, 1), "the stored fd listens on the port")
    fd = stored[0].fds[0]

    # A reload adding a binding stores its socket; one dropping it removes it.
    with open(srv.config_path) as f:
        good = f.read()
    port2 = wasptest.free_port()
    extra = '<binding protocol="http" bindingInformation="127.0.0.1:%d:" />' % port2
    wasptest.replace_file(srv.config_path, good.replace("</bindings>", extra + "</bindings>", 1))
    srv.waspctl("reload")
    wait_until(lambda: ns.seen("FDNAME", name(port2)), what="FDSTORE of the new socket")
    wasptest.replace_file(srv.config_path, good)
    srv.waspctl("reload")
    wait_until(lambda: ns.seen("FDSTOREREMOVE", "1"), what="FDSTOREREMOVE")
    removed = ns.seen("FDSTOREREMOVE", "1")
    check([m.fields["FDNAME"] for m in removed] == [name(port2)], "removed %r" % removed)
    check(len(ns.seen("FDNAME", name(port))) == 1, "the kept socket is not stored again")

    # The restart: stop the first waspd while clients connect, start the
    # second with the stored socket.
    refused, results = [], []
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            t0 = time.monotonic()
            try:
                r = wasptest.http_request(port, "/index.html", host=srv.host("A"), timeout=30)
                results.append((t0, r.status))
            except OSError as e:
                if e.errno == errno.ECONNREFUSED:
                    refused.append(t0)
                results.append((t0, repr(e)))

    # A slow request in flight keeps the first waspd's worker draining a
    # while: it completes, and no new request meets the draining pool.
    slow = []
    ths = threading.Thread(target=lambda: slow.append(
        srv.get("/__wasp_test/sleep?ms=1500", pool="A", timeout=30)), daemon=True)
    ths.start()
    wait_until(lambda: any(w["busy"] > 0 for w in srv.workers("A")), what="slow request running")
    threads = [threading.Thread(target=loop, daemon=True) for _ in range(3)]
    for th in threads:
        th.start()
    wait_until(lambda: len(results) >= 10, what="requests before the stop")
    check(srv.stop() == 0, "first waspd exit status")
    # With it, a stored socket no binding of the configuration wants: it is
    # closed and removed from the store.
    stale = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stale.bind(("127.0.0.1", 0))
    stale.listen(8)
    port3 = stale.getsockname()[1]
    env = {"NOTIFY_SOCKET": ns.path}
    fds = [fd, stale.fileno()]
    srv2 = t.server(pools={"A": {}}, sites=srv.sites, env=env, pass_fds=fds,
                    wrapper=notifytest.wrapper(fds, [name(port), name(port3)], env))
    srv2.port = port
    n_stored = len(ns.seen("FDSTORE", "1"))
    n_removed = len(ns.seen("FDSTOREREMOVE", "1"))
    srv2.start()
    t_ready = time.monotonic()
    stale.close()
    wait_until(lambda: len([r for r in results if r[0] > t_ready]) >= 10,
               what="requests after the second waspd started")
    stop.set()
    for th in threads:
        th.join(40)
    ths.join(30)
    check(slow and slow[0].status == 200, "the slow request in flight: %r" % slow)
    check(not refused, "%d connection(s) refused" % len(refused))
    failed = [r for r in results if r[1] != 200]
    check(not failed, "%d of %d request(s) failed: %r" % (len(failed), len(results), failed[:5]))
    srv2.wait_log("stored socket: using fd 3 for 127.0.0.1:%d" % port)
    check(len(ns.seen("FDSTORE", "1")) == n_stored, "the passed socket is not stored again")
    removed = ns.seen("FDSTOREREMOVE", "1")[n_removed:]
    check([m.fields["FDNAME"] for m in removed] == [name(port3)],
          "the unwanted stored socket removed: %r" % removed)
    srv2.wait_log("passed fd 4 (%s) matches no binding of the configuration, closing it"
                  % name(port3))
    r = srv2.get(pool="A")
    check(r.status == 200 and r.pid in srv2.worker_processes(), "served by the second: %r" % r)
    ns.close()


wasptest.main(test)
