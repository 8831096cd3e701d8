"""The HTTPS policy over TLS (worker/sslpolicy.c), with the listener's
https bindings: sslFlags Ssl serves over TLS and not over plain HTTP (403.4);
Ssl128 serves over TLS 1.2/1.3's ciphers (all 128 bits or more: a smaller key,
403.5, is the unit test's); SslRequireCert: 403.7 without a client
certificate, 200 with one from the configured CA, 403.16 with one from
another CA; SslNegotiateCert: served without one, 403.16 with an untrusted
one; the site's hsts: Strict-Transport-Security on HTTPS responses (errors
too) and never on plain HTTP; redirectHttpToHttps: 301 to the site's https
port with the same path and query. Skips when the listener has no https
support."""
import os
import wasptest
from wasptest import check, write_content
import tlstest


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
    tlstest.require_https()
    certs = tlstest.Certs(os.path.join(t.dir, "certs"))
    tls_a, tls_b = wasptest.free_port(), wasptest.free_port()
    sites = []
    for i, (name, port, hsts) in enumerate((
            ("A", tls_a, 'enabled="true" max-age="600" includeSubDomains="true"'),
            ("B", tls_b, 'enabled="true" max-age="31536000" preload="true" '
                         'redirectHttpToHttps="true"'))):
        sites.append({
            "name": name, "id": i + 1,
            "bindings": ["127.0.0.1:{port}:%s.test" % name.lower(), certs.binding(port)],
            "apps": [{"path": "/", "pool": name, "physicalPath": None}],
            "xml": "        <hsts %s />\n" % hsts,
        })
    srv = t.server(pools={"A": {}, "B": {}}, sites=[], web_server_xml=WEB_SERVER)
    for s in sites:
        s["apps"][0]["physicalPath"] = srv.content_dir(s["name"])
    srv.sites = [srv._fill_port(s) for s in sites]
    srv.config_text = wasptest.config_xml([{"name": "A"}, {"name": "B"}], srv.sites, None,
                                          WEB_SERVER)
    certs.configure(srv)
    a = srv.content_dir("A")
    for d in ("ssl", "ssl128", "cert", "negotiate"):
        write_content(os.path.join(a, d, "f.txt"), "x\n")
        os.chmod(os.path.join(a, d), 0o755)
    srv.start()
    wasptest.wait_until(lambda: tlstest.tls_port_open(tls_a) and tlstest.tls_port_open(tls_b),
                        what="the https bindings")

    def over_tls(path, want, sub=None, cert=None):
        r = tlstest.https_request(tls_a, path, host="a.test", cert=cert)
        got_sub = r.header("X-Wasp-Substatus")
        check(r.status == want and (sub is None or got_sub == str(sub)),
              "https %s: expected %d.%s, got %r (substatus %r)" % (path, want, sub, r, got_sub))
        check(r.header("Strict-Transport-Security") == "max-age=600; includeSubDomains",
              "https %s: Strict-Transport-Security %r" % (path, r.header("Strict-Transport-Security")))
        return r

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
    r = tlstest.https_request(tls_b, "/index.html", host="b.test")
    check(r.status == 200 and r.header("Location") is None and
          r.header("Strict-Transport-Security") == "max-age=31536000; preload",
          "B over TLS: %r %r" % (r, r.headers))


wasptest.main(test)
