"""maxProcesses > 1 (web garden): while every worker holds connections the
pool grows, up to maxProcesses and no further; requests are spread over the
workers."""
import wasptest
from wasptest import check, wait_until


def test(t):
    srv = t.server(pools={"A": {"processModel": {"maxProcesses": 2}}}).start()
    kas = []
    try:
        ka = srv.keepalive(pool="A")
        kas.append(ka)
        r1 = ka.get("/index.html")
        check(r1.status == 200, "first %r" % r1)
        # The first worker holds a connection: a second one starts.
        pids = wait_until(lambda: len(srv.worker_pids("A", state="Ready")) == 2
                          and srv.worker_pids("A", state="Ready"),
                          timeout=15, what="a second worker")
        # Hold a connection on each; the garden must not grow past 2.
        seen = {r1.pid}
        for _ in range(8):
            ka = srv.keepalive(pool="A")
            kas.append(ka)
            r = ka.get("/index.html")
            check(r.status == 200, "request %r" % r)
            seen.add(r.pid)
        check(seen == set(pids), "served by %r, workers %r" % (seen, pids))
        wait_until(lambda: all(w["connections"] > 0 for w in srv.workers("A")),
                   what="stats showing both workers busy")
        # Two more stats periods with every worker busy: still two.
        wasptest.stays(lambda: len(srv.worker_processes()) == 2, 2.5,
                       what="two workers (maxProcesses)")
        check(len(srv.workers("A")) == 2, "waspctl: %r" % srv.workers("A"))
    finally:
        for ka in kas:
            ka.close()


wasptest.main(test)
