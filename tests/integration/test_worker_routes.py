"""A worker's routing table is its own pool's (configuration isolation,
adapter-protocol.md "A worker's routing table"), yet it decides as the
listener does whether a request on a kept-alive connection is its pool's:
one whose route ends in another pool is handed back and served there,
never here; one of its own is served by the same worker. Requests for
another pool's application on the same host by path, on another host,
under a wildcard binding (another site's exact name under this pool's
wildcard, another site's wildcard over this pool's empty host), and on a
host that only another address binds, each from a connection that
started in the pool."""
import wasptest
from wasptest import check


def test(t):
    pools = {p: {"startMode": "OnDemand"} for p in ("A", "B", "C", "D")}
    srv = t.server(pools=pools, sites=[])
    d = {p: srv.content_dir(p) for p in pools}
    sites = [
        # A's site, with B's application /b inside it
        {"name": "S", "id": 1, "bindings": ["127.0.0.1:{port}:s.test"],
         "apps": [{"path": "/", "pool": "A", "physicalPath": d["A"]},
                  {"path": "/b", "pool": "B", "physicalPath": d["B"]}]},
        {"name": "Other", "id": 2, "bindings": ["127.0.0.1:{port}:other.test"],
         "apps": [{"path": "/", "pool": "B", "physicalPath": d["B"]}]},
        # A's wildcard, and C's exact name under it
        {"name": "Wild", "id": 3, "bindings": ["127.0.0.1:{port}:*.wild.test"],
         "apps": [{"path": "/", "pool": "A", "physicalPath": d["A"]}]},
        {"name": "Exact", "id": 4, "bindings": ["127.0.0.1:{port}:x.wild.test"],
         "apps": [{"path": "/", "pool": "C", "physicalPath": d["C"]}]},
        # C's empty host; D's wildcard over it
        {"name": "Any", "id": 5, "bindings": ["*:{port}:"],
         "apps": [{"path": "/", "pool": "C", "physicalPath": d["C"]}]},
        {"name": "DWild", "id": 6, "bindings": ["*:{port}:*.d.test"],
         "apps": [{"path": "/", "pool": "D", "physicalPath": d["D"]}]},
        # the same host on another address: never a request of 127.0.0.1
        {"name": "Elsewhere", "id": 7, "bindings": ["127.0.0.2:{port}:s.test"],
         "apps": [{"path": "/", "pool": "D", "physicalPath": d["D"]}]},
    ]
    srv = t.server(pools=pools, sites=sites).start()

    def walk(first_host, steps):
        with srv.keepalive(host=first_host) as ka:
            first = None
            for path, host, pool in steps:
                r = ka.get(path, host=host)
                check(r.status == 200 and r.pool == pool and
                      r.body == ("pool %s\n" % pool).encode(),
                      "after %s: %s Host %s answered %r %r, want pool %s"
                      % (first_host, path, host, r, r.body, pool))
                if pool == steps[0][2]:
                    first = first or r.pid
                    check(r.pid == first, "%s Host %s: served by %s, not by the first "
                          "worker %s" % (path, host, r.pid, first))

    walk("s.test", [("/index.html", "s.test", "A"),
                    ("/b/index.html", "s.test", "B"),      # same host, by path
                    ("/index.html", "s.test", "A"),
                    ("/index.html", "other.test", "B"),    # another host
                    ("/index.html", "y.wild.test", "A"),   # own wildcard
                    ("/index.html", "x.wild.test", "C"),   # another site's name under it
                    ("/index.html", "nothing.test", "C"),  # another site's empty host
                    ("/index.html", "a.d.test", "D"),      # another site's wildcard
                    ("/x/../b/index.html", "s.test", "B"),
                    ("/index.html", "S.TEST.", "A")])
    walk("zzz.test", [("/index.html", "zzz.test", "C"),
                      ("/index.html", "q.d.test", "D"),    # a wildcard over the empty host
                      ("/index.html", "x.wild.test", "C"),
                      ("/index.html", "w.wild.test", "A"),
                      ("/index.html", "s.test", "A"),
                      ("/index.html", "other.test", "B"),
                      ("/index.html", "d.test", "C")])
    walk("q.d.test", [("/index.html", "q.d.test", "D"),
                      ("/index.html", "r.d.test", "D"),
                      ("/index.html", "s.test", "A"),
                      ("/b/index.html", "s.test", "B")])


wasptest.main(test)
