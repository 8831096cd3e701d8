"""Client certificates judged by the listener's verification as IIS judges
them: SslRequireCert answers 403.7 without one, 200 with one of the
configured CA, 403.17 with one of that CA that has expired or is not yet
valid, 403.16 with an untrusted one, expired or not (the trust failure
is what counts, though OpenSSL reports the date last); SslNegotiateCert
serves without one and answers 403.17 for an expired one."""
import os

import httpspol
import wasptest
from wasptest import check, write_content


def access(path, flags):
    return ('  <location path="%s"><system.webServer><security>'
            '<access sslFlags="%s" /></security></system.webServer></location>\n'
            % (path, flags))


def test(t):
    httpspol.require_https()
    certs = httpspol.Certs(t)
    tlstest = certs.tlstest
    d = os.path.join(t.dir, "keys")
    ca = (os.path.join(d, "ca.crt"), os.path.join(d, "ca.key"))
    expired = tlstest.make_dated_cert(d, "expired", "old alice", ca,
                                      "20200101000000Z", "20210101000000Z")
    future = tlstest.make_dated_cert(d, "future", "young alice", ca,
                                     "20900101000000Z", "20910101000000Z")
    stray_ca = tlstest.make_key_cert(d, "strayca", "stray CA", kind="ec", sans=[])
    stray_expired = tlstest.make_dated_cert(d, "strayexp", "old mallory", stray_ca,
                                            "20200101000000Z", "20210101000000Z")
    port = wasptest.free_port()
    sites = [{"name": "A", "id": 1, "bindings": ["127.0.0.1:{port}:a.test", certs.binding(port)],
              "apps": [{"path": "/", "pool": "A"},
                       {"path": "/cert", "pool": "A", "subdir": "cert"},
                       {"path": "/negotiate", "pool": "A", "subdir": "negotiate"}]}]
    web = ("  </system.webServer>\n" +
           access("A/cert", "Ssl, SslNegotiateCert, SslRequireCert") +
           access("A/negotiate", "Ssl, SslNegotiateCert") + "  <system.webServer>")
    srv = httpspol.server(t, certs, sites, web)
    for sub in ("cert", "negotiate"):
        write_content(os.path.join(srv.content_dir("A"), sub, "f.txt"), "x\n")
    srv.start()
    certs.wait_open(port)

    def expect(path, want, sub=None, cert=None, what=""):
        st, h, _ = certs.get(port, path, "a.test", cert=cert)
        got = h.get("x-wasp-substatus")
        check(st == want and (sub is None or got == str(sub)),
              "%s %s: expected %d.%s, got %d.%s" % (what, path, want, sub, st, got))

    expect("/cert/f.txt", 403, 7, what="none")
    expect("/cert/f.txt", 200, cert=certs.client, what="valid")
    expect("/cert/f.txt", 403, 17, cert=expired, what="expired")
    expect("/cert/f.txt", 403, 17, cert=future, what="not yet valid")
    expect("/cert/f.txt", 403, 16, cert=certs.rogue, what="self-signed")
    expect("/cert/f.txt", 403, 16, cert=stray_expired, what="untrusted and expired")
    expect("/negotiate/f.txt", 200, what="none, negotiated")
    expect("/negotiate/f.txt", 403, 17, cert=expired, what="expired, negotiated")
    # the error page says why (IIS's text)
    st, _, body = certs.get(port, "/cert/f.txt", "a.test", cert=expired)
    check(b"expired or is not yet valid" in body or st != 403,
          "403.17's page: %r" % body[:300])


wasptest.main(test)
