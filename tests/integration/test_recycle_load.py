"""Recycle under load: a client loop of a few thousand requests while the
pool is recycled several times: zero failed requests."""
import os
import wasptest
from wasptest import check, wait_until, log

TOTAL = 3000
RECYCLES = 5


def test(t):
    srv = t.server(pools={"A": {}}).start()
    check(srv.get(pool="A").status == 200, "warm-up")
    fds_before = len(os.listdir("/proc/%d/fd" % srv.proc.pid))
    load = wasptest.Load(srv, pool="A", threads=4, max_requests=TOTAL).start()
    seen = set(srv.worker_pids("A"))
    try:
        for i in range(RECYCLES):
            before = srv.worker_pids("A", state="Ready")
            srv.waspctl("recycle", "apppool", "A")
            # Recycle done: a new ready worker and the old ones gone.
            wait_until(lambda: (set(srv.worker_pids("A", state="Ready")) - set(before))
                       and not set(srv.worker_processes()) & set(before),
                       timeout=20, what="recycle %d to finish" % (i + 1))
            seen |= set(srv.worker_pids("A"))
            at = load.count()
            log("recycle %d done at %d requests" % (i + 1, at))
        check(at < TOTAL, "the load ended before the last recycle: the test proves nothing")
        wait_until(load.done, timeout=120, what="%d requests" % TOTAL)
    finally:
        load.stop()
    check(not load.failures, "%d failed requests, first: %r"
          % (len(load.failures), load.failures[:5]))
    check(load.ok >= TOTAL, "only %d requests" % load.ok)
    check(len(seen) >= RECYCLES + 1, "workers seen %r" % seen)
    check(len(load.pids) >= 2, "responses came from %r" % load.pids)
    # waspd holds no descriptor of the workers that went away.
    wait_until(lambda: len(srv.worker_processes()) == 1, what="one worker left")
    fds_after = len(os.listdir("/proc/%d/fd" % srv.proc.pid))
    check(fds_after <= fds_before, "waspd leaks descriptors: %d before, %d after %d recycles"
          % (fds_before, fds_after, RECYCLES))


wasptest.main(test)
