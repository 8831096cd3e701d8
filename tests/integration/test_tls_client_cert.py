"""Client certificates: a site with an application whose access sslFlags
has SslNegotiateCert gets asked for one in every handshake (never required: the worker decides),
checked against the CA bundle of system.applicationHost/wasp/tls; the
CERT_ server variables show what the client presented (a certificate of
that CA: CERT_FLAGS 1; a self-signed one: 3, its CA not valid; none: 0).
A site without it is not asked (a browser would prompt)."""

import tlstest
import wasptest
from wasptest import check


def test(t):
    root, d, h, _, ca_file, good = tlstest.client_cert_setup(t)
    stray = tlstest.make_key_cert(d, "stray", "mallory", kind="rsa", sans=["m.test"])

    sites = []
    for i, name in enumerate("ab"):
        apps = [{"path": "/", "pool": name.upper()}]
        if name == "a":
            # the application that asks; the variables are read at the root
            apps.append({"path": "/secure", "pool": "A"})
        sites.append(tlstest.site(name, i + 1,
                                  [{"binding": "https/127.0.0.1:{port}:%s.test" % name,
                                    "sslFlags": 1, "certificateHash": h}], apps=apps))
    access = ('  <location path="a/secure">\n    <system.webServer>\n      <security>\n'
              '        <access sslFlags="SslNegotiateCert" />\n      </security>\n'
              '    </system.webServer>\n  </location>\n')
    srv = tlstest.server(t, "AB", sites, apphost_xml=tlstest.store_xml(root, ca_file=ca_file),
                         extra_xml=access)
    srv.start()
    port = srv.port

    def v(name, cert=None, host="a.test"):
        return tlstest.var(port, host, name, sni=host, client_cert=cert)

    # none presented
    check(v("CERT_FLAGS") == "0", "no certificate: CERT_FLAGS %r" % v("CERT_FLAGS"))
    check(v("CERT_SUBJECT") == "", "no certificate: CERT_SUBJECT %r" % v("CERT_SUBJECT"))
    # one of the CA
    check(v("CERT_FLAGS", good) == "1", "CERT_FLAGS %r" % v("CERT_FLAGS", good))
    check("CN=alice" in v("CERT_SUBJECT", good), "CERT_SUBJECT %r" % v("CERT_SUBJECT", good))
    check("CN=wasp test CA" in v("CERT_ISSUER", good), "CERT_ISSUER %r"
          % v("CERT_ISSUER", good))
    serial = v("CERT_SERIALNUMBER", good)
    check(serial and all(c in "0123456789abcdef-" for c in serial), "serial %r" % serial)
    cookie = v("CERT_COOKIE", good)
    check(cookie == tlstest.fingerprint(good[0]).lower(), "CERT_COOKIE %r" % cookie)
    check(v("HTTPS", good) == "on", "HTTPS")
    # a certificate no CA of the bundle issued: presented, not valid
    check(v("CERT_FLAGS", stray) == "3", "stray: CERT_FLAGS %r" % v("CERT_FLAGS", stray))
    check("CN=mallory" in v("CERT_SUBJECT", stray), "stray subject")
    # site b does not ask: the client's certificate is not sent
    check(v("CERT_FLAGS", good, host="b.test") == "0",
          "site b: CERT_FLAGS %r" % v("CERT_FLAGS", good, host="b.test"))


wasptest.main(test)
