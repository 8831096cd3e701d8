"""Rapid-fail protection: rapidFailProtectionMaxCrashes crashes within the
interval stop the pool (503) while the other pool still answers 200, until
`waspctl start apppool`."""
import os
import signal
import wasptest
from wasptest import check, wait_until, pid_alive

CRASHES = 3


def test(t):
    srv = t.server(pools={
        "A": {"failure": {"rapidFailProtection": True,
                          "rapidFailProtectionInterval": "00:05:00",
                          "rapidFailProtectionMaxCrashes": CRASHES}},
        "B": {},
    }).start()
    for i in range(CRASHES):
        check(srv.pool_state("A") == "Started", "A stopped early, after %d" % i)
        r = srv.get(pool="A")
        check(r.status == 200, "crash %d: request %r" % (i, r))
        os.kill(r.pid, signal.SIGKILL)
        wait_until(lambda: not pid_alive(r.pid), what="worker reaped")
        wait_until(lambda: r.pid not in srv.worker_pids(), what="worker forgotten")
    wait_until(lambda: srv.pool_state("A") == "Stopped", what="A stopped by rapid-fail")
    srv.wait_log("rapid")
    r = srv.get(pool="A")
    check(r.status == 503, "stopped pool answered %r" % r)
    check(srv.worker_pids("A") == [], "stopped pool has workers")
    rb = srv.get(pool="B")
    check(rb.status == 200 and rb.pool == "B", "pool B %r" % rb)
    check(srv.pools()["A"]["stopReason"] == "rapidFailProtection", "%r" % srv.pools()["A"])
    table = srv.waspctl("list", "apppool", json_output=False)
    check('APPPOOL "A" (MgdVersion:v4.0,MgdMode:Integrated,state:Stopped,'
          'stopReason:rapidFailProtection)' in table, "table:\n" + table)

    srv.waspctl("start", "apppool", "A")
    wait_until(lambda: srv.pool_state("A") == "Started", what="A started again")
    r = srv.get(pool="A")
    check(r.status == 200 and r.pool == "A", "after start %r" % r)


wasptest.main(test)
