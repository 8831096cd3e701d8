"""Recycle under load: a client loop (new connection per request, 4
threads) runs while the pool is recycled several times, and on until a few
thousand requests were made: zero failed requests. waspd's descriptor count
does not grow."""
import os
import wasptest
from wasptest import check, wait_until, log

TOTAL = 3000
RECYCLES = 5


def test(t):
    srv = t.server(pools={"A": {}}).start()
    check(srv.get(pool="A").status == 200, "warm-up")
    fds_before = len(os.listdir("/proc/%d/fd" % srv.proc.pid))
    load = wasptest.Load(srv, pool="A", threads=4).start()
    seen = set(srv.worker_pids("A"))
    try:
        wait_until(lambda: load.count() >= 50, what="the load to get going")
        for i in range(RECYCLES):
            before = srv.worker_pids("A", state="Ready")
            srv.waspctl("recycle", "apppool", "A")
            # Recycle done: a new ready worker and the old ones gone.
            wait_until(lambda: (set(srv.worker_pids("A", state="Ready")) - set(before))
                       and not set(srv.worker_processes()) & set(before),
                       timeout=20, what="recycle %d to finish" % (i + 1))
            seen |= set(srv.worker_pids("A"))
            log("recycle %d done at %d requests" % (i + 1, load.count()))
        # A little more load on the last worker, up to the total.
        at = load.count()
        wait_until(lambda: load.count() >= max(TOTAL, at + 100), timeout=120,
                   what="%d requests" % TOTAL)
    finally:
        load.stop()
    check(not load.failures, "%d failed requests of %d, first: %r"
          % (len(load.failures), load.count(), load.failures[:5]))
    check(load.ok >= TOTAL, "only %d requests" % load.ok)
    check(len(seen) >= RECYCLES + 1, "workers seen %r" % seen)
    check(len(load.pids) >= 2, "responses came from %r" % load.pids)
    wait_until(lambda: len(srv.worker_processes()) == 1, what="one worker left")
    fds_after = len(os.listdir("/proc/%d/fd" % srv.proc.pid))
    check(fds_after <= fds_before, "waspd leaks descriptors: %d before, %d after %d recycles"
          % (fds_before, fds_after, RECYCLES))


wasptest.main(test)
