"""idleTimeout: a worker with no connections and no requests for that long is
stopped; the next request starts a new one."""
import time
import wasptest
from wasptest import check, wait_until, pid_alive


def test(t):
    srv = t.server(pools={
        "A": {"processModel": {"idleTimeout": "00:00:02"}},
        "B": {},  # default idleTimeout (20 min): must stay
    }).start()
    ra = srv.get(pool="A")
    rb = srv.get(pool="B")
    check(ra.status == 200 and rb.status == 200, "%r %r" % (ra, rb))
    t0 = time.monotonic()
    # A keep-alive connection holds the worker: not idle while it is open.
    with srv.keepalive(pool="A") as ka:
        check(ka.get("/index.html").status == 200, "keep-alive request")
        wait_until(lambda: time.monotonic() - t0 > 3.0, timeout=5, what="3 s")
        check(pid_alive(ra.pid), "worker stopped while a connection was open")
    t1 = time.monotonic()
    wait_until(lambda: not pid_alive(ra.pid), timeout=15,
               what="idle worker %d to exit" % ra.pid)
    check(time.monotonic() - t1 >= 1.0, "stopped before idleTimeout")
    wait_until(lambda: srv.worker_pids("A") == [], what="waspd to forget A's worker")
    check(pid_alive(rb.pid), "B's worker stopped too")
    srv.wait_log("idle")
    r = srv.get(pool="A")
    check(r.status == 200 and r.pid != ra.pid, "after idle stop %r" % r)


wasptest.main(test)
