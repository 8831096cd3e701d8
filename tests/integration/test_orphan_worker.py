"""orphanWorkerProcess: a hung worker is stopped with SIGSTOP and left alive
(its pid logged); a new worker takes over."""
import threading
import wasptest
from wasptest import check, wait_until, proc_state


def test(t):
    srv = t.server(pools={
        "A": {"processModel": {"pingInterval": "00:00:01", "pingResponseTime": "00:00:01"},
              "failure": {"orphanWorkerProcess": True}},
    }).start()
    r = srv.get(pool="A")
    check(r.status == 200, "first %r" % r)
    old = r.pid
    threading.Thread(target=lambda: _try(srv), daemon=True).start()
    wait_until(lambda: proc_state(old) == "T", timeout=15, what="hung worker SIGSTOPped")
    wait_until(lambda: old not in srv.worker_pids(), what="orphan forgotten by waspd")
    srv.wait_log(str(old))
    r2 = srv.get(pool="A")
    check(r2.status == 200 and r2.pid != old, "after orphaning %r" % r2)
    check(proc_state(old) == "T", "orphan not left stopped: %r" % proc_state(old))


def _try(srv):
    try:
        srv.get("/__wasp_test/hang", pool="A", timeout=30)
    except Exception:  # noqa: BLE001
        pass


wasptest.main(test)
