"""A reload recycles only the pools whose own configuration changed: a site
with applications in pools A and B names both, and a change to B's
settings recycles B's worker while A's keeps serving."""
import os

import wasptest
from wasptest import check, wait_until, pid_alive


def sites(srv):
    return [{"name": "S", "id": 1,
             "bindings": ["127.0.0.1:%d:s.test" % srv.port],
             "apps": [{"path": "/", "pool": "A", "physicalPath": srv.content_dir("A")},
                      {"path": "/b", "pool": "B", "physicalPath": srv.content_dir("B")}]}]


def write(srv, pools):
    tmp = srv.config_path + ".new"
    with open(tmp, "w") as f:
        f.write(wasptest.config_xml(pools, sites(srv)))
    os.chmod(tmp, 0o644)
    os.rename(tmp, srv.config_path)


def test(t):
    pools = {"A": {}, "B": {}}
    srv = t.server(pools=pools, sites=[])
    srv.sites = sites(srv)
    srv.config_text = wasptest.config_xml([{"name": n} for n in pools], srv.sites)
    srv.start()
    ra = srv.get("/index.html", host="s.test")
    rb = srv.get("/b/index.html", host="s.test")
    check(ra.status == 200 and ra.pool == "A", "A %r" % ra)
    check(rb.status == 200 and rb.pool == "B", "B %r" % rb)

    write(srv, [{"name": "A"}, {"name": "B", "queueLength": 500}])
    out = srv.waspctl("reload")
    check("1 recycled" in out["message"], "reload message %r" % out["message"])
    wait_until(lambda: not pid_alive(rb.pid), what="B's old worker to go")
    rb2 = srv.get("/b/index.html", host="s.test")
    check(rb2.status == 200 and rb2.pid != rb.pid, "B after the reload %r" % rb2)
    ra2 = srv.get("/index.html", host="s.test")
    check(ra2.status == 200 and ra2.pid == ra.pid,
          "A was recycled by a change to B: %r (was pid %d)" % (ra2, ra.pid))
    check(srv.pools()["A"]["recycles"] == 0 and srv.pools()["B"]["recycles"] == 1,
          "recycles %r" % {n: p["recycles"] for n, p in srv.pools().items()})


wasptest.main(test)
