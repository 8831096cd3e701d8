"""Overlapped recycling whose replacement never becomes ready: after its
startupTimeLimit the replacement is killed, the old worker keeps serving
throughout, and the failure is logged and counted.

waspd's test hook WASP_TEST_HANG_STARTUP_FROM=A:2 (--test-hooks only) makes
pool A's workers from the second one on never report ready."""
import time
import wasptest
from wasptest import check, wait_until


def test(t):
    srv = t.server(pools={"A": {"processModel": {"startupTimeLimit": "00:00:02"}}},
                   env={"WASP_TEST_HANG_STARTUP_FROM": "A:2"}).start()
    r = srv.get(pool="A")
    check(r.status == 200, "first %r" % r)
    old = r.pid
    srv.waspctl("recycle", "apppool", "A")
    wait_until(lambda: len(srv.worker_pids("A")) == 2, what="the replacement to start")
    # While the replacement hangs, and after it is killed, the old one serves.
    deadline = time.monotonic() + 15 * wasptest.TIME_SCALE
    while srv.pools()["A"]["recycleFailures"] < 1:
        check(time.monotonic() < deadline, "the failed recycle was never counted")
        r = srv.get(pool="A")
        check(r.status == 200 and r.pid == old, "during the failed recycle %r" % r)
    srv.wait_log("recycle of worker")
    a = srv.pools()["A"]
    check(a["failures"] >= 1, "failure not counted: %r" % a)
    check(a["state"] == "Started", "pool state %r" % a["state"])
    wait_until(lambda: srv.worker_pids("A") == [old], what="only the old worker left")
    for _ in range(10):
        r = srv.get(pool="A")
        check(r.status == 200 and r.pid == old, "after the failed recycle %r" % r)
    check(not srv.workers("A")[0]["recycling"], "old worker still marked recycling")


wasptest.main(test)
