"""kill -9 of a worker: the next request is served by a new worker."""
import os
import signal
import wasptest
from wasptest import check, wait_until, pid_alive


def test(t):
    srv = t.server(pools={"A": {}}).start()
    r = srv.get(pool="A")
    check(r.status == 200 and r.pid, "first %r" % r)
    os.kill(r.pid, signal.SIGKILL)
    wait_until(lambda: not pid_alive(r.pid), what="killed worker reaped")
    wait_until(lambda: r.pid not in srv.worker_pids("A"),
               what="waspd to forget the dead worker")
    r2 = srv.get(pool="A")
    check(r2.status == 200, "request after kill -9: %r" % r2)
    check(r2.pid != r.pid, "served by the dead pid?")
    check(srv.worker_processes() == [r2.pid], "processes %r" % srv.worker_processes())
    check(srv.pool_state("A") == "Started", "pool state %r" % srv.pool_state("A"))
    srv.wait_log("crash")


wasptest.main(test)
