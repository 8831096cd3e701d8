"""On-demand start: no worker before the first request, exactly one after."""
import wasptest
from wasptest import check, wait_until


def test(t):
    srv = t.server(pools={"A": {"startMode": "OnDemand"}}).start()
    check(srv.worker_processes() == [], "worker running before any request: %r"
          % srv.worker_processes())
    check(srv.workers() == [], "waspctl lists workers before any request")
    check(srv.pool_state("A") == "Started", "pool A state %r" % srv.pool_state("A"))

    r = srv.get(pool="A")
    check(r.status == 200, "first request: %r" % r)
    check(r.body == b"pool A\n", "body %r" % r.body)
    check(r.pool == "A", "X-Wasp-Pool %r" % r.pool)

    procs = srv.worker_processes()
    check(len(procs) == 1, "worker processes after the first request: %r" % procs)
    check(r.pid == procs[0], "served by pid %r, worker is %r" % (r.pid, procs))
    wps = wait_until(lambda: srv.workers("A"), what="waspctl list wp")
    check([w["pid"] for w in wps] == procs, "waspctl wp %r vs /proc %r" % (wps, procs))
    check(wps[0]["state"] in ("Ready", "Running"), "worker state %r" % wps[0]["state"])

    # A second request goes to the same worker; no second process appears.
    r2 = srv.get(pool="A")
    check(r2.status == 200 and r2.pid == r.pid, "second request: %r" % r2)
    check(srv.worker_processes() == procs, "a second worker appeared")


wasptest.main(test)
