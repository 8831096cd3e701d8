"""periodicRestart requests=N: the worker is recycled (overlapped) after
about N requests; no request fails."""
import wasptest
from wasptest import check, wait_until


def test(t):
    srv = t.server(pools={"A": {"recycling": {"periodicRestart": {"requests": 20}}}}).start()
    pids = []
    for i in range(120):
        r = srv.get(pool="A")
        check(r.status == 200, "request %d: %r" % (i, r))
        if not pids or pids[-1] != r.pid:
            pids.append(r.pid)
    check(len(pids) >= 3, "served by %r: no requests-based recycle" % pids)
    wait_until(lambda: len(srv.worker_processes()) == 1, what="one worker left")
    srv.wait_log("recycl")


wasptest.main(test)
