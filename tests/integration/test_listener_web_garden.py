"""maxProcesses > 1 (web garden): requests make the listener ask for more
workers up to maxProcesses, and new connections are spread over them
(least busy first), each answered by a worker of the right pool."""
import wasptest
from wasptest import check, wait_until


def test(t):
    srv = t.server(pools={"A": {"processModel": {"maxProcesses": 3}}, "B": {}}).start()
    pids = set()

    def three_workers():
        r = srv.get(pool="A")
        check(r.status == 200 and r.pool == "A", "pool A %r" % r)
        pids.add(r.pid)
        return len(srv.worker_pids("A")) >= 3
    wait_until(three_workers, 20, what="three workers for pool A")
    check(len(srv.worker_pids("A")) == 3, "more than maxProcesses: %r" % srv.worker_pids("A"))

    # Connections spread over the three (each on its own connection).
    seen = {}
    for _ in range(60):
        r = srv.get(pool="A")
        check(r.status == 200 and r.pool == "A", "pool A %r" % r)
        seen[r.pid] = seen.get(r.pid, 0) + 1
    check(set(seen) == set(srv.worker_pids("A")), "answered by %r, workers %r"
          % (seen, srv.worker_pids("A")))
    wasptest.log("spread over the workers: %r" % seen)
    check(min(seen.values()) >= 10, "uneven spread %r" % seen)
    r = srv.get(pool="B")
    check(r.status == 200 and r.pool == "B", "pool B %r" % r)
    check(len(srv.worker_pids("B")) == 1, "pool B workers %r" % srv.worker_pids("B"))


wasptest.main(test)
