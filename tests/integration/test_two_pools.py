"""Two pools are isolated: every response comes from its own pool's worker
(X-Wasp-Pool / X-Wasp-Pid test headers), with distinct processes, and as
root distinct identities."""
import os
import wasptest
from wasptest import check


def uid_of(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    return None


def test(t):
    srv = t.server(pools={"A": {}, "B": {}}).start()
    seen = {"A": set(), "B": set()}
    for i in range(40):
        name = "A" if i % 2 == 0 else "B"
        r = srv.get(pool=name)
        check(r.status == 200, "request %d to %s: %r" % (i, name, r))
        check(r.pool == name, "request for %s answered by pool %r" % (name, r.pool))
        check(r.body == ("pool %s\n" % name).encode(), "body %r" % r.body)
        seen[name].add(r.pid)
    check(len(seen["A"]) == 1 and len(seen["B"]) == 1, "pids %r" % seen)
    check(not (seen["A"] & seen["B"]), "pools share a process: %r" % seen)
    wps = {w["pid"]: w["pool"] for w in srv.workers()}
    for name, pids in seen.items():
        for pid in pids:
            check(wps.get(pid) == name, "waspctl says %r runs %r" % (pid, wps.get(pid)))

    # An unknown Host matches no binding: 400.
    r = srv.get(host="nosuch.test")
    check(r.status == 400, "unknown host answered %r" % r)

    if os.geteuid() == 0:
        ua, ub = uid_of(next(iter(seen["A"]))), uid_of(next(iter(seen["B"])))
        check(ua != 0 and ub != 0, "workers run as root: %r %r" % (ua, ub))
        check(ua != ub, "pools A and B share uid %r" % ua)
        for pid in srv.listener_pids():
            check(uid_of(pid) != 0, "the listener runs as root")


wasptest.main(test)
