"""`waspctl restart` without systemd: waspd starts a new copy of itself on
the same listening sockets (LISTEN_FDS with their binding names), and once
that one serves, the old generation hands over (its listener stops
accepting and finishes what it holds, then its workers drain) and exits.

A client loop runs across the restart: no connection is refused and no
request fails, and a slow request in flight on the old worker completes.
The new waspd serves on the same port with its own listener and workers;
the old waspd, its listener and workers are gone; control.sock is the new
waspd's. A restart whose new waspd cannot load the
configuration changes nothing."""
import os
import signal
import threading

import wasptest
from wasptest import check, wait_until


def children_of(pid, name):
    out = []
    for p in wasptest._pids():
        try:
            st = wasptest._proc_stat(p)
        except OSError:
            continue
        if st["ppid"] == pid and st["state"] != "Z" and \
                wasptest.is_program(wasptest._argv0(p), name):
            out.append(p)
    return out


def test(t):
    srv = t.server(pools={"A": {}}).start()
    check(srv.get(pool="A").status == 200, "before")
    old_pid = srv.proc.pid
    old_workers = srv.worker_pids()
    old_listener = srv.listener_pids()

    # A configuration the new waspd cannot load: the restart fails and
    # the running waspd goes on.
    with open(srv.config_path) as f:
        good = f.read()
    wasptest.replace_file(srv.config_path, good.replace("<sites>", "<sites><bogus", 1))
    rc, out, err = srv.waspctl("restart", check_status=False, timeout=40)
    check(rc != 0, "restart with a broken configuration: exit %d %r" % (rc, out))
    check("goes on serving" in err, "message %r" % err)
    check(srv.alive() and srv.get(pool="A").status == 200, "still serving")
    check(srv.listener_pids() == old_listener, "listener unchanged")
    wasptest.replace_file(srv.config_path, good)

    # A slow request in flight on the old worker keeps it draining for a
    # while after the hand-over: it completes, and meanwhile no new request
    # meets the old generation (it would answer 503).
    slow = []
    th = threading.Thread(target=lambda: slow.append(
        srv.get("/__wasp_test/sleep?ms=1500", pool="A", timeout=30)), daemon=True)
    th.start()
    wait_until(lambda: any(w["busy"] > 0 for w in srv.workers("A")), what="slow request running")
    load = wasptest.Load(srv, pool="A", threads=4).start()
    wait_until(lambda: load.count() >= 20, what="requests before the restart")
    r = srv.waspctl("restart", timeout=40)
    new_pid = r["pid"]
    check(new_pid != old_pid and wasptest.pid_alive(new_pid), "new waspd %r" % r)
    # The old generation goes entirely; the load goes on meanwhile.
    wait_until(lambda: not srv.alive(), 30, what="the old waspd to exit")
    check(srv.proc.returncode == 0, "old waspd exit status %r" % srv.proc.returncode)
    for p in old_workers + old_listener:
        wait_until(lambda: not wasptest.pid_alive(p), 10, what="old process %d to go" % p)
    n = load.count()
    wait_until(lambda: load.count() >= n + 20, what="requests after the restart")
    load.stop()
    th.join(30)
    check(slow and slow[0].status == 200 and slow[0].pid in old_workers,
          "the slow request in flight: %r" % slow)
    check(not load.failures, "%d failed request(s) of %d: %r"
          % (len(load.failures), load.count(), load.failures[:5]))

    # The new waspd: its own listener and worker serve, and control.sock
    # is its own.
    check(children_of(new_pid, "wasp-http"), "new listener")
    r = srv.get(pool="A")
    check(r.status == 200 and r.pid in children_of(new_pid, "wasp-worker"),
          "served by the new waspd's worker: %r" % r)
    check(srv.pools()["A"]["state"] == "Started", "control.sock answers")
    check("stored socket: using fd 3" in srv.read_log(), "the socket was passed by name")
    os.kill(new_pid, signal.SIGTERM)
    wait_until(lambda: not wasptest.pid_alive(new_pid), 30, what="the new waspd to stop")
    check(not os.path.exists(os.path.join(srv.runtime_dir, "control.sock")),
          "control.sock removed by the waspd that made it")


wasptest.main(test)
