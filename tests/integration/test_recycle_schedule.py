"""periodicRestart schedule: at a configured time of day (local time) every
worker of the pool is recycled, once. The schedule is armed again by a
reload shortly before the time; a reload of 2,000 sites takes long enough
that libevent's timer (counted from when the loop woke up) would fire
early: it used to recycle before the time, and to arm the timer again for
the same time and recycle the replacement too."""
import time
import wasptest
from wasptest import check, wait_until, pid_alive, skip

N_SITES = 2000


def test(t):
    at = time.time() + 6
    lt = time.localtime(at)
    if lt.tm_hour == 0 and lt.tm_min == 0 and lt.tm_sec < 10:
        skip("too close to midnight")
    value = "%02d:%02d:%02d" % (lt.tm_hour, lt.tm_min, lt.tm_sec)
    pools = {"A": {"recycling": {"periodicRestart": {"schedule": [{"value": value}]}}},
             "B": {}}
    content = t.dir + "/content"
    sites = [{"name": "A", "id": 1, "bindings": ["127.0.0.1:{port}:a.test"],
              "apps": [{"path": "/", "pool": "A", "physicalPath": content + "/A"}]}]
    sites += [{"name": "S%d" % i, "id": 100 + i, "bindings": ["127.0.0.1:{port}:s%d.test" % i],
               "apps": [{"path": "/", "pool": "B", "physicalPath": content + "/B"}]}
              for i in range(N_SITES)]
    srv = t.server(pools=pools, sites=sites)
    srv.content_dir("A")
    srv.content_dir("B")
    srv.start()
    r = srv.get(pool="A")
    check(r.status == 200, "first %r" % r)
    if time.time() > at - 2.5:
        skip("waspd took too long to start to test a schedule %s ahead" % value)
    wait_until(lambda: time.time() >= at - 1.5, what="1.5 s before %s" % value)
    srv.waspctl("reload")
    if time.time() >= int(at) - 0.1:
        skip("the reload of %d sites ended too late to arm the schedule first" % N_SITES)
    check(pid_alive(r.pid), "recycled before the scheduled time %s" % value)
    wait_until(lambda: not pid_alive(r.pid), timeout=15, what="scheduled recycle at %s" % value)
    check(time.time() >= int(at), "recycled before the scheduled time %s" % value)
    srv.wait_log("periodicRestart schedule")
    r2 = srv.get(pool="A")
    check(r2.status == 200 and r2.pid != r.pid, "after recycle %r" % r2)
    # Once: the replacement is not recycled too.
    wasptest.stays(lambda: pid_alive(r2.pid) and srv.pools()["A"]["recycles"] == 1, 1.5,
                   what="one recycle, the replacement %d serving" % r2.pid)
    fired = [ln for ln in srv.read_log().splitlines()
             if "recycling worker" in ln and "periodicRestart schedule" in ln]
    check(len(fired) == 1, "the schedule fired %d times" % len(fired))


wasptest.main(test)
