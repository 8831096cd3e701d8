"""ARR's reverse proxy: with system.webServer/proxy enabled, a URL Rewrite
rule to http://127.0.0.1:PORT/{R:1} proxies the request (the backend sees
the rewritten target, X-Forwarded-For, X-Original-URL, X-ARR-LOG-ID, Max-Forwards
and no hop-by-hop field); preserveHostHeader both ways; Location and
Content-Location rewritten back to the client's host; xForwardedForHeaderName
and includePortInXForwardedFor; maxResponseHeaderSize; a backend that hangs is 502.3 after timeout;
a backend named by a host name; a dead backend and an https:// URL are 502.3; a WebSocket goes through the
rewrite; Max-Forwards ends a rule proxying back to its own site. (Disabled, the absolute rewrite's 404.4 is test_mod_rewrite's.)"""
import json
import os
import time

import arrtest
import wasptest
from wasptest import check
from wstest import close, echo, handshake


def echo_of(r):
    check(r.status == 200, "status %r %r" % (r, r.body[:200]))
    d = json.loads(r.body)
    d["h"] = {k.lower(): v for k, v in d["headers"]}
    return d


def web_configs(srv, be, dead):
    """Each site: /dead/ to a closed port, /tls/ to https://, the rest to be."""
    for p in srv.pool_names:
        wasptest.write_content(os.path.join(srv.content_dir(p), "web.config"), """
<configuration><system.webServer><rewrite><rules>
<rule name="dead" stopProcessing="true"><match url="^dead/(.*)" />
<action type="Rewrite" url="http://127.0.0.1:%d/{R:1}" /></rule>
<rule name="tls" stopProcessing="true"><match url="^tls/(.*)" />
<action type="Rewrite" url="https://127.0.0.1:%d/{R:1}" /></rule>
<rule name="name" stopProcessing="true"><match url="^name/(.*)" />
<action type="Rewrite" url="http://localhost:%d/{R:1}" /></rule>
<rule name="nxdomain" stopProcessing="true"><match url="^nxdomain/(.*)" />
<action type="Rewrite" url="http://no-such-host.invalid/{R:1}" /></rule>
<rule name="loop" stopProcessing="true"><match url="^loop/(.*)" />
<action type="Rewrite" url="http://127.0.0.1:%d/loop/{R:1}" /></rule>
<rule name="raw" stopProcessing="true"><match url="^raw/" />
<action type="Rewrite" url="http://127.0.0.1:%d/echo{UNENCODED_URL}" appendQueryString="false" />
</rule>
<rule name="arr" stopProcessing="true"><match url="^(.*)" />
<action type="Rewrite" url="http://127.0.0.1:%d/{R:1}" /></rule>
</rules></rewrite></system.webServer></configuration>
""" % (dead, be.port, be.port, srv.port, be.port, be.port))


def test(t):
    be = arrtest.Backend(t, "one")
    dead = wasptest.free_port()
    srv = t.server(pools={"A": {}}, web_server_xml='<proxy enabled="true" />')
    other = t.server(pools={"B": {}}, web_server_xml="""<proxy enabled="true"
      preserveHostHeader="true" timeout="00:00:02" xForwardedForHeaderName="X-Client-IP"
      includePortInXForwardedFor="false" reverseRewriteHostInResponseHeaders="false"
      maxResponseHeaderSize="1" />""")
    web_configs(srv, be, dead)
    web_configs(other, be, dead)
    srv.start()
    other.start()

    # the request as the backend sees it
    r = srv.get("/echo/a%20b?x=1", pool="A", headers={
        "Connection": "close, X-Hop", "X-Hop": "1", "Keep-Alive": "timeout=5",
        "X-Forwarded-For": "10.0.0.1", "X-Original-URL": "/forged", "X-Custom": "kept"})
    d = echo_of(r)
    h = d["h"]
    check(d["target"] == "/echo/a%20b?x=1", "target %r" % d["target"])
    check(h.get("host") == "127.0.0.1:%d" % be.port, "Host %r" % h.get("host"))
    check(h.get("x-forwarded-for", "").startswith("10.0.0.1, 127.0.0.1:"), "XFF %r" % h)
    check(h.get("x-original-url") == "/echo/a%20b?x=1", "X-Original-URL %r" % h)
    check(len(h.get("x-arr-log-id", "")) == 36, "X-ARR-LOG-ID %r" % h)
    check(h.get("x-custom") == "kept", "X-Custom %r" % h)
    check(h.get("max-forwards") == "9", "Max-Forwards %r" % h)
    for gone in ("x-hop", "keep-alive", "x-forwarded-proto"):
        check(gone not in h, "%s reached the backend: %r" % (gone, h))
    check(r.header("x-wasp-pool") == "A", "served by %r" % r.headers)

    # a path already encoded (UNENCODED_URL) keeps its escapes; a space,
    # once decoded for {R:1}, is encoded again (above)
    d = echo_of(srv.get("/raw/a%3Fb%20c?q=%41", pool="A"))
    check(d["target"] == "/echo/raw/a%3Fb%20c?q=%41", "raw target %r" % d["target"])

    # a host name, resolved (localhost: /etc/hosts), twice (then kept)
    for _ in range(2):
        h = echo_of(srv.get("/name/echo", pool="A"))["h"]
        check(h.get("host") == "localhost:%d" % be.port, "by name: Host %r" % h)
    # a name that does not resolve (asked of the name servers, the worker
    # serving on meanwhile): 502.3
    r = srv.get("/nxdomain/x", pool="A", timeout=90)
    check(r.status == 502 and r.header("x-wasp-substatus") == "3", "nxdomain %r" % r)
    srv.wait_log("cannot be resolved")

    # preserveHostHeader="true": the client's Host; xForwardedForHeaderName,
    # includePortInXForwardedFor="false"
    h = echo_of(other.get("/echo", pool="B"))["h"]
    check(h.get("host") == "b.test", "preserved Host %r" % h.get("host"))
    check(h.get("x-client-ip") == "127.0.0.1" and "x-forwarded-for" not in h, "XFF %r" % h)

    # Location back to the client's host (A); B's backend used the client's
    # Host already, and B does not rewrite
    r = srv.get("/redirect", pool="A")
    check(r.status == 302 and r.header("location") == "http://a.test/landed"
          and r.header("content-location") == "http://a.test/landed", "A %r" % r.headers)
    r = other.get("/redirect", pool="B")
    check(r.header("location") == "http://b.test/landed", "B %r" % r.headers)

    # a backend that does not answer: 502.3 after B's 2 s
    t0 = time.monotonic()
    r = other.get("/hang", pool="B", timeout=30)
    took = time.monotonic() - t0
    check(r.status == 502 and r.header("x-wasp-substatus") == "3", "hang %r" % r)
    check(1.5 <= took < 20, "502.3 after %.1fs" % took)

    # maxResponseHeaderSize: 128 KiB by default (a 100 KB head passes), 1
    # KiB on B
    r = srv.get("/bighead?n=100000", pool="A")
    check(r.status == 200 and len(r.header("x-big-0", "") + r.header("x-big-50000", "")) == 100000,
          "100 KB head %r" % r)
    r = other.get("/bighead?n=100", pool="B")
    check(r.status == 200 and r.body == b"big head", "small head on B %r" % r)
    r = other.get("/bighead?n=2000", pool="B")
    check(r.status == 502 and r.header("x-wasp-substatus") == "3", "2 KB head on B %r" % r)

    # Max-Forwards: none left is 400; a rule proxying back to its own site
    # (B keeps the client's Host) goes round 10 times, then ends in 400
    r = srv.get("/echo", pool="A", headers={"Max-Forwards": "0"})
    check(r.status == 400, "Max-Forwards 0 %r" % r)
    check(echo_of(srv.get("/echo", pool="A", headers={"Max-Forwards": "3"}))["h"].get(
        "max-forwards") == "2", "Max-Forwards 3")
    r = other.get("/loop/x", pool="B", timeout=30)
    check(r.status == 400 and b"Max-Forwards" in r.body, "loop %r %r" % (r, r.body[:300]))

    # a dead backend, an https:// one
    r = srv.get("/dead/x", pool="A")
    check(r.status == 502 and r.header("x-wasp-substatus") == "3", "dead %r" % r)
    r = srv.get("/tls/x", pool="A")
    check(r.status == 502 and r.header("x-wasp-substatus") == "3", "https %r" % r)
    srv.wait_log("https:// backends need TLS")

    # WebSocket through the rewrite
    s, _ = handshake(srv.port, srv.host("A"))
    echo(s, b"through ARR")
    echo(s, os.urandom(200000), opcode=2)
    close(s)


wasptest.main(test)
