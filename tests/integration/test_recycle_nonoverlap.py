"""disallowOverlappingRotation: on recycle the old worker stops before a new
one starts (never two at once), even while the old one still finishes a
slow request: an OnDemand pool starts the new one for a request that
arrived meanwhile only once the old one has exited, an AlwaysRunning pool
starts it as soon as the old one has exited; with no request, an OnDemand
pool has no worker until the next request."""
import threading
import wasptest
from wasptest import check, wait_until, pid_alive

SLOW = "/__wasp_test/sleep?ms=2500"


def watch_workers(srv):
    """Start a thread that records the most wasp-worker processes seen at
    once; returns (most, stop)."""
    most = [0]
    done = threading.Event()

    def watch():
        while not done.is_set():
            most[0] = max(most[0], len(srv.worker_processes()))
            done.wait(0.005)
    th = threading.Thread(target=watch, daemon=True)
    th.start()

    def stop():
        done.set()
        th.join()
        return most[0]
    return stop


def in_thread(fn):
    out = {}

    def run():
        try:
            out["r"] = fn()
        except Exception as e:  # noqa: BLE001 - reported by the caller
            out["e"] = e
    th = threading.Thread(target=run, daemon=True)
    th.start()

    def result():
        th.join(30)
        check(not th.is_alive(), "request still running")
        if "e" in out:
            raise out["e"]
        return out["r"]
    return result


def busy_worker(srv, pool):
    """Start a slow request and wait until its worker reports it busy."""
    slow = in_thread(lambda: srv.get(SLOW, pool=pool))
    wait_until(lambda: any(w["busy"] > 0 for w in srv.workers(pool)),
               what="the slow request in progress")
    return slow


def on_demand(t):
    srv = t.server(pools={"A": {"recycling": {"disallowOverlappingRotation": True}}}).start()
    r = srv.get(pool="A")
    check(r.status == 200, "first %r" % r)
    old = r.pid
    stop = watch_workers(srv)
    try:
        slow = busy_worker(srv, "A")
        srv.waspctl("recycle", "apppool", "A")
        # A request while the old worker drains waits for the new one,
        # which starts only once the old one has exited.
        nxt = in_thread(lambda: srv.get(pool="A"))
        r = slow()
        check(r.status == 200 and r.pid == old, "slow request %r" % r)
        r = nxt()
        check(r.status == 200 and r.pid != old, "request during the drain %r" % r)
        # Without a request, no worker until the next one.
        old = r.pid
        srv.waspctl("recycle", "apppool", "A")
        wait_until(lambda: not pid_alive(old), what="the old worker to exit")
        wait_until(lambda: srv.worker_pids("A") == [], what="no worker listed")
        wasptest.stays(lambda: srv.worker_pids("A") == [], 0.5,
                       what="no worker before a request")
        r = srv.get(pool="A")
        check(r.status == 200 and r.pid != old, "after recycle %r" % r)
    finally:
        most = stop()
    check(most <= 1, "OnDemand: saw %d workers at once" % most)
    check(srv.pools()["A"]["recycles"] == 2, "recycles %r" % srv.pools()["A"])


def always_running(t):
    srv = t.server(pools={"B": {"startMode": "AlwaysRunning",
                                "recycling": {"disallowOverlappingRotation": True}}}).start()
    old = wait_until(lambda: srv.worker_pids("B", state="Ready"), what="B's worker")[0]
    stop = watch_workers(srv)
    try:
        slow = busy_worker(srv, "B")
        srv.waspctl("recycle", "apppool", "B")
        r = slow()
        check(r.status == 200 and r.pid == old, "slow request %r" % r)
        new = wait_until(lambda: [p for p in srv.worker_pids("B", state="Ready") if p != old],
                         what="B's new worker")
        check(not pid_alive(old), "old worker %d still alive" % old)
        r = srv.get(pool="B")
        check(r.status == 200 and r.pid == new[0], "after recycle %r" % r)
    finally:
        most = stop()
    check(most <= 1, "AlwaysRunning: saw %d workers at once" % most)


def test(t):
    on_demand(t)
    always_running(t)


wasptest.main(test)
