"""Wildcard host bindings (IIS 10, "*.wild.test"): any name under the
domain reaches the site, after the exact host bindings and before the
empty host, as HTTP.sys orders them; on a keep-alive connection the
worker routes the next request by the same rules (staying for a name
under its wildcard, handing back for the exact name of another pool)."""
import wasptest
from wasptest import check

def test(t):
    pools = {"A": {"startMode": "OnDemand"}, "B": {"startMode": "OnDemand"},
             "C": {"startMode": "OnDemand"}}
    srv = t.server(pools=pools, sites=[])
    sites = []
    for i, (name, host) in enumerate((("A", "*.wild.test"), ("B", "www.wild.test"),
                                      ("C", ""))):
        sites.append({"name": name, "id": i + 1,
                      "bindings": ["127.0.0.1:{port}:%s" % host],
                      "apps": [{"path": "/", "pool": name,
                                "physicalPath": srv.content_dir(name)}]})
    srv = t.server(pools=pools, sites=sites).start()

    for host, pool in (("a.wild.test", "A"), ("X.Y.WILD.TEST", "A"),
                       ("www.wild.test", "B"), ("wild.test", "C"),
                       ("other.test", "C"), ("awild.test", "C")):
        r = srv.get(host=host)
        check(r.status == 200 and r.body == ("pool %s\n" % pool).encode(),
              "Host %s: %r %r, want pool %s" % (host, r, r.body, pool))

    with srv.keepalive(host="one.wild.test") as ka:
        r1 = ka.get("/index.html")
        r2 = ka.get("/index.html", host="two.wild.test")
        r3 = ka.get("/index.html", host="www.wild.test")
    check(r1.pool == "A" and r2.pool == "A" and r2.pid == r1.pid,
          "keep-alive under the wildcard: %r %r" % (r1, r2))
    check(r3.pool == "B", "keep-alive to the exact host: %r" % r3)


wasptest.main(test)
