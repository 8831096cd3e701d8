"""The HTTPS policy over TLS (worker/sslpolicy.c), with the listener's
https bindings: sslFlags Ssl serves over TLS and not over plain HTTP (403.4);
Ssl128 serves over TLS 1.2/1.3's ciphers (all 128 bits or more: a smaller
key, 403.5, is the unit test's); SslRequireCert: 403.7 without a client
certificate, 200 with one from the configured CA, 403.16 with a self-signed
one; SslNegotiateCert: served without one, 403.16 with an untrusted one; the
site's hsts: Strict-Transport-Security on HTTPS responses (errors too) and
never on plain HTTP; redirectHttpToHttps: 301 to the site's https port with
the same path and query. Skips when the listener has no https support."""
import os
import httpspol
import wasptest
from wasptest import check, write_content


def access(path, flags):
    return ('  <location path="%s"><system.webServer><security>'
            '<access sslFlags="%s" /></security></system.webServer></location>\n'
            % (path, flags))


WEB_SERVER = ("  </system.webServer>\n" +
              access("A/ssl", "Ssl") +
              access("A/ssl128", "Ssl, Ssl128") +
              access("A/cert", "Ssl, SslNegotiateCert, SslRequireCert") +
              access("A/negotiate", "Ssl, SslNegotiateCert") +
              "  <system.webServer>")


def test(t):
    httpspol.require_https()
    certs = httpspol.Certs(t)
    tls_a, tls_b = wasptest.free_port(), wasptest.free_port()
    sites = [{"name": name, "id": i + 1,
              "bindings": ["127.0.0.1:{port}:%s.test" % name.lower(), certs.binding(port)],
              "apps": [{"path": "/", "pool": name}]}
             for i, (name, port) in enumerate((("A", tls_a), ("B", tls_b)))]
    # the listener asks for client certificates on the https bindings of a
    # site one of whose applications has SslNegotiateCert or SslRequireCert
    # (waspd reads applicationHost.config at each application's root)
    for d in ("cert", "negotiate"):
        sites[0]["apps"].append({"path": "/" + d, "pool": "A", "subdir": d})
    srv = httpspol.server(t, certs, sites, WEB_SERVER, hsts=(
        '<hsts enabled="true" max-age="600" includeSubDomains="true" />',
        '<hsts enabled="true" max-age="31536000" preload="true" redirectHttpToHttps="true" />'))
    for d in ("ssl", "ssl128", "cert", "negotiate"):
        write_content(os.path.join(srv.content_dir("A"), d, "f.txt"), "x\n")
    srv.start()
    certs.wait_open(tls_a)
    certs.wait_open(tls_b)

    def over_tls(path, want, sub=None, cert=None):
        st, h, _ = certs.get(tls_a, path, "a.test", cert=cert)
        got_sub = h.get("x-wasp-substatus")
        check(st == want and (sub is None or got_sub == str(sub)),
              "https %s: expected %d.%s, got %d (substatus %r)" % (path, want, sub, st, got_sub))
        check(h.get("strict-transport-security") == "max-age=600; includeSubDomains",
              "https %s: Strict-Transport-Security %r" % (path, h.get("strict-transport-security")))

    def plain(path, want, sub=None):
        r = srv.get(path, pool="A")
        check(r.status == want and (sub is None or r.header("X-Wasp-Substatus") == str(sub)),
              "http %s: expected %d.%s, got %r" % (path, want, sub, r))
        check(r.header("Strict-Transport-Security") is None,
              "http %s: Strict-Transport-Security over plain HTTP" % path)

    over_tls("/index.html", 200)
    plain("/index.html", 200)
    over_tls("/ssl/f.txt", 200)
    plain("/ssl/f.txt", 403, 4)
    over_tls("/ssl128/f.txt", 200)
    over_tls("/nothing-here", 404)             # the header on errors too
    # client certificates
    over_tls("/cert/f.txt", 403, 7)
    over_tls("/cert/f.txt", 200, cert=certs.client)
    over_tls("/cert/f.txt", 403, 16, cert=certs.rogue)
    over_tls("/negotiate/f.txt", 200)
    over_tls("/negotiate/f.txt", 200, cert=certs.client)
    over_tls("/negotiate/f.txt", 403, 16, cert=certs.rogue)

    # B: plain HTTP goes to its https binding's port, path and query kept
    r = srv.get("/dir/x.txt?a=1&b=%2F", pool="B")
    want = "https://b.test:%d/dir/x.txt?a=1&b=%%2F" % tls_b
    check(r.status == 301 and r.header("Location") == want,
          "redirect: expected 301 to %s, got %r %r" % (want, r, r.header("Location")))
    check(r.header("Strict-Transport-Security") is None, "hsts on the plain redirect")
    st, h, _ = certs.get(tls_b, "/index.html", "b.test")
    check(st == 200 and "location" not in h and
          h.get("strict-transport-security") == "max-age=31536000; preload",
          "B over TLS: %d %r" % (st, h))


wasptest.main(test)
