"""shutdownTimeLimit: a draining worker that does not finish in time is
killed; the replacement serves on."""
import threading
import time
import wasptest
from wasptest import check, wait_until, pid_alive


def test(t):
    srv = t.server(pools={"A": {"processModel": {"shutdownTimeLimit": "00:00:01"}}}).start()
    r = srv.get(pool="A")
    check(r.status == 200, "first %r" % r)
    old = r.pid

    def slow():
        try:
            srv.get("/__wasp_test/sleep?ms=20000", pool="A", timeout=30)
        except Exception:  # noqa: BLE001 - the worker is killed under it
            pass
    threading.Thread(target=slow, daemon=True).start()
    wait_until(lambda: any(w["busy"] > 0 for w in srv.workers("A")), what="slow request running")
    srv.waspctl("recycle", "apppool", "A")
    t0 = time.monotonic()
    wait_until(lambda: not pid_alive(old), timeout=10, what="the draining worker killed")
    elapsed = time.monotonic() - t0
    check(elapsed >= 0.8, "killed after %.2fs, before shutdownTimeLimit" % elapsed)
    srv.wait_log("shutdownTimeLimit")
    r = srv.get(pool="A")
    check(r.status == 200 and r.pid != old, "after %r" % r)
    a = srv.pools()["A"]
    check(a["failures"] == 0, "a drain timeout is not a failure: %r" % a)


wasptest.main(test)
