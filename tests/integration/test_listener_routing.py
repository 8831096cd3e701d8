"""Routing in wasp-http on the real stack: a Host no binding matches gets
400 (Invalid Hostname), so does a request without Host; a malformed head
gets 400; the host match ignores case and the port; the longest application
path wins on a segment boundary ("/app" vs "/application"), on the
canonical path (dot segments, %XX decoded), also for the next request on a
keep-alive connection (the worker hands it back)."""
import wasptest
from wasptest import check


def test(t):
    srv = t.server(pools={"A": {}, "B": {}}, sites=None)
    # Site 1: a.test, "/" in A and "/app" in B. Site 2: any host, in B.
    srv.sites = [
        {"name": "one", "id": 1, "bindings": ["127.0.0.1:{port}:a.test"],
         "apps": [{"path": "/", "pool": "A", "physicalPath": srv.content_dir("A")},
                  {"path": "/app", "pool": "B", "physicalPath": srv.content_dir("B")}]},
    ]
    srv.sites = [srv._fill_port(s) for s in srv.sites]
    srv.config_text = wasptest.config_xml(
        [{"name": "A"}, {"name": "B"}], srv.sites)
    srv.start()

    r = srv.get("/index.html", host="a.test")
    check(r.status == 200 and r.pool == "A", "a.test / %r" % r)
    r = srv.get("/index.html", host="A.TEST:%d" % srv.port)
    check(r.status == 200 and r.pool == "A", "host case and port %r" % r)
    r = srv.get("/app/index.html", host="a.test")
    check(r.status == 200 and r.pool == "B", "/app %r" % r)
    r = srv.get("/application", host="a.test")
    check(r.pool == "A", "/application must stay in the root app: %r" % r)
    # The path is canonicalised before routing, as IIS does.
    r = srv.get("/x/../app/index.html", host="a.test")
    check(r.status == 200 and r.pool == "B" and r.body == b"pool B\n",
          "dot segments into /app: %r %r" % (r, r.body[:100]))
    r = srv.get("/%61pp/index.html", host="a.test")
    check(r.status == 200 and r.pool == "B", "%%-escaped /app: %r" % r)
    # Keep-alive: the next request on the connection belongs to another pool.
    with srv.keepalive(host="a.test") as ka:
        r1 = ka.get("/index.html")
        r2 = ka.get("/app/../app/index.html")
        r3 = ka.get("/app/../index.html")
        check((r1.pool, r2.pool, r3.pool) == ("A", "B", "A"),
              "keep-alive across pools: %r %r %r" % (r1, r2, r3))

    r = srv.get("/index.html", host="nosuch.test")
    check(r.status == 400, "no binding: %r" % r)
    check(b"Invalid Hostname" in r.body, "400 body %r" % r.body[:200])
    raw = srv.raw(b"GET / HTTP/1.0\r\n\r\n")
    check(wasptest.parse_status(raw) == 400, "no Host, no empty-host binding: %r" % raw[:100])
    raw = srv.raw(b"GET / HTTP/1.1\r\nHost: a.test\r\nBad\r\n\r\n")
    check(wasptest.parse_status(raw) == 400, "malformed head: %r" % raw[:100])


wasptest.main(test)
