"""What every pool's first worker start in a generation shares (waspd's
index of the sites by pool and by host name, the configuration's sites
and pools by name) is made once the generation is loaded, at start and at
each reload, not by the first request to a pool that never started (with
10,000 sites it was most of that request's time in waspd:
docs/performance.md). The first requests then find it made and are
served."""
import wasptest
from wasptest import check

LINE = "generation %d: sites indexed by pool and host name"


def test(t):
    srv = t.server(pools={"Alpha": {}, "Beta": {}}).start()
    srv.wait_log(LINE % 1)
    log = srv.read_log()
    check("starting worker" not in log[:log.index(LINE % 1)],
          "a worker started before the index was made")
    r = srv.get(pool="Alpha")
    check(r.status == 200, "Alpha %r" % (r,))
    check(srv.waspctl("reload")["generation"] == 2, "reload")
    srv.wait_log(LINE % 2)
    r = srv.get(pool="Beta")
    check(r.status == 200, "Beta after the reload %r" % (r,))


wasptest.main(test)
