"""periodicRestart requests=N: a worker is recycled (overlapped) once it has
served N requests (as its once-a-second stats report them); no request
fails while that happens."""
import time
import wasptest
from wasptest import check, wait_until, TIME_SCALE

LIMIT = 20


def test(t):
    srv = t.server(pools={"A": {"recycling": {"periodicRestart": {"requests": LIMIT}}}}).start()
    pids = []
    counts = {}
    n = 0
    deadline = time.monotonic() + 30 * TIME_SCALE
    while len(pids) < 3:
        check(time.monotonic() < deadline,
              "after %d requests only workers %r served: no requests-based recycle" % (n, pids))
        r = srv.get(pool="A")
        n += 1
        check(r.status == 200, "request %d: %r" % (n, r))
        counts[r.pid] = counts.get(r.pid, 0) + 1
        if not pids or pids[-1] != r.pid:
            pids.append(r.pid)
    # Every worker but the current one served at least the limit.
    for pid in pids[:-1]:
        check(counts[pid] >= LIMIT, "worker %d recycled after %d requests (< %d)"
              % (pid, counts[pid], LIMIT))
    wait_until(lambda: len(srv.worker_processes()) == 1, what="one worker left")
    check(srv.pools()["A"]["recycles"] >= 2, "recycles %r" % srv.pools()["A"])
    srv.wait_log("periodicRestart requests")


wasptest.main(test)
