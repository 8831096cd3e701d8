"""systemd socket activation: waspd adopts the listening socket it is given
(LISTEN_FDS) instead of binding its own, and serves on it; it does not put
it in the file descriptor store (the socket unit keeps it already)."""
import shutil
import socket

import notifytest
import wasptest
from wasptest import check, skip


def test(t):
    tool = shutil.which("systemd-socket-activate")
    if not tool:
        skip("systemd-socket-activate is not installed")
    ns = notifytest.NotifySocket(t.dir)
    srv = t.server(pools={"A": {}}, wrapper=[tool, "-l", "127.0.0.1:{port}", "-E", "NOTIFY_SOCKET"],
                   env={"NOTIFY_SOCKET": ns.path})
    # systemd-socket-activate binds, then execs waspd on the first connection.
    srv.start(wait=False)
    wasptest.wait_until(lambda: socket.create_connection(("127.0.0.1", srv.port), timeout=1),
                        what="the socket to accept")
    srv.wait_ready()
    srv.wait_log("socket activation: using fd 3")
    r = srv.get(pool="A")
    check(r.status == 200 and r.pool == "A", "%r" % r)
    wasptest.wait_until(lambda: ns.seen("READY", "1"), what="READY=1")
    check(not ns.seen("FDSTORE"), "stored: %r" % ns.seen("FDSTORE"))
    ns.close()


wasptest.main(test)
