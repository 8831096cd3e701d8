"""HTTPS bindings: wasp-http terminates TLS and picks the certificate by SNI
among three sites on one port (RSA and ECDSA), the binding without a host
is the default certificate for a client that sends no SNI, requests route
by Host as over HTTP (an SNI/Host mismatch is allowed, as IIS allows it),
keep-alive crosses two pools on one TLS connection (the plaintext end goes
back to the listener, which keeps the session), only TLS 1.2 and 1.3 are
offered, curl --http1.1 works, and the HTTPS server variables reach the
worker (off over plain HTTP)."""
import os
import shutil
import ssl
import subprocess
import warnings

import tlstest
import wasptest
from wasptest import check


def test(t):
    tlstest.require_openssl()
    root = os.path.join(t.dir, "certs")
    d = os.path.join(t.dir, "keys")
    hashes = {}
    for name, kind in (("a", "rsa"), ("b", "ec"), ("c", "ec"), ("d", "rsa")):
        crt, key = tlstest.make_key_cert(d, name, "%s.test" % name, kind=kind)
        hashes[name] = tlstest.store_pem(root, crt, key,
                                         store="WebHosting" if name == "c" else "My")
    plain_port = wasptest.free_port()
    sites = []
    for i, name in enumerate("abcd"):
        pool = name.upper()
        host = "%s.test" % name if name != "d" else ""
        b = {"binding": "https/127.0.0.1:{port}:%s" % host, "sslFlags": 1 if host else 0,
             "certificateHash": hashes[name]}
        if name == "c":
            b["certificateStoreName"] = "WebHosting"
        bindings = [b]
        if name == "a":
            bindings.append("127.0.0.1:%d:a.test" % plain_port)
        sites.append(tlstest.site(name, i + 1, bindings, pool=pool))
    srv = tlstest.server(t, "ABCD", sites, apphost_xml=tlstest.store_xml(root))
    srv.start()
    port = srv.port

    # SNI picks each site's certificate; Host routes
    for name in "abc":
        st, h, body, ph = tlstest.get(port, "/index.html", "%s.test" % name,
                                      sni="%s.test" % name)
        check(st == 200 and body == ("pool %s\n" % name.upper()).encode(),
              "%s: %d %r" % (name, st, body))
        check(ph == hashes[name], "%s.test got certificate %s, not %s" % (name, ph,
                                                                          hashes[name]))
    # no SNI, or an unknown name: the default (host-less) binding's certificate
    for sni in (None, "other.test"):
        st, _, body, ph = tlstest.get(port, "/index.html", "a.test", sni=sni)
        check(ph == hashes["d"], "SNI %r got %s, not the default %s" % (sni, ph, hashes["d"]))
        check(st == 200 and body == b"pool A\n", "SNI %r, Host a.test: %d %r" % (sni, st, body))

    # keep-alive across two pools on one TLS connection
    with tlstest.connect(port, sni="a.test") as s:
        for host, pool in (("a.test", "A"), ("b.test", "B"), ("a.test", "A"),
                           ("c.test", "C")):
            st, h, body = tlstest.request(s, "/index.html", host, close=False)
            check(st == 200 and body == ("pool %s\n" % pool).encode(),
                  "keep-alive %s: %d %r" % (host, st, body))
            check(h.get("x-wasp-pool") == pool, "answered by %r" % h.get("x-wasp-pool"))

    # TLS 1.2 and 1.3 only
    warnings.filterwarnings("ignore", category=DeprecationWarning)  # TLSv1, TLSv1_1
    for v in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        ctx = tlstest.context()
        try:
            ctx.minimum_version = ctx.maximum_version = v
        except (ValueError, ssl.SSLError):
            continue
        try:
            with tlstest.connect(port, sni="a.test", ctx=ctx):
                check(False, "%s was accepted" % v)
        except (ssl.SSLError, OSError):
            pass
    for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = tlstest.context()
        ctx.minimum_version = ctx.maximum_version = v
        with tlstest.connect(port, sni="b.test", ctx=ctx) as s:
            check(s.version() == {ssl.TLSVersion.TLSv1_2: "TLSv1.2",
                                  ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[v], s.version())
            st, _, _ = tlstest.request(s, "/index.html", "b.test")
            check(st == 200, "%s: %d" % (v, st))

    # curl --http1.1
    if shutil.which("curl"):
        out = subprocess.run(["curl", "-sk", "--http1.1", "--resolve",
                              "c.test:%d:127.0.0.1" % port,
                              "https://c.test:%d/index.html" % port],
                             capture_output=True, timeout=20)
        check(out.stdout == b"pool C\n", "curl: %r %r" % (out.stdout, out.stderr))

    # server variables
    v = lambda name, host="a.test": tlstest.var(port, host, name, sni=host)
    check(v("HTTPS") == "on", "HTTPS %r" % v("HTTPS"))
    check(v("SERVER_PORT_SECURE") == "1", "SERVER_PORT_SECURE")
    check(v("SERVER_PORT") == str(port), "SERVER_PORT %r" % v("SERVER_PORT"))
    check(v("REMOTE_ADDR") == "127.0.0.1", "REMOTE_ADDR %r" % v("REMOTE_ADDR"))
    check(v("LOCAL_ADDR") == "127.0.0.1", "LOCAL_ADDR %r" % v("LOCAL_ADDR"))
    check(v("HTTPS_SECRETKEYSIZE") == "2048", "RSA key %r" % v("HTTPS_SECRETKEYSIZE"))
    check(v("HTTPS_SECRETKEYSIZE", "b.test") == "256", "EC key %r"
          % v("HTTPS_SECRETKEYSIZE", "b.test"))
    check(v("HTTPS_KEYSIZE") in ("128", "256"), "HTTPS_KEYSIZE %r" % v("HTTPS_KEYSIZE"))
    check("CN=a.test" in v("HTTPS_SERVER_SUBJECT"), "subject %r" % v("HTTPS_SERVER_SUBJECT"))
    check("CN=a.test" in v("HTTPS_SERVER_ISSUER"), "issuer %r" % v("HTTPS_SERVER_ISSUER"))
    check(v("CERT_FLAGS") == "0", "CERT_FLAGS %r" % v("CERT_FLAGS"))
    r = wasptest.http_request(plain_port, "/__wasp_test/var/HTTPS", host="a.test")
    check(r.body == b"HTTPS=off", "plain HTTP: %r" % r.body)
    r = wasptest.http_request(plain_port, "/__wasp_test/var/SERVER_PORT_SECURE", host="a.test")
    check(r.body == b"SERVER_PORT_SECURE=0", "plain HTTP: %r" % r.body)


wasptest.main(test)
