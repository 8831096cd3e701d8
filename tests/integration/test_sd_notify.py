"""systemd integration: READY=1 once serving, WATCHDOG=1 at half of
WATCHDOG_USEC from the event loop, STOPPING=1 on SIGTERM; only waspd
itself talks to the notify socket (children do not inherit it)."""
import signal

import notifytest
import wasptest
from wasptest import check, wait_until


def test(t):
    ns = notifytest.NotifySocket(t.dir)
    srv = t.server(pools={"A": {"startMode": "AlwaysRunning"}},
                   env={"NOTIFY_SOCKET": ns.path, "WATCHDOG_USEC": "400000"}).start()
    wait_until(lambda: ns.seen("READY", "1"), what="READY=1")
    wait_until(lambda: len(ns.seen("WATCHDOG", "1")) >= 3, what="three WATCHDOG=1 pings")
    check(srv.get(pool="A").status == 200, "serving")
    srv.proc.send_signal(signal.SIGTERM)
    wait_until(lambda: ns.seen("STOPPING", "1"), what="STOPPING=1")
    check(srv.proc.wait(30) == 0, "exit status")
    senders = {m.pid for m in ns.drain()}
    check(senders == {srv.proc.pid}, "notify messages from %r, waspd is %d"
          % (senders, srv.proc.pid))
    ns.close()


wasptest.main(test)
