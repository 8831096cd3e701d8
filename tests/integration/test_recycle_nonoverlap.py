"""disallowOverlappingRotation: on recycle the old worker stops before a new
one starts (never two at once); for an OnDemand pool the next request
starts the new one."""
import threading
import wasptest
from wasptest import check, wait_until, pid_alive


def test(t):
    srv = t.server(pools={"A": {"recycling": {"disallowOverlappingRotation": True}}}).start()
    r = srv.get(pool="A")
    check(r.status == 200, "first %r" % r)
    old = r.pid
    most = [0]
    done = threading.Event()

    def watch():
        while not done.is_set():
            most[0] = max(most[0], len(srv.worker_processes()))
            done.wait(0.005)
    th = threading.Thread(target=watch, daemon=True)
    th.start()
    try:
        srv.waspctl("recycle", "apppool", "A")
        wait_until(lambda: not pid_alive(old), what="the old worker to exit")
        # Once waspd reaped it, no worker at all: the new one waits for a request.
        wait_until(lambda: srv.worker_pids("A") == [], what="no worker listed")
        wasptest.stays(lambda: srv.worker_pids("A") == [], 0.5,
                       what="no worker before a request")
        r = srv.get(pool="A")
        check(r.status == 200 and r.pid != old, "after recycle %r" % r)
    finally:
        done.set()
        th.join()
    check(most[0] <= 1, "saw %d workers at once" % most[0])
    check(srv.pools()["A"]["recycles"] == 1, "recycles %r" % srv.pools()["A"])


wasptest.main(test)
