"""wasp-http killed with SIGKILL is restarted by waspd and serving resumes;
the listening socket never closes: clients connecting during the restart
are served (they wait in the backlog), never refused."""
import os
import signal
import threading

import wasptest
from wasptest import check, wait_until


def test(t):
    srv = t.server(pools={"A": {}}).start()
    r = srv.get(pool="A")
    check(r.status == 200, "before %r" % r)
    old = srv.listener_pids()
    check(len(old) == 1, "listener pids %r" % old)

    results = {"ok": 0, "fail": []}
    stop = threading.Event()
    lock = threading.Lock()

    def loop():
        while not stop.is_set():
            try:
                r = srv.get(pool="A", timeout=20)
                with lock:
                    if r.status == 200:
                        results["ok"] += 1
                    else:
                        results["fail"].append("status %d" % r.status)
            except Exception as e:  # noqa: BLE001 - refused or reset counts
                with lock:
                    results["fail"].append(repr(e))

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(4)]
    for th in threads:
        th.start()
    wait_until(lambda: results["ok"] >= 20, what="requests before the kill")
    os.kill(old[0], signal.SIGKILL)
    wait_until(lambda: srv.listener_pids() and srv.listener_pids() != old, 20,
               what="a new listener process")
    before = results["ok"]
    wait_until(lambda: results["ok"] >= before + 50, 20, what="requests after the restart")
    stop.set()
    for th in threads:
        th.join(30)
    check(not results["fail"], "%d failed requests, e.g. %r" % (len(results["fail"]),
                                                                results["fail"][:5]))
    check(srv.alive(), "waspd died")


wasptest.main(test)
