"""SIGTERM: waspd drains its workers (a request in progress is finished) and
the listener, and exits 0; no process of the group is left."""
import signal
import threading
import wasptest
from wasptest import check, wait_until


def test(t):
    srv = t.server(pools={"A": {}, "B": {"startMode": "AlwaysRunning"}}).start()
    check(srv.get(pool="A").status == 200, "A")
    wait_until(lambda: len(srv.worker_processes()) == 2, what="two workers")

    # A request in progress when SIGTERM arrives is finished.
    result = {}

    def slow():
        try:
            result["r"] = srv.get("/__wasp_test/sleep?ms=1500", pool="A", timeout=30)
        except Exception as e:  # noqa: BLE001
            result["e"] = e
    th = threading.Thread(target=slow)
    th.start()
    wait_until(lambda: any(w["busy"] > 0 for w in srv.workers("A")),
               what="the slow request in progress")
    pgid = srv.pgid
    srv.proc.send_signal(signal.SIGTERM)
    th.join(30)
    check("r" in result, "request in progress during shutdown failed: %r" % result.get("e"))
    check(result["r"].status == 200, "request in progress answered %r" % result["r"])
    rc = srv.proc.wait(30)
    check(rc == 0, "waspd exit status %r" % rc)
    left = [p for p in wasptest._pids() if _pgrp(p) == pgid]
    check(not left, "processes left after shutdown: %r" % left)
    log = srv.read_log()
    check("waspd stopped" in log, "no final log line")


def _pgrp(pid):
    try:
        st = wasptest._proc_stat(pid)
    except OSError:
        return None
    return None if st["state"] == "Z" else st["pgrp"]


wasptest.main(test)
