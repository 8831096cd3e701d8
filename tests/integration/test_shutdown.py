"""SIGTERM: waspd drains its workers and the listener and exits 0; no
process of the group is left."""
import wasptest
from wasptest import check, wait_until


def test(t):
    srv = t.server(pools={"A": {}, "B": {"startMode": "AlwaysRunning"}}).start()
    check(srv.get(pool="A").status == 200, "A")
    wait_until(lambda: len(srv.worker_processes()) == 2, what="two workers")
    pgid = srv.pgid
    rc = srv.stop()
    check(rc == 0, "waspd exit status %r" % rc)
    left = [p for p in wasptest._pids() if _pgrp(p) == pgid]
    check(not left, "processes left after shutdown: %r" % left)


def _pgrp(pid):
    try:
        st = wasptest._proc_stat(pid)
    except OSError:
        return None
    return None if st["state"] == "Z" else st["pgrp"]


wasptest.main(test)
