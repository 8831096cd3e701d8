"""The HTTPS policy over plain HTTP (worker/sslpolicy.c):
system.webServer/security/access sslFlags per <location> (Ssl 403.4, Ssl128
403.5, SslRequireCert 403.7; SslNegotiateCert and SslMapCert alone serve),
inherited and overridden below, locked (overrideModeDefault Deny: a
web.config setting it is 500.19 unless unlocked), checked for the URL an
internal redirect (a default document) goes to, IIS's page; the site's hsts
redirectHttpToHttps (301 to https, the same path and query, the Host's port
dropped; siteDefaults' hsts for a site without its own) and no
Strict-Transport-Security on plain HTTP. The same over TLS:
test_https_policy."""
import os
import httpspol
import wasptest
from wasptest import check, write_content


def access(path, flags, override=None):
    o = ' overrideMode="%s"' % override if override else ""
    return ('  <location path="%s"%s><system.webServer><security>'
            '<access sslFlags="%s" /></security></system.webServer></location>\n'
            % (path, o, flags))


WEB_SERVER = ("  </system.webServer>\n" +
              access("A/ssl", "Ssl") +
              access("A/ssl/open", "None") +
              access("A/ssl128", "Ssl128") +
              access("A/cert", "SslRequireCert") +
              access("A/negotiate", "SslNegotiateCert") +
              access("A/map", "SslMapCert") +
              access("A/both", "Ssl, SslNegotiateCert, SslRequireCert, Ssl128") +
              access("A/unlocked", "None", "Allow") +
              access("A/ddoc/index.html", "Ssl") +
              "  <system.webServer>")

WEB_CONFIG = """<configuration><system.webServer>
  <security><access sslFlags="Ssl" /></security>
</system.webServer></configuration>
"""

HSTS = ('<hsts enabled="true" max-age="31536000" includeSubDomains="true" '
        'preload="true"%s />')


def test(t):
    srv = t.server(pools={"A": {}, "B": {}, "C": {}}, web_server_xml=WEB_SERVER)
    a = srv.content_dir("A")
    # A: hsts without the redirect; B: hsts and redirectHttpToHttps; C:
    # none of its own, siteDefaults' (the redirect)
    srv.config_text = httpspol.with_hsts(srv.config_text, [
        HSTS % ' redirectHttpToHttps="false"', HSTS % ' redirectHttpToHttps="true"'])
    srv.config_text = srv.config_text.replace(
        "    </sites>", '      <siteDefaults><hsts redirectHttpToHttps="true" /></siteDefaults>\n'
        "    </sites>")
    for d in ("ssl/open", "ssl128", "cert", "negotiate", "map", "both", "locked",
              "unlocked"):
        write_content(os.path.join(a, d, "f.txt"), "x\n")
        os.chmod(os.path.join(a, d), 0o755)
    os.chmod(os.path.join(a, "ssl"), 0o755)
    write_content(os.path.join(a, "ssl", "f.txt"), "x\n")
    write_content(os.path.join(a, "ddoc", "index.html"), "secret\n")
    os.chmod(os.path.join(a, "ddoc"), 0o755)
    write_content(os.path.join(a, "locked", "web.config"), WEB_CONFIG)
    write_content(os.path.join(a, "unlocked", "web.config"), WEB_CONFIG)
    srv.start()

    def status(path, want, sub=None, pool="A"):
        r = srv.get(path, pool=pool)
        got_sub = r.header("X-Wasp-Substatus")
        check(r.status == want and (sub is None or got_sub == str(sub)),
              "%s: expected %d.%s, got %r (substatus %r)" % (path, want, sub, r, got_sub))
        check(r.header("Strict-Transport-Security") is None,
              "%s: Strict-Transport-Security over plain HTTP" % path)
        return r

    status("/index.html", 200)
    r = status("/ssl/f.txt", 403, 4)
    check(b"Secure Sockets Layer (SSL)" in r.body, "403.4 page %r" % r.body)
    status("/ssl/", 403, 4)
    status("/ssl/open/f.txt", 200)          # a deeper location turns it off
    status("/ssl128/f.txt", 403, 5)         # plain HTTP has no key
    status("/cert/f.txt", 403, 7)           # nor a client certificate
    status("/negotiate/f.txt", 200)         # accepted, not required
    status("/map/f.txt", 200)               # no mapping configured: ignored
    status("/both/f.txt", 403, 4)           # SSL first
    # a default document is the URL it is redirected to: its own sslFlags
    status("/ddoc/index.html", 403, 4)
    status("/ddoc/", 403, 4)
    # security/access is locked (overrideModeDefault Deny) unless unlocked
    status("/locked/f.txt", 500, 19)
    status("/unlocked/f.txt", 403, 4)

    # B: redirectHttpToHttps, whatever the path, with the query; the Host's
    # port goes (B has no https binding: the standard port)
    for path in ("/index.html", "/a%20b/c.txt?x=1&y=%2F", "/"):
        r = srv.get(path, pool="B")
        want = "https://%s%s" % (srv.host("B"), path)
        check(r.status == 301 and r.header("Location") == want,
              "%s: expected 301 to %s, got %r %r" % (path, want, r, r.header("Location")))
        check(r.header("Strict-Transport-Security") is None, "hsts on the redirect")
    r = srv.get("/c.txt", pool="C")
    check(r.status == 301 and r.header("Location") == "https://%s/c.txt" % srv.host("C"),
          "siteDefaults' hsts: %r %r" % (r, r.header("Location")))
    r = wasptest.http_request(srv.port, "/q?z", host="%s:%d" % (srv.host("B"), srv.port))
    check(r.status == 301 and r.header("Location") == "https://%s/q?z" % srv.host("B"),
          "Host with a port: %r %r" % (r, r.header("Location")))


wasptest.main(test)
