"""A web.config's SslRequireCert, which waspd does not read when it makes
the routing table, so the handshake did not ask for a client certificate:
the worker hands the request back and the listener asks, as HTTP.sys
renegotiates: TLS 1.3 with post-handshake authentication when the client
offered it, TLS 1.2 with a renegotiation the server starts (full, not
resumed); the request is then routed again with the certificate (200) or
without (403.7). A TLS 1.3 client without post-handshake authentication
is not asked (403.7). Once per connection: a second request on it is not
asked again. The rest of the site is not asked. A client that does not
answer is dropped at the header timeout (HTTPERR Timer_SslRenegotiation).
A renegotiation the client starts is still refused."""
import os
import shutil
import ssl
import subprocess

import httpspol
import tlstest
import wasptest
from metricstest import metrics, value
from wasptest import check, wait_until, write_content, TIME_SCALE

WEB_CONFIG = ("<?xml version=\"1.0\"?>\n<configuration><system.webServer><security>"
              "<access sslFlags=\"Ssl, SslRequireCert\" /></security></system.webServer>"
              "</configuration>\n")


def test(t):
    httpspol.require_https()
    certs = httpspol.Certs(t)
    port = wasptest.free_port()
    sites = [{"name": "A", "id": 1,
              "bindings": ["127.0.0.1:{port}:a.test", certs.binding(port, "a.test")],
              "apps": [{"path": "/", "pool": "A"}]}]
    # access may be set in a web.config of site A (overrideModeDefault is Deny)
    web = ("  </system.webServer>\n"
           '  <location path="A" overrideMode="Allow"><system.webServer><security>'
           "<access /></security></system.webServer></location>\n"
           "  <system.webServer>")
    srv = httpspol.server(t, certs, sites, web)
    srv.config_text = srv.config_text.replace(
        "    <sites>\n", "    <webLimits headerWaitTimeout=\"00:00:02\" />\n    <sites>\n", 1)
    content = srv.content_dir("A")
    write_content(os.path.join(content, "dir", "f.txt"), "secret\n")
    write_content(os.path.join(content, "dir", "web.config"), WEB_CONFIG)
    write_content(os.path.join(content, "open.txt"), "open\n")
    srv.start()
    wait_until(lambda: tlstest.handshake_ok(port, "a.test"), what="a TLS handshake")

    def ctx(version, cert=None, pha=False):
        c = tlstest.context(cert)
        c.minimum_version = c.maximum_version = version
        if pha:
            c.post_handshake_auth = True
        return c

    def get(c, path="/dir/f.txt", n=1):
        with tlstest.connect(port, sni="a.test", ctx=c) as s:
            out = []
            for i in range(n):
                st, h, b = tlstest.request(s, path, "a.test", close=(i == n - 1))
                out.append((st, h.get("x-wasp-substatus"), b))
            return out

    def asked():
        m = metrics(srv)
        return tuple(value(m, "wasp_listener_tls_client_cert_requests_total", result=r) or 0
                     for r in ("received", "none"))

    v13, v12 = ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2
    # not asked for what does not want one
    st, _, b = get(ctx(v13, certs.client, pha=True), "/open.txt")[0]
    check(st == 200 and b == b"open\n", "open.txt: %d %r" % (st, b))
    # TLS 1.3, post-handshake authentication
    st, sub, b = get(ctx(v13, certs.client, pha=True))[0]
    check(st == 200 and b == b"secret\n", "TLS 1.3 with a certificate: %d.%s" % (st, sub))
    st, sub, _ = get(ctx(v13, None, pha=True))[0]
    check((st, sub) == (403, "7"), "TLS 1.3 without a certificate: %d.%s" % (st, sub))
    st, sub, _ = get(ctx(v13, certs.client, pha=False))[0]
    check((st, sub) == (403, "7"), "TLS 1.3 without post-handshake auth: %d.%s" % (st, sub))
    # TLS 1.2: renegotiation
    st, sub, b = get(ctx(v12, certs.client))[0]
    check(st == 200 and b == b"secret\n", "TLS 1.2 with a certificate: %d.%s" % (st, sub))
    st, sub, _ = get(ctx(v12, None))[0]
    check((st, sub) == (403, "7"), "TLS 1.2 without a certificate: %d.%s" % (st, sub))
    # once per connection: the second request is not asked again
    two = get(ctx(v13, None, pha=True), n=2)
    check([(x[0], x[1]) for x in two] == [(403, "7"), (403, "7")], "twice: %r" % two)
    # an untrusted certificate sent when asked: 403.16
    st, sub, _ = get(ctx(v12, certs.rogue))[0]
    check((st, sub) == (403, "16"), "TLS 1.2, untrusted: %d.%s" % (st, sub))
    wait_until(lambda: asked() == (3, 3), 15 * TIME_SCALE,
               what="asked 6 times, 3 certificates received (%r)" % (asked(),))
    _client_renegotiation_refused(port)
    # a client that sends its request and does not read the HelloRequest
    s = tlstest.connect(port, sni="a.test", ctx=ctx(v12, certs.client))
    s.sendall(b"GET /dir/f.txt HTTP/1.1\r\nHost: a.test\r\n\r\n")
    path = os.path.join(t.dir, "logs", "HTTPERR", "httperr1.log")
    wait_until(lambda: os.path.exists(path) and "Timer_SslRenegotiation" in open(path).read(),
               15 * TIME_SCALE, what="HTTPERR Timer_SslRenegotiation")
    s.close()



def _client_renegotiation_refused(port):
    """openssl s_client's "R" asks for a renegotiation: refused (the
    connection ends), where one the server starts is taken."""
    if not shutil.which("openssl"):
        return
    p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                        "-servername", "a.test", "-tls1_2", "-no_ign_eof"],
                       input=b"R\nGET /open.txt HTTP/1.1\r\nHost: a.test\r\n\r\n",
                       capture_output=True, timeout=30 * TIME_SCALE)
    out = p.stdout + p.stderr
    check(b"RENEGOTIATING" in out, "s_client did not renegotiate: %r" % out[-500:])
    check(b"no renegotiation" in out or b"HTTP/1.1 200" not in out,
          "a client's renegotiation was not refused: %r" % out[-800:])


wasptest.main(test)
