"""Long, deep URLs cost a worker bounded memory: a few hundred requests of
about 8 KiB made of /a segments, each URL distinct, leave the worker's RSS
within a few MiB (they took it from 5.5 to 356 MiB when the configuration
cache kept a path per URL prefix), and normal requests are still served.
Pool A keeps maxUrl at 4096 (404.14, answered before the URL's configuration
is looked up); pool B raises it, so each URL is looked up."""
import os
import time
import wasptest
from wasptest import check

N = 300
SEGMENTS = 4000  # "/a" each: 8000 bytes


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise wasptest.Failure("no VmRSS for %d" % pid)


def run(srv, pool, want_sub):
    r = srv.get(pool=pool)
    check(r.status == 200, "pool %s: %r" % (pool, r))
    pid = r.pid
    before = rss_kib(pid)
    ka = srv.keepalive(pool=pool)
    t0 = time.monotonic()
    for i in range(N):
        path = "/%d" % i + "/a" * SEGMENTS
        r = ka.get(path)
        check(r.status == 404 and r.header("X-Wasp-Substatus", "0") == want_sub,
              "pool %s: deep URL %d: %r sub %s" % (pool, i, r, r.header("X-Wasp-Substatus")))
        if r.header("Connection", "").lower() == "close":
            ka = srv.keepalive(pool=pool)
    elapsed = time.monotonic() - t0
    r = srv.get(pool=pool)
    check(r.status == 200 and r.pid == pid, "pool %s after: %r" % (pool, r))
    after = rss_kib(pid)
    wasptest.log("pool %s: RSS %d -> %d KiB, %d requests in %.2f s"
                 % (pool, before, after, N, elapsed))
    check(after - before < 30 * 1024, "pool %s: RSS grew from %d to %d KiB"
          % (pool, before, after))


def test(t):
    env = {}
    if os.environ.get("ASAN_OPTIONS") is not None:
        # AddressSanitizer keeps freed memory in quarantine (256 MiB by
        # default): RSS would measure that, not the worker
        env["ASAN_OPTIONS"] = os.environ["ASAN_OPTIONS"] + ":quarantine_size_mb=1"
    srv = t.server(pools={"A": {}, "B": {}}, env=env, web_server_xml="""
  </system.webServer>
  <location path="B">
    <system.webServer>
      <security><requestFiltering>
        <requestLimits maxUrl="65536" />
      </requestFiltering></security>
    </system.webServer>
  </location>
  <system.webServer>""")
    srv.start()
    run(srv, "A", "14")
    run(srv, "B", "0")


wasptest.main(test)
