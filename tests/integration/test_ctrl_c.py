"""Ctrl-C in a terminal (SIGINT to the whole process group): waspd drains
everything gracefully and exits 0; no worker is seen to crash."""
import os
import signal
import wasptest
from wasptest import check, wait_until


def test(t):
    srv = t.server(pools={"A": {}, "B": {"startMode": "AlwaysRunning"}}).start()
    check(srv.get(pool="A").status == 200, "A")
    wait_until(lambda: len(srv.worker_processes()) == 2, what="two workers")
    os.killpg(srv.pgid, signal.SIGINT)
    rc = srv.proc.wait(30)
    check(rc == 0, "waspd exit status %r" % rc)
    log = srv.read_log()
    check("crashed" not in log, "a worker crashed on Ctrl-C:\n" + log[-3000:])
    check("draining worker" in log, "no graceful drain")
    check(srv.group_pids() == [], "left running: %r" % srv.group_pids())


wasptest.main(test)
