"""startMode=AlwaysRunning (autoStart) starts a worker with no request;
autoStart=false leaves an OnDemand pool stopped until started."""
import os
import signal
import wasptest
from wasptest import check, wait_until


def test(t):
    srv = t.server(pools={
        "A": {"startMode": "AlwaysRunning"},
        "B": {"startMode": "OnDemand", "autoStart": False},
    }).start()
    pids = wait_until(lambda: srv.worker_pids("A", state="Ready"),
                      what="an AlwaysRunning worker for A")
    check(len(pids) == 1, "A workers %r" % pids)
    check(srv.worker_processes() == pids, "processes %r" % srv.worker_processes())
    r = srv.get(pool="A")
    check(r.status == 200 and r.pid == pids[0], "A request %r" % r)
    # A crashed AlwaysRunning worker is replaced at once, without a request.
    os.kill(pids[0], signal.SIGKILL)
    wait_until(lambda: [p for p in srv.worker_pids("A", state="Ready") if p != pids[0]],
               what="a replacement for the killed AlwaysRunning worker")

    check(srv.pool_state("B") == "Stopped", "B state %r" % srv.pool_state("B"))
    r = srv.get(pool="B")
    check(r.status == 503, "B (not auto-started) answered %r" % r)
    srv.waspctl("start", "apppool", "B")
    wait_until(lambda: srv.pool_state("B") == "Started", what="B started")
    r = srv.get(pool="B")
    check(r.status == 200 and r.pool == "B", "B after start %r" % r)


wasptest.main(test)
