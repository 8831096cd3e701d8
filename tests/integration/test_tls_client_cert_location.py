"""A <location> of applicationHost.config below an application (not an
application's root) with SslRequireCert: the site's handshakes ask for a
client certificate, so a client with one gets 200 there, one without
403.7; the rest of the site still serves without one (its handshakes ask
too: IIS with negotiation at the binding). A site whose locations ask
nothing is not asked."""
import os

import httpspol
import tlstest
import wasptest
from wasptest import check, write_content


def test(t):
    httpspol.require_https()
    certs = httpspol.Certs(t)
    port = wasptest.free_port()
    sites = [{"name": "A", "id": 1,
              "bindings": ["127.0.0.1:{port}:a.test", certs.binding(port, "a.test")],
              "apps": [{"path": "/", "pool": "A"},
                       {"path": "/app", "pool": "A", "subdir": "app"}]},
             {"name": "B", "id": 2,
              "bindings": ["127.0.0.1:{port}:b.test", certs.binding(port, "b.test")],
              "apps": [{"path": "/", "pool": "A"}]}]
    web = ("  </system.webServer>\n"
           '  <location path="A/app/dir"><system.webServer><security>'
           '<access sslFlags="Ssl, SslRequireCert" /></security></system.webServer>'
           "</location>\n"
           '  <location path="B/dir"><system.webServer><security>'
           '<access sslFlags="Ssl" /></security></system.webServer></location>\n'
           "  <system.webServer>")
    srv = httpspol.server(t, certs, sites, web)
    write_content(os.path.join(srv.content_dir("A"), "app", "dir", "f.txt"), "x\n")
    write_content(os.path.join(srv.content_dir("A"), "app", "g.txt"), "y\n")
    srv.start()
    wasptest.wait_until(lambda: tlstest.handshake_ok(port, "a.test"), what="a TLS handshake")

    def get(path, host="a.test", cert=None):
        st, h, _, _ = tlstest.get(port, path, host, sni=host, client_cert=cert)
        return st, h.get("x-wasp-substatus")

    check(get("/app/dir/f.txt", cert=certs.client) == (200, None),
          "with a certificate: %r" % (get("/app/dir/f.txt", cert=certs.client),))
    check(get("/app/dir/f.txt") == (403, "7"), "without: %r" % (get("/app/dir/f.txt"),))
    check(get("/app/g.txt")[0] == 200, "the application outside the location")
    check(get("/index.html")[0] in (200, 404), "the root application")
    # asked at the site's root too (the handshake asks), and verified
    flags = tlstest.var(port, "a.test", "CERT_FLAGS", sni="a.test", client_cert=certs.client)
    check(flags == "1", "site A's root: CERT_FLAGS %r" % flags)
    flags = tlstest.var(port, "b.test", "CERT_FLAGS", sni="b.test", client_cert=certs.client)
    check(flags == "0", "site B is not asked: CERT_FLAGS %r" % flags)



wasptest.main(test)
