"""Failed TLS handshakes are logged in HTTPERR, one line per connection at
most, with the client's and the binding's addresses, and counted by kind
in the listener's metrics: bytes that are not a ClientHello
(SslHandshake_NotTls), no cipher in common (SslHandshake_NoCommonProtocol),
a server name no binding has a certificate for, with no default one
(SslHandshake_UnknownHost), a client that refuses our certificate
(SslHandshake_ClientAlert), a ClientHello begun and not finished within the
header timeout (Timer_SslHandshake). A connection that sends nothing is
neither (Timer_ConnectionIdle at the header timeout, as over plain HTTP; no
line when it just closes). A flood of bad handshakes writes one line each."""
import os
import socket
import ssl

import httpspol
import wasptest
from metricstest import metrics, value
from wasptest import check, wait_until, TIME_SCALE

FIELDS = ("date time c-ip c-port s-ip s-port cs-version cs-method cs-uri sc-status s-siteid "
          "s-reason s-queuename").split(" ")
FLOOD = 40


def test(t):
    httpspol.require_https()
    certs = httpspol.Certs(t)
    tlstest = certs.tlstest
    port = wasptest.free_port()
    # the https binding names its host: no default certificate for other names
    sites = [{"name": "A", "id": 1,
              "bindings": ["127.0.0.1:{port}:a.test", certs.binding(port, "a.test")],
              "apps": [{"path": "/", "pool": "A"}]}]
    srv = httpspol.server(t, certs, sites)
    srv.config_text = srv.config_text.replace(
        "    <sites>\n", "    <webLimits headerWaitTimeout=\"00:00:01\" />\n    <sites>\n", 1)
    srv.start()
    wait_until(lambda: tlstest.handshake_ok(port, "a.test"), what="a TLS handshake")
    path = os.path.join(t.dir, "logs", "HTTPERR", "httperr1.log")

    def entries():
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read().splitlines()
        except FileNotFoundError:
            return []
        return [dict(zip(FIELDS, ln.split(" "))) for ln in text if not ln.startswith("#")]

    def reasons():
        return [e["s-reason"] for e in entries()]

    def expect(reason, n=1):
        wait_until(lambda: reasons().count(reason) >= n, 15 * TIME_SCALE,
                   what="%d HTTPERR line(s) %s in %r" % (n, reason, reasons()[-10:]))

    def raw(data, wait_close=True):
        s = socket.create_connection(("127.0.0.1", port), timeout=10 * TIME_SCALE)
        if data:
            s.sendall(data)
        if wait_close:
            try:
                while s.recv(4096):
                    pass
            except OSError:
                pass
            s.close()
        return s

    # plain HTTP on the https port
    raw(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
    expect("SslHandshake_NotTls")
    e = [x for x in entries() if x["s-reason"] == "SslHandshake_NotTls"][0]
    check(e["c-ip"] == "127.0.0.1" and e["s-port"] == str(port) and e["c-port"].isdigit()
          and e["sc-status"] == "-" and e["cs-method"] == "-", "the line %r" % e)
    # TLS 1.2 with ciphers the listener does not offer (RSA key exchange, CBC)
    ctx = tlstest.context()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("AES128-SHA")
    _fails(lambda: tlstest.connect(port, sni="a.test", ctx=ctx))
    expect("SslHandshake_NoCommonProtocol")
    # a name with no certificate, and no default binding
    _fails(lambda: tlstest.connect(port, sni="other.test"))
    expect("SslHandshake_UnknownHost")
    # a client that checks our certificate (self-signed) and refuses it
    strict = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _fails(lambda: tlstest.connect(port, sni="a.test", ctx=strict))
    expect("SslHandshake_ClientAlert")
    # the start of a ClientHello, then nothing: the header timeout ends it
    s = raw(b"\x16\x03\x01\x02\x00\x01", wait_close=False)
    expect("Timer_SslHandshake")
    s.close()
    # nothing sent: as over plain HTTP; connected and closed: no line
    s = raw(b"", wait_close=False)
    expect("Timer_ConnectionIdle")
    s.close()
    raw(b"")
    # a flood: one line per connection
    before = len(entries())
    for _ in range(FLOOD):
        raw(b"\x00" * 64)
    expect("SslHandshake_NotTls", 1 + FLOOD)
    wait_until(lambda: value(metrics(srv), "wasp_listener_tls_handshake_failures_total",
                             reason="not_tls") == 1 + FLOOD, 15 * TIME_SCALE,
               what="the metrics of failed handshakes")
    check(len(entries()) == before + FLOOD, "lines after the flood: %d, expected %d"
          % (len(entries()), before + FLOOD))
    check(reasons().count("Timer_SslHandshake") == 1, "lines %r" % reasons())
    m = metrics(srv)
    for reason, n in (("no_common_protocol", 1), ("unknown_host", 1), ("client_alert", 1),
                      ("timeout", 1), ("dropped", 0), ("other", 0)):
        got = value(m, "wasp_listener_tls_handshake_failures_total", reason=reason)
        check(got == n, "%s: %r, expected %d" % (reason, got, n))
    # and a good handshake still serves
    st, _, _, _ = tlstest.get(port, "/index.html", "a.test", sni="a.test")
    check(st in (200, 404), "a request after all that: %d" % st)



def _fails(connect):
    try:
        s = connect()
    except (ssl.SSLError, OSError):
        return
    # TLS 1.3: the client may finish before it learns of a failure
    try:
        s.recv(1)
    except (ssl.SSLError, OSError):
        pass
    s.close()


wasptest.main(test)
