"""Recycle of application-hosting pools under load, with zero failed
requests: a PHP pool (php-cgi through FastCgiModule) and an httpPlatform
pool (a Python backend), each recycled with `waspctl recycle` and by
periodicRestart requests while client loops run (new connection per
request), and while slow requests (a PHP sleep, a backend that answers
after a delay) are in flight: those complete, on the old worker, with
their full answer. Every old worker's php-cgi and backend processes end
with it; the new worker's backend listens on a port of its own."""
import json
import os
import threading

import fcgitest
import hptest
import wasptest
from wasptest import check, wait_until, log

HELLO = "<?php echo 'hello ' . getmypid();\n"
SLOW = "<?php usleep(1500000); echo 'slept ' . getmypid();\n"
WEB_CONFIG = """<?xml version="1.0" encoding="utf-8"?>
<configuration><system.webServer>
  <httpPlatform processPath="%s" arguments="%s" />
</system.webServer></configuration>
"""
RECYCLES = 3
REQUESTS_LIMIT = 150


class Slow:
    """A slow request in a thread: its response (or exception)."""

    def __init__(self, srv, path, pool):
        self.result = None
        self.thread = threading.Thread(target=self._run, args=(srv, path, pool), daemon=True)
        self.thread.start()

    def _run(self, srv, path, pool):
        try:
            self.result = srv.get(path, pool=pool, timeout=30)
        except Exception as e:  # noqa: BLE001 - reported
            self.result = e

    def wait(self):
        self.thread.join(60)
        return self.result


def worker_apps(srv, pool):
    return {w["pid"]: [a["pid"] for a in w.get("applications", [])] for w in srv.workers(pool)}


def recycle_once(srv, pool, paths, how):
    """One recycle (how(): waspctl, or traffic up to the requests limit)
    with a slow request (paths[1]) in flight on the old worker; the old
    worker and its application processes gone after."""
    fast_path, slow_path = paths
    old = srv.worker_pids(pool, state="Ready")
    check(len(old) == 1, "%s: one ready worker %r" % (pool, old))
    # its application process started (a new worker has none until a request)
    r = srv.get(fast_path, pool=pool)
    check(r.status == 200 and r.pid == old[0], "%s: %r" % (pool, r))
    old_apps = wait_until(lambda: worker_apps(srv, pool).get(old[0]),
                          what="%s's application processes listed" % pool)
    slow = Slow(srv, slow_path, pool)
    wait_until(lambda: any(w["busy"] > 0 for w in srv.workers(pool) if w["pid"] == old[0]),
               what="the slow request on the old worker")
    how()
    wait_until(lambda: set(srv.worker_pids(pool, state="Ready")) - set(old)
               and not set(srv.worker_processes()) & set(old),
               timeout=30, what="%s's recycle to finish" % pool)
    r = slow.wait()
    check(isinstance(r, wasptest.Response) and r.status == 200 and r.pid == old[0],
          "%s: the slow request on the old worker: %r %r"
          % (pool, r, getattr(r, "body", b"")[:300]))
    for pid in old_apps:
        wait_until(lambda: not wasptest.pid_alive(pid),
                   what="%s: the old worker's process %d gone" % (pool, pid))


def test(t):
    php = fcgitest.php_cgi()
    py, app = hptest.python_backend(t)
    xml = hptest.php_and_backend_xml(php)
    limit = {"recycling": {"periodicRestart": {"requests": REQUESTS_LIMIT}}}
    srv = t.server(pools={"P": {}, "B": {}, "PL": limit, "BL": limit}, web_server_xml=xml)
    for p in ("P", "PL"):
        fcgitest.write_php(srv, p, "hello.php", HELLO)
        fcgitest.write_php(srv, p, "slow.php", SLOW)
    for p in ("B", "BL"):
        wasptest.write_content(os.path.join(srv.content_dir(p), "web.config"),
                               WEB_CONFIG % (py, app))
    srv.start()
    paths = {"P": ("/hello.php", "/slow.php"), "PL": ("/hello.php", "/slow.php"),
             "B": ("/env", "/sleep?s=1.5"), "BL": ("/env", "/sleep?s=1.5")}
    for p, (fast, _) in paths.items():
        r = srv.get(fast, pool=p)
        check(r.status == 200, "%s warm-up %r %r" % (p, r, r.body[:300]))
    loads = {p: wasptest.Load(srv, path=paths[p][0], pool=p, threads=2).start()
             for p in ("P", "B")}
    try:
        for p in ("P", "B"):
            wait_until(lambda: loads[p].count() >= 20, what="%s's load to get going" % p)
            for i in range(RECYCLES):
                recycle_once(srv, p, paths[p], lambda: srv.waspctl("recycle", "apppool", p))
                log("%s: recycle %d done at %d requests" % (p, i + 1, loads[p].count()))
    finally:
        for ld in loads.values():
            ld.stop()
    for p, ld in loads.items():
        check(not ld.failures, "%s: %d failed requests of %d, first: %r"
              % (p, len(ld.failures), ld.count(), ld.failures[:5]))
        check(len(ld.pids) >= RECYCLES + 1, "%s: responses from workers %r" % (p, ld.pids))

    # by the requests limit: the load itself makes the worker reach it
    for p in ("PL", "BL"):
        for i in range(2):
            # just enough requests: the next worker must not reach it too
            ld = wasptest.Load(srv, path=paths[p][0], pool=p, threads=2,
                               max_requests=REQUESTS_LIMIT)

            def run_to_limit():
                ld.start()
                wait_until(ld.done, timeout=60, what="%s: the requests limit" % p)
            try:
                recycle_once(srv, p, paths[p], run_to_limit)
            finally:
                if ld.threads[0].ident is not None:  # started
                    ld.stop()
            check(not ld.failures, "%s: %d failed requests of %d, first: %r"
                  % (p, len(ld.failures), ld.count(), ld.failures[:5]))
            log("%s: recycle %d by requests done at %d requests" % (p, i + 1, ld.count()))

    # the backend pools' ports: each worker's process its own
    r = json.loads(srv.get("/env", pool="B").body)
    r2 = json.loads(srv.get("/env", pool="BL").body)
    check(r["env"]["HTTP_PLATFORM_PORT"] != r2["env"]["HTTP_PLATFORM_PORT"], "%r %r" % (r, r2))


if __name__ == "__main__":
    wasptest.main(test)
