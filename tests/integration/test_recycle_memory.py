"""periodicRestart privateMemory / memory (KB, from the worker's stats and
/proc): a worker over the limit is recycled, overlapped; requests keep
being answered by a ready worker."""
import wasptest
from wasptest import check, wait_until


def test(t):
    srv = t.server(pools={
        "P": {"recycling": {"periodicRestart": {"privateMemory": 1}}},
        "V": {"recycling": {"periodicRestart": {"memory": 1}}},
        "N": {},
    }).start()
    for name, what in (("P", "periodicRestart privateMemory"),
                       ("V", "periodicRestart memory")):
        r = srv.get(pool=name)
        check(r.status == 200, "%s: %r" % (name, r))
        first = r.pid
        wait_until(lambda: [p for p in srv.worker_pids(name, state="Ready") if p != first],
                   timeout=15, what="pool %s: a replacement over the memory limit" % name)
        srv.wait_log(what)
        r = srv.get(pool=name)
        check(r.status == 200 and r.pool == name, "%s after recycle: %r" % (name, r))
    r = srv.get(pool="N")
    check(r.status == 200, "N: %r" % r)
    n_first = r.pid
    # N has no limits: its worker stays put while the others recycle.
    wasptest.stays(lambda: srv.worker_pids("N") == [n_first], 2.5, what="N's worker unchanged")


wasptest.main(test)
