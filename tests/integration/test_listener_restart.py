"""wasp-http killed with SIGKILL is restarted by waspd and serving resumes;
the listening socket never closes: clients connecting during the restart
are served (they wait in the backlog), never refused.

A client loop runs across the kill. Refused connections fail the test; so
does a failure of any request that started after the kill. The only
request allowed to fail is one the dying listener had already accepted
and not yet handed to the worker (it dies with the process): at most one
per client thread, and only among requests started before the kill."""
import os
import signal
import threading
import time

import wasptest
from wasptest import check, wait_until

THREADS = 4


def test(t):
    srv = t.server(pools={"A": {}}).start()
    r = srv.get(pool="A")
    check(r.status == 200, "before %r" % r)
    old = srv.listener_pids()
    check(len(old) == 1, "listener pids %r" % old)

    lock = threading.Lock()
    done = []  # (t_start, t_end, ok, what)
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            t0 = time.monotonic()
            try:
                r = srv.get(pool="A", timeout=20)
                ok, what = r.status == 200, "status %d" % r.status
            except Exception as e:  # noqa: BLE001 - classified below
                ok, what = False, e
            with lock:
                done.append((t0, time.monotonic(), ok, what))

    def n_ok(after=0.0):
        with lock:
            return len([d for d in done if d[2] and d[0] > after])

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(THREADS)]
    for th in threads:
        th.start()
    wait_until(lambda: n_ok() >= 20, what="requests before the kill")
    t_kill = time.monotonic()
    os.kill(old[0], signal.SIGKILL)
    # A connection made once the old listener is dead can only be accepted
    # by its successor: the socket stayed open in waspd, so the client waits
    # in the backlog and is served (not refused, not lost).
    wait_until(lambda: not wasptest.pid_alive(old[0]), 10, what="the old listener to die")
    probe = srv.get(pool="A", timeout=20)
    check(probe.status == 200, "request sent after the old listener died: %r" % probe)
    wait_until(lambda: srv.listener_pids() and srv.listener_pids() != old, 20,
               what="a new listener process")
    t_new = time.monotonic()
    wait_until(lambda: n_ok(after=t_new) >= 50, 20, what="requests after the restart")
    stop.set()
    for th in threads:
        th.join(30)

    refused = [d for d in done if isinstance(d[3], ConnectionRefusedError)]
    check(not refused, "%d connections refused during the restart" % len(refused))
    late = [d for d in done if not d[2] and d[0] >= t_kill]
    check(not late, "%d requests started after the kill failed, e.g. %r"
          % (len(late), [d[3] for d in late[:3]]))
    early = [d for d in done if not d[2] and d[0] < t_kill]
    check(len(early) <= THREADS, "%d requests in flight at the kill failed: %r"
          % (len(early), [d[3] for d in early[:5]]))
    during = [d for d in done if d[2] and t_kill < d[0] < t_new]
    wasptest.log("%d requests started while the listener was down were served; "
                 "%d in flight at the kill were lost" % (len(during), len(early)))
    check(srv.alive(), "waspd died")


wasptest.main(test)
