"""periodicRestart time: a worker is recycled (overlapped) that long after it
started, and keeps being recycled; requests keep being answered."""
import wasptest
from wasptest import check, wait_until, pid_alive


def test(t):
    srv = t.server(pools={"A": {"recycling": {"periodicRestart": {"time": "00:00:02"}}}}).start()
    r = srv.get(pool="A")
    check(r.status == 200, "first %r" % r)
    first = r.pid
    second = wait_until(lambda: [p for p in srv.worker_pids("A", state="Ready") if p != first],
                        timeout=15, what="a replacement worker")[0]
    wait_until(lambda: not pid_alive(first), what="the recycled worker to exit")
    r = srv.get(pool="A")
    check(r.status == 200 and r.pid == second, "after recycle %r (expected pid %d)"
          % (r, second))
    srv.wait_log("periodicRestart time")
    wait_until(lambda: [p for p in srv.worker_pids("A", state="Ready") if p not in (first, second)],
               timeout=15, what="a second recycle")


wasptest.main(test)
