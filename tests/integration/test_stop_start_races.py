"""Operator verbs at awkward moments: stopping a pool while its worker is
still starting (the worker is killed, not counted as a failure), and
starting a pool again while its worker is still draining (a new worker
serves while the old one finishes its request)."""
import threading
import wasptest
from wasptest import check, wait_until, pid_alive


def test(t):
    srv = t.server(pools={"A": {}, "H": {"processModel": {"startupTimeLimit": "00:01:00"}}},
                   env={"WASP_TEST_HANG_STARTUP": "H"}).start()

    # 1. H's worker never gets ready; stop the pool while it starts.
    threading.Thread(target=lambda: _try(srv, "H", "/index.html"), daemon=True).start()
    starting = wait_until(lambda: srv.worker_pids("H", state="Starting"),
                          what="H's worker starting")[0]
    srv.waspctl("stop", "apppool", "H")
    wait_until(lambda: not pid_alive(starting), what="the starting worker killed")
    wait_until(lambda: srv.pool_state("H") == "Stopped", what="H stopped")
    check(srv.pools()["H"]["failures"] == 0, "stopping counted as a failure: %r"
          % srv.pools()["H"])

    # 2. A: stop while a request runs (Stopping), start again at once.
    r = srv.get(pool="A")
    old = r.pid
    result = {}
    th = threading.Thread(target=lambda: result.setdefault(
        "r", _try(srv, "A", "/__wasp_test/sleep?ms=2000")))
    th.start()
    wait_until(lambda: any(w["busy"] > 0 for w in srv.workers("A")), what="slow request")
    srv.waspctl("stop", "apppool", "A")
    check(srv.pool_state("A") == "Stopping", "state %r" % srv.pool_state("A"))
    srv.waspctl("start", "apppool", "A")
    check(srv.pool_state("A") == "Started", "state %r" % srv.pool_state("A"))
    r2 = srv.get(pool="A")
    check(r2.status == 200 and r2.pid != old, "after restart %r" % r2)
    th.join(30)
    check(result.get("r") is not None and result["r"].status == 200,
          "the draining worker's request: %r" % result.get("r"))
    wait_until(lambda: not pid_alive(old), what="the old worker to finish and exit")
    wait_until(lambda: srv.worker_pids("A") == [r2.pid],
               what="waspd to list only the new worker %d" % r2.pid)


def _try(srv, pool, path):
    try:
        return srv.get(path, pool=pool, timeout=30)
    except Exception:  # noqa: BLE001
        return None


wasptest.main(test)
