"""periodicRestart schedule: at a configured time of day (local time) every
worker of the pool is recycled."""
import time
import wasptest
from wasptest import check, wait_until, pid_alive, skip


def test(t):
    at = time.time() + 5
    lt = time.localtime(at)
    if lt.tm_hour == 0 and lt.tm_min == 0 and lt.tm_sec < 10:
        skip("too close to midnight")
    value = "%02d:%02d:%02d" % (lt.tm_hour, lt.tm_min, lt.tm_sec)
    srv = t.server(pools={"A": {"recycling": {"periodicRestart": {
        "schedule": [{"value": value}]}}}}).start()
    r = srv.get(pool="A")
    check(r.status == 200, "first %r" % r)
    if time.time() > at - 1.5:
        skip("waspd took too long to start to test a schedule %s ahead" % value)
    wait_until(lambda: not pid_alive(r.pid), timeout=15, what="scheduled recycle at %s" % value)
    check(time.time() >= at - 1.0, "recycled before the scheduled time %s" % value)
    srv.wait_log("periodicRestart schedule")
    r2 = srv.get(pool="A")
    check(r2.status == 200 and r2.pid != r.pid, "after recycle %r" % r2)


wasptest.main(test)
