"""A stopped application pool gets 503 with Retry-After from the listener
(HttpLevel) or a reset (TcpLevel) while another pool answers 200; started
again, it serves."""
import wasptest
from wasptest import check, wait_until


def test(t):
    srv = t.server(pools={"A": {}, "B": {}, "T": {
        "failure": {"loadBalancerCapabilities": "TcpLevel"}}}).start()
    for name in ("A", "B", "T"):
        r = srv.get(pool=name)
        check(r.status == 200 and r.pool == name, "before: %s %r" % (name, r))

    srv.waspctl("stop", "apppool", "A")
    srv.waspctl("stop", "apppool", "T")
    wait_until(lambda: srv.get(pool="A").status == 503, what="503 from the stopped pool")
    r = srv.get(pool="A")
    check(r.status == 503 and r.header("Retry-After"), "stopped pool %r %r" % (r, r.headers))
    r = srv.get(pool="B")
    check(r.status == 200 and r.pool == "B", "other pool %r" % r)
    raw = srv.raw(b"GET /index.html HTTP/1.1\r\nHost: %s\r\n\r\n" % srv.host("T").encode())
    check(wasptest.parse_status(raw) is None, "TcpLevel stopped pool answered %r" % raw[:200])

    srv.waspctl("start", "apppool", "A")
    wait_until(lambda: srv.get(pool="A").status == 200, what="pool A serving again")
    check(srv.get(pool="A").pool == "A", "pool A after start")


wasptest.main(test)
