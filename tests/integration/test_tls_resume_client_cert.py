"""Session resumption on a site that asks for a client certificate
(SslNegotiateCert): the resumed handshake succeeds (TLS 1.2 and 1.3) and the
request still sees the certificate the session was made with (CERT_FLAGS 1,
CERT_SUBJECT). The contexts of the certificate files share the base
context's session id context: without it OpenSSL refuses to resume a
session on a handshake that verifies its peer, as a failed handshake."""
import socket
import ssl

import tlstest
from wasptest import check
import wasptest


def var_on(s, name):
    st, _, b = tlstest.request(s, "/__wasp_test/var/" + name, "a.test", close=False)
    check(st == 200, "%s: status %d" % (name, st))
    text = b.decode()
    check(text.startswith(name + "="), "%s: %r" % (name, text))
    return text[len(name) + 1:]


def test(t):
    root, _, h, _, ca_file, good = tlstest.client_cert_setup(t)
    access = ('  <location path="a">\n    <system.webServer>\n      <security>\n'
              '        <access sslFlags="SslNegotiateCert" />\n      </security>\n'
              '    </system.webServer>\n  </location>\n')
    srv = tlstest.server(t, "A", [tlstest.site("a", 1, [
        {"binding": "https/127.0.0.1:{port}:a.test", "sslFlags": 1, "certificateHash": h}])],
        apphost_xml=tlstest.store_xml(root, ca_file=ca_file), extra_xml=access)
    srv.start()
    port = srv.port
    wasptest.wait_until(lambda: tlstest.handshake_ok(port, "a.test"), what="the https binding")

    for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = tlstest.context(client_cert=good)
        ctx.minimum_version = ctx.maximum_version = v
        with tlstest.connect(port, sni="a.test", ctx=ctx) as s:
            check(var_on(s, "CERT_FLAGS") == "1", "%s: first CERT_FLAGS" % v)
            session = s.session  # TLS 1.3's ticket came with the response
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            s = ctx.wrap_socket(raw, server_hostname="a.test", session=session)
        except (ssl.SSLError, OSError) as e:
            raw.close()
            check(False, "%s: the resumed handshake failed: %s" % (v, e))
        with s:
            check(s.session_reused, "%s: not resumed" % v)
            check(var_on(s, "CERT_FLAGS") == "1", "%s: resumed CERT_FLAGS" % v)
            subject = var_on(s, "CERT_SUBJECT")
            check("CN=alice" in subject, "%s: resumed CERT_SUBJECT %r" % (v, subject))


wasptest.main(test)
