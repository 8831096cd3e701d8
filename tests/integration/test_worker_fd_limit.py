"""A worker that holds as many connections as its descriptors allow refuses
the next ones instead of losing its handoff channel (which left the pool
answering nothing but 503 after startupTimeLimit until an operator recycled
it):
- with RLIMIT_NOFILE 64 (waspd's test hook WASP_TEST_WORKER_NOFILE) the
  worker takes 16 connections (64 - 16 for the open file cache - 32 kept
  free); keep-alive clients beyond that get 503 at once from the listener;
- a new request meanwhile is answered (503), quickly;
- once the clients go, requests are served again by the same worker,
  without a restart or an operator;
- waspd raises its soft descriptor limit to the hard one, which its
  children (the listener, workers) inherit."""
import shutil
import time

import wasptest
from wasptest import check, wait_until

N_CLIENTS = 80


def test(t):
    srv = t.server(pools={"A": {}}, env={"WASP_TEST_WORKER_NOFILE": "A:64"}).start()
    first = srv.keepalive(pool="A")
    r = first.get("/index.html")
    check(r.status == 200, "first request %r" % r)
    pid = r.pid
    clients, served, refused = [first], 1, 0
    for _ in range(N_CLIENTS - 1):
        k = srv.keepalive(pool="A")
        r = k.get("/index.html")
        if r.status == 200:
            served += 1
            clients.append(k)
        else:
            check(r.status == 503, "a client over the limit got %r" % r)
            refused += 1
            k.close()
    check(served == 16 and refused == N_CLIENTS - 16,
          "%d served, %d refused (the worker holds 16)" % (served, refused))
    srv.wait_log("application pool at its connection limit")

    t0 = time.monotonic()
    r = srv.get(pool="A")
    check(r.status == 503, "a new request while the worker is full: %r" % r)
    check(time.monotonic() - t0 < 5, "the 503 took %.1f s" % (time.monotonic() - t0))
    # the clients it holds are still served on their connections
    r = clients[0].get("/index.html")
    check(r.status == 200 and r.pid == pid, "a held client %r" % r)

    for k in clients:
        k.close()
    wait_until(lambda: srv.get(pool="A").status == 200, timeout=10,
               what="requests served again once the clients went")
    r = srv.get(pool="A")
    check(r.status == 200 and r.pid == pid, "served by the same worker %r" % r)
    check(srv.worker_pids("A") == [pid], "workers %r" % srv.worker_pids("A"))
    # and it can be filled again: the listener's count of its connections
    # came back down (the worker reports closes in batches, the last ones
    # with its stats once a second)
    again = []

    def one_more():
        k = srv.keepalive(pool="A")
        r = k.get("/index.html")
        if r.status == 200:
            again.append(k)
            return True
        k.close()
        return False
    for _ in range(16):
        wait_until(one_more, 10, what="a client after the first ones went")
    r = srv.get(pool="A")
    check(r.status == 503, "full again: %r" % r)
    for k in again:
        k.close()
    check(srv.stop() == 0, "waspd exit status")

    prlimit = shutil.which("prlimit")
    if not prlimit:
        wasptest.log("no prlimit: the raised descriptor limit is not checked")
        return
    srv = t.server(pools={"B": {}}, wrapper=[prlimit, "--nofile=256:4096", "--"]).start()
    r = srv.get(pool="B")
    check(r.status == 200, "pool B %r" % r)
    for pid in [srv.proc.pid, r.pid]:
        with open("/proc/%d/limits" % pid) as f:
            line = [x for x in f if x.startswith("Max open files")][0].split()
        check(line[3:5] == ["4096", "4096"], "pid %d: %r" % (pid, line))
    check(srv.stop() == 0, "waspd exit status")


wasptest.main(test)
