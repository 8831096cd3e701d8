"""Configuration reload (`waspctl reload` and SIGHUP): pools and sites are
added, changed and removed while waspd runs; a pool whose configuration did
not change keeps its worker and its open connections; a changed pool is
recycled; a new binding's port starts listening and a removed one stops; a
configuration with an error changes nothing and the error names the file,
line and attribute. Then (starting_worker) a worker still starting when its
pool's configuration changes is started again with the new one, and
(backoff_timer) a pool backing off after start failures keeps its pending
back-off across a reload."""
import os
import signal
import shutil
import socket
import threading
import time

import wasptest
from wasptest import check, wait_until
from test_peer_protocol_util import python_for_children


def site(srv, name, sid, port=None):
    return {"name": name, "id": sid,
            "bindings": ["127.0.0.1:%d:%s" % (port or srv.port, srv.host(name))],
            "apps": [{"path": "/", "pool": name, "physicalPath": srv.content_dir(name)}]}


def write(srv, pools, sites):
    text = wasptest.config_xml(pools, sites)
    tmp = srv.config_path + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.rename(tmp, srv.config_path)


def refused(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except OSError:
        return True


def worker_pid(srv, pool):
    pids = [w["pid"] for w in srv.workers(pool) if w["state"] == "Ready"]
    return pids[0] if len(pids) == 1 else None


def test(t):
    srv = t.server(pools={"A": {}, "B": {}}).start()
    ra, rb = srv.get(pool="A"), srv.get(pool="B")
    check(ra.status == 200 and rb.status == 200, "before: %r %r" % (ra, rb))
    pid_a, pid_b = ra.pid, rb.pid
    ka = srv.keepalive(pool="A")
    r = ka.get("/index.html")
    check(r.status == 200 and r.pid == pid_a, "keep-alive before: %r" % r)

    # 1. A unchanged, B changed, C added on the same port, D on a new port.
    port_d = wasptest.free_port()
    pools = [{"name": "A"}, {"name": "B", "processModel": {"idleTimeout": "00:30:00"}},
             {"name": "C"}, {"name": "D"}]
    sites = [site(srv, "A", 1), site(srv, "B", 2), site(srv, "C", 3),
             site(srv, "D", 4, port_d)]
    write(srv, pools, sites)
    out = srv.waspctl("reload")
    check(out["generation"] == 2, "reload answered %r" % out)
    check("1 recycled" in out["message"] and "2 added" in out["message"],
          "reload message %r" % out["message"])

    r = ka.get("/index.html")
    check(r.status == 200 and r.pid == pid_a,
          "the unchanged pool's open connection after the reload: %r" % r)
    check(srv.get(pool="A").pid == pid_a, "pool A was restarted by a reload that left it alone")
    wait_until(lambda: worker_pid(srv, "B") not in (None, pid_b), what="pool B recycled")
    rb2 = srv.get(pool="B")
    check(rb2.status == 200 and rb2.pool == "B" and rb2.pid != pid_b,
          "pool B after its change: %r (old pid %d)" % (rb2, pid_b))
    rc = srv.get(pool="C")
    check(rc.status == 200 and rc.pool == "C", "the added pool C: %r" % rc)
    rd = wasptest.http_request(port_d, "/index.html", host=srv.host("D"))
    check(rd.status == 200 and rd.pool == "D", "the added site on a new port: %r" % rd)

    # 2. An error in the file: nothing changes, the error says where.
    good = open(srv.config_path).read()
    bad = [dict(p) for p in pools]
    bad[0]["processModel"] = {"idleTimeout": "bogus"}
    write(srv, bad, sites + [site(srv, "E", 5)])
    rc_, out_, err_ = srv.waspctl("reload", json_output=False, check_status=False)
    check(rc_ != 0, "a reload of a broken file succeeded: %r" % out_)
    check(os.path.basename(srv.config_path) in err_ and "idleTimeout" in err_,
          "the error does not name the file and attribute: %r" % err_)
    check(srv.get(pool="C").status == 200 and srv.get(pool="A").pid == pid_a,
          "the running configuration changed after a failed reload")
    check(srv.get(pool="E").status == 400, "a site of the broken file is served")
    check(open(srv.config_path).read() != good, "test setup")

    # 2b. A new binding's port that cannot be bound: nothing changes either.
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port_busy = busy.getsockname()[1]
    write(srv, pools + [{"name": "G"}], sites + [site(srv, "G", 7, port_busy)])
    rc_, out_, err_ = srv.waspctl("reload", json_output=False, check_status=False)
    busy.close()
    check(rc_ != 0 and "cannot listen" in err_, "a reload with a busy port: %d %r" % (rc_, err_))
    check("G" not in srv.pools(), "pool G of the refused reload exists")
    check(srv.get(pool="C").status == 200 and srv.get(pool="A").pid == pid_a,
          "the running configuration changed after a refused reload")
    rd = wasptest.http_request(port_d, "/index.html", host=srv.host("D"))
    check(rd.status == 200, "the kept port after a refused reload: %r" % rd)

    # 3. B and D removed (SIGHUP this time): B's host is unknown, its worker
    # exits, D's port closes; A still has its worker and connection.
    pid_b2 = rb2.pid
    write(srv, [{"name": "A"}, {"name": "C"}], [site(srv, "A", 1), site(srv, "C", 3)])
    os.kill(srv.proc.pid, signal.SIGHUP)
    wait_until(lambda: srv.get(pool="B").status == 400, what="pool B's site removed")
    wait_until(lambda: refused(port_d), what="the removed binding's port closed")
    wait_until(lambda: not os.path.exists("/proc/%d" % pid_b2) or
               open("/proc/%d/stat" % pid_b2).read().split()[2] == "Z",
               what="pool B's worker exited")
    check("B" not in [w["pool"] for w in srv.workers()], "pool B still has workers")
    r = ka.get("/index.html")
    check(r.status == 200 and r.pid == pid_a, "pool A after the removals: %r" % r)
    check(srv.get(pool="C").status == 200, "pool C after the removals")
    ka.close()

    # 4. Once its workers are gone the removed pool leaves the table.
    write(srv, [{"name": "A"}, {"name": "C"}, {"name": "F"}],
          [site(srv, "A", 1), site(srv, "C", 3), site(srv, "F", 6)])
    out = srv.waspctl("reload")
    check(out["generation"] == 4, "generation after three reloads: %r" % out)
    names = set(srv.pools().keys())
    check(names == {"A", "C", "F"}, "pools after the last reload: %r" % names)
    check(srv.get(pool="F").pool == "F", "pool F")
    srv.stop()

    # 5. An adapter's POOL_DEMAND sent before it had the new generation
    # names the pool by the old generation's id: waspd starts the pool of
    # that name (B, id 1 before the reload), not the one now at id 1 (A).
    here = os.path.dirname(os.path.abspath(__file__))
    fake = os.path.join(t.dir, "fake_worker.py")
    shutil.copy(os.path.join(here, "fake_worker.py"), fake)
    os.chmod(fake, 0o644)
    wrapper = os.path.join(t.dir, "fake-adapter-olddemand")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec %s %s olddemand adapter\n" % (python_for_children(), fake))
    os.chmod(wrapper, 0o755)
    srv2 = t.server(pools={"A": {}, "B": {}}, env={"WASP_TEST_ADAPTER_PROGRAM": wrapper})
    srv2.start(wait=False)
    srv2.wait_log("adapter 'http' (pid")
    wait_until(lambda: os.path.exists(os.path.join(srv2.runtime_dir, "control.sock")),
               what="waspd's control socket")
    write(srv2, [{"name": "B"}, {"name": "A"}], [site(srv2, "B", 2), site(srv2, "A", 1)])
    check(srv2.waspctl("reload")["generation"] == 2, "reload with the fake adapter")
    wait_until(lambda: srv2.workers(), what="a worker started on the old-generation demand")
    pools = [w["pool"] for w in srv2.workers()]
    check(pools == ["B"], "the demand for old pool id 1 started %r, not B" % pools)
    check(srv2.stop() == 0, "waspd exit status (fake adapter)")

    starting_worker(t)
    backoff_timer(t)


def gated_worker(t, name):
    """A worker program that waits, before it becomes wasp-worker, until the
    test writes a line to the FIFO it returns (a reader blocks in open until
    a writer comes, so nothing polls or sleeps)."""
    gate = os.path.join(t.dir, name + ".gate")
    os.mkfifo(gate)
    os.chmod(gate, 0o666)  # the pool's identity reads it when run as root
    prog = os.path.join(t.dir, name)
    with open(prog, "w") as f:
        f.write("#!/bin/sh\nread line < %s\nexec %s\n"
                % (gate, wasptest.program("worker/wasp-worker")))
    os.chmod(prog, 0o755)
    return prog, gate


def open_gate(gate):
    """Let one worker blocked on the gate go on; False while none waits."""
    try:
        fd = os.open(gate, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:  # ENXIO: no reader yet
        return False
    try:
        os.write(fd, b"go\n")
    except OSError:  # the reader was killed meanwhile
        return False
    finally:
        os.close(fd)
    return True


def content(t, name, text):
    d = os.path.join(t.dir, "content", name)
    os.makedirs(d)
    os.chmod(d, 0o755)
    with open(os.path.join(d, "index.html"), "w") as f:
        f.write(text)
    os.chmod(os.path.join(d, "index.html"), 0o644)
    return d


def starting_worker(t):
    """A worker still starting when a reload changes its pool's
    configuration was sent the previous configuration: it is killed and
    started again (an overlapped recycle's replacement too, its old worker
    serving meanwhile); with disallowRotationOnConfigChange it stays. Pool
    A's workers wait on a gate (WASP_TEST_WORKER_PROGRAM), so each is
    Starting for as long as the test wants; each configuration serves
    other content, so a response tells which one its worker runs."""
    prog, gate = gated_worker(t, "gated-worker")
    pool = {"name": "A", "processModel": {"startupTimeLimit": "00:02:00"}}
    srv = t.server(pools={"A": {"processModel": pool["processModel"]}},
                   env={"WASP_TEST_WORKER_PROGRAM": "A:" + prog}).start()

    def reload_to(n, recycling=None):
        d = content(t, "A-%d" % n, "configuration %d\n" % n)
        p = dict(pool)
        if recycling:
            p["recycling"] = recycling
        write(srv, [p], [{"name": "A", "id": 1,
                          "bindings": ["127.0.0.1:%d:%s" % (srv.port, srv.host("A"))],
                          "apps": [{"path": "/", "pool": "A", "physicalPath": d}]}])
        return srv.waspctl("reload")["message"]

    def starting():
        ws = [w["pid"] for w in srv.workers("A") if w["state"] == "Starting"]
        return ws[0] if len(ws) == 1 else None

    def ready_other_than(pid):
        now = worker_pid(srv, "A")
        return now if now not in (None, pid) else None

    def release_until(cond, what):
        return wait_until(lambda: (open_gate(gate), cond())[1], timeout=30, what=what)

    # 1. The pool's first worker, started on demand, is still starting.
    first = {}
    waiting = threading.Thread(target=lambda: first.update(r=srv.get(pool="A", timeout=60)))
    waiting.start()
    p1 = wait_until(starting, what="pool A's first worker starting")
    msg = reload_to(2)
    check("1 recycled" in msg, "reload message %r" % msg)
    ready = release_until(lambda: worker_pid(srv, "A"), "a worker of pool A ready")
    check(ready != p1, "the worker that was starting at the reload (pid %d) serves" % p1)
    wait_until(lambda: not wasptest.pid_alive(p1), what="the stale starting worker gone")
    waiting.join(60 * wasptest.TIME_SCALE)
    r = first.get("r")
    check(r is not None and r.status == 200 and r.body == b"configuration 2\n",
          "the request that waited through the reload: %r %r" % (r, r and r.body))
    r = srv.get(pool="A")
    check(r.pid == ready and r.body == b"configuration 2\n", "after the reload: %r" % r)

    # 2. An overlapped recycle's replacement is starting: the old worker
    # keeps serving, the replacement is started again with the new one.
    srv.waspctl("recycle", "apppool", "A")
    p3 = wait_until(starting, what="the replacement starting")
    msg = reload_to(3)
    check("1 recycled" in msg, "reload message %r" % msg)
    r = srv.get(pool="A")
    check(r.pid == ready and r.body == b"configuration 2\n",
          "the old worker while its replacement starts again: %r" % r)
    new = release_until(lambda: ready_other_than(ready), "the replacement ready")
    check(new != p3, "the replacement that was starting at the reload (pid %d) serves" % p3)
    r = srv.get(pool="A")
    check(r.pid == new and r.body == b"configuration 3\n", "after the recycle: %r" % r)
    check(srv.pools()["A"]["recycleFailures"] == 0, "a recycle failure was counted")

    # 3. disallowRotationOnConfigChange: the starting worker stays.
    srv.waspctl("recycle", "apppool", "A")
    p5 = wait_until(starting, what="a replacement starting")
    msg = reload_to(4, {"disallowRotationOnConfigChange": True})
    check("1 changed but kept" in msg, "reload message %r" % msg)
    release_until(lambda: worker_pid(srv, "A") == p5, "the kept replacement ready")
    r = srv.get(pool="A")
    check(r.pid == p5 and r.body == b"configuration 3\n",
          "disallowRotationOnConfigChange: %r" % r)
    check(srv.stop() == 0, "waspd exit status (starting worker)")


def backoff_timer(t):
    """A pool whose worker cannot start waits longer between attempts; a
    reload moves the pool's record, and the pending back-off timer moves
    with it: the reload starts nothing early, and the next attempt comes
    from the timer, counted on the pool's new record, with the back-off
    going on."""
    missing = os.path.join(t.dir, "no-such-worker")
    srv = t.server(pools={"A": {"startMode": "AlwaysRunning",
                                "failure": {"rapidFailProtection": False}},
                          "B": {}},
                   env={"WASP_TEST_WORKER_PROGRAM": "A:" + missing}).start()
    # 7 failures: 3.2 s until the next attempt.
    srv.wait_log("pool 'A': 7 consecutive start failures, next start in 3200 ms", timeout=20)
    seen = time.monotonic()
    attempts = srv.read_log().count("pool 'A': cannot start")
    # C before A: every record moves (A's id changes too).
    write(srv, [{"name": "C"}, {"name": "A", "startMode": "AlwaysRunning",
                                "failure": {"rapidFailProtection": False}}, {"name": "B"}],
          [site(srv, "C", 3), site(srv, "A", 1), site(srv, "B", 2)])
    check(srv.waspctl("reload")["generation"] == 2, "reload")
    if time.monotonic() - seen < 2.5:
        check(srv.read_log().count("pool 'A': cannot start") == attempts,
              "the reload started pool A at once, ignoring its back-off")
    failures = srv.pools()["A"]["failures"]
    srv.wait_log("pool 'A': 8 consecutive start failures, next start in 6400 ms", timeout=20)
    wait_until(lambda: srv.pools()["A"]["failures"] > failures,
               what="the next failure counted on pool A's new record")
    check(srv.pools()["A"]["state"] == "Started", "pool A %r" % srv.pools()["A"])
    r = srv.get(pool="B")
    check(r.status == 200 and r.pool == "B", "pool B %r" % r)
    check(srv.alive(), "waspd died")
    check(srv.stop() == 0, "waspd exit status (back-off)")


wasptest.main(test)
