"""startupTimeLimit: a worker that never reports ready is killed, the
waiting request gets 503, the failure is counted; other pools serve on."""
import time
import wasptest
from wasptest import check, wait_until, pid_alive


def test(t):
    srv = t.server(pools={
        "A": {"processModel": {"startupTimeLimit": "00:00:02"}},
        "B": {},
    }, env={"WASP_TEST_HANG_STARTUP": "A"}).start()
    t0 = time.monotonic()
    r = srv.get(pool="A", timeout=30)
    elapsed = time.monotonic() - t0
    check(r.status == 503, "request to a never-ready pool: %r" % r)
    check(elapsed >= 1.5, "503 after %.2fs, before startupTimeLimit" % elapsed)
    srv.wait_log("startupTimeLimit")
    wait_until(lambda: not [p for p in srv.worker_processes()
                            if p not in srv.worker_pids("B")],
               what="the never-ready worker killed")
    a = srv.pools()["A"]
    check(a.get("failures", 0) >= 1, "failure not counted: %r" % a)
    rb = srv.get(pool="B")
    check(rb.status == 200 and rb.pool == "B", "pool B %r" % rb)


wasptest.main(test)
