"""A worker that stops answering pings is killed and replaced after
pingInterval + pingResponseTime."""
import threading
import time
import wasptest
from wasptest import check, wait_until, pid_alive


def test(t):
    srv = t.server(pools={
        "A": {"processModel": {"pingingEnabled": True, "pingInterval": "00:00:01",
                               "pingResponseTime": "00:00:01"}},
    }).start()
    r = srv.get(pool="A")
    check(r.status == 200, "first %r" % r)
    old = r.pid
    # The hang request itself never completes; send it from a thread.
    threading.Thread(target=lambda: _try(srv), daemon=True).start()
    t0 = time.monotonic()
    wait_until(lambda: not pid_alive(old), timeout=15, what="hung worker killed")
    elapsed = time.monotonic() - t0
    check(elapsed >= 0.5, "killed after %.2fs: before any ping could time out" % elapsed)
    srv.wait_log("ping")
    r2 = srv.get(pool="A")
    check(r2.status == 200 and r2.pid != old, "after hang %r" % r2)


def _try(srv):
    try:
        srv.get("/__wasp_test/hang", pool="A", timeout=30)
    except Exception:  # noqa: BLE001 - the connection dies with the worker
        pass


wasptest.main(test)
