"""Certificates as IIS maps them: a PKCS#12 file in a store (with the
store's password), the Central Certificate Store by SNI host with IIS's
wildcard file (_.example.test.pfx), a certificate whose key does not match
(a configuration error naming the binding and the file; the other bindings
keep serving), and a certificate file replaced on disk while a client loop
runs: new handshakes get the new one, and the server variables its facts
(HTTPS_SERVER_SUBJECT, HTTPS_SECRETKEYSIZE, kept per certificate context),
no request fails."""
import os
import threading

import tlstest
import wasptest
from wasptest import check


def test(t):
    tlstest.require_openssl()
    root = os.path.join(t.dir, "certs")
    ccs = os.path.join(t.dir, "ccs")
    d = os.path.join(t.dir, "keys")
    os.makedirs(ccs)
    # a PKCS#12 file in the My store, with the store's password
    p_crt, p_key = tlstest.make_key_cert(d, "p", "p.test", kind="rsa")
    p_hash = tlstest.fingerprint(p_crt)
    os.makedirs(os.path.join(root, "My"))
    tlstest.make_pfx(os.path.join(root, "My", p_hash + ".pfx"), p_crt, p_key, "s3cret")
    # the Central Certificate Store: a wildcard and a host
    w_crt, w_key = tlstest.make_key_cert(d, "w", "*.example.test", kind="ec")
    tlstest.make_pfx(os.path.join(ccs, "_.example.test.pfx"), w_crt, w_key)
    o_crt, o_key = tlstest.make_key_cert(d, "o", "www.other.test", kind="ec")
    tlstest.make_pfx(os.path.join(ccs, "www.other.test.pfx"), o_crt, o_key)
    # a certificate with another certificate's key
    b_crt, _ = tlstest.make_key_cert(d, "b", "bad.test", kind="ec")
    bad_hash = tlstest.store_pem(root, b_crt, w_key)
    # the one that is replaced
    s1 = tlstest.make_key_cert(d, "s1", "swap.test", kind="ec")
    s2 = tlstest.make_key_cert(d, "s2", "swap.test", kind="rsa")
    swap_hash = tlstest.store_pem(root, *s1)

    bindings = [
        {"binding": "https/127.0.0.1:{port}:p.test", "sslFlags": 1, "certificateHash": p_hash},
        {"binding": "https/127.0.0.1:{port}:*.example.test", "sslFlags": 3},
        {"binding": "https/127.0.0.1:{port}:www.other.test", "sslFlags": 3},
        {"binding": "https/127.0.0.1:{port}:bad.test", "sslFlags": 1,
         "certificateHash": bad_hash},
        {"binding": "https/127.0.0.1:{port}:swap.test", "sslFlags": 1,
         "certificateHash": swap_hash},
    ]
    xml = tlstest.store_xml(root, ccs=ccs).replace(
        "<tls ", '<tls pfxPassword="s3cret" ')
    srv = tlstest.server(t, "A", [tlstest.site("S", 1, bindings)], apphost_xml=xml)
    srv.start()
    port = srv.port

    def ok(host, want):
        st, _, body, ph = tlstest.get(port, "/index.html", host, sni=host)
        check(st == 200 and body == b"pool A\n", "%s: %d %r" % (host, st, body))
        check(ph == want, "%s: certificate %s, not %s" % (host, ph, want))

    ok("p.test", p_hash)
    ok("shop.example.test", tlstest.fingerprint(w_crt))
    ok("www.other.test", tlstest.fingerprint(o_crt))
    # not in the store (a wildcard file covers one label, as IIS's), or a
    # bad one: no certificate, no handshake
    for host in ("nothere.other.test", "a.b.example.test", "bad.test"):
        try:
            tlstest.get(port, "/index.html", host, sni=host)
            check(False, "%s: a handshake without a certificate" % host)
        except OSError:
            pass
    srv.wait_log("site 'S' binding 'https 127.0.0.1:%d:bad.test'" % port)
    text = srv.read_log()
    line = [ln for ln in text.splitlines() if "bad.test" in ln and "certificate" in ln][0]
    check(bad_hash + ".pem" in line, "the error names the file: %r" % line)

    # the server certificate's facts are each context's
    v = lambda name, host: tlstest.var(port, host, name, sni=host)
    check("CN=swap.test" in v("HTTPS_SERVER_SUBJECT", "swap.test"), "swap.test's subject")
    check("CN=p.test" in v("HTTPS_SERVER_SUBJECT", "p.test"), "p.test's subject")
    check(v("HTTPS_SECRETKEYSIZE", "swap.test") == "256", "swap.test's key size")

    # replaced while a client loop runs
    seen, errors, stop = set(), [], threading.Event()

    def loop():
        while not stop.is_set():
            try:
                st, _, _, ph = tlstest.get(port, "/index.html", "swap.test", sni="swap.test")
                if st != 200:
                    errors.append(st)
                seen.add(ph)
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))
    th = threading.Thread(target=loop)
    th.start()
    try:
        wasptest.wait_until(lambda: seen, what="the loop's first request")
        tlstest.store_pem(root, *s2)  # the same file name (its hash), new content
        os.rename(os.path.join(root, "My", tlstest.fingerprint(s2[0]) + ".pem"),
                  os.path.join(root, "My", swap_hash + ".pem"))
        wasptest.wait_until(lambda: tlstest.fingerprint(s2[0]) in seen, timeout=15,
                            what="the replaced certificate in a handshake")
    finally:
        stop.set()
        th.join()
    check(not errors, "requests failed while the certificate was replaced: %r" % errors[:5])
    check(tlstest.fingerprint(s1[0]) in seen, "the first certificate was never seen")
    check(v("HTTPS_SECRETKEYSIZE", "swap.test") == "2048", "the new certificate's key size")


wasptest.main(test)
