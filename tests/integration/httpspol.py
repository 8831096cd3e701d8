"""Helpers of the HTTPS policy tests (test_ssl_policy, test_https_policy,
test_tls_scan): whether the listener has https support at all, a site's
hsts element put into a configuration, and a server with https bindings
beside its http ones (certificates from tlstest, imported only when the
listener speaks TLS)."""
import os
import subprocess

import wasptest


def https_supported():
    """Does this build's listener speak TLS (wasp-http linked with libssl)?"""
    exe = wasptest.program("protocols/http/wasp-http")
    try:
        out = subprocess.run(["readelf", "-d", exe], capture_output=True, text=True,
                             timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "libssl" in out


def require_https():
    if not https_supported():
        wasptest.skip("the listener has no https support (wasp-http is not linked "
                      "with OpenSSL)")


def with_hsts(config_text, elements):
    """config_text with elements[i] (an <hsts .../>) in the i-th <site>."""
    parts = config_text.split("      </site>\n")
    wasptest.check(len(parts) > len(elements), "fewer sites than hsts elements")
    out = []
    for i, p in enumerate(parts[:-1]):
        extra = "        %s\n" % elements[i] if i < len(elements) and elements[i] else ""
        out.append(p + extra + "      </site>\n")
    return "".join(out) + parts[-1]


class Certs:
    """Under d: an ECDSA server certificate for *.test in the store under
    root (its hash), a client CA (ca_file), a client certificate it issued
    (client) and a self-signed one (rogue)."""

    def __init__(self, t):
        import tlstest  # the listener's tests' helpers: only with https support
        self.tlstest = tlstest
        tlstest.require_openssl()
        self.root = os.path.join(t.dir, "certs")
        d = os.path.join(t.dir, "keys")
        crt, key = tlstest.make_key_cert(d, "server", "a.test", kind="ec",
                                         sans=["a.test", "b.test", "localhost"])
        self.hash = tlstest.store_pem(self.root, crt, key)
        ca = tlstest.make_key_cert(d, "ca", "wasp policy CA", kind="ec", sans=[])
        self.ca_file = os.path.join(self.root, "ClientCA.pem")
        with open(self.ca_file, "w") as f:
            f.write(open(ca[0]).read())
        os.chmod(self.ca_file, 0o644)
        self.client = tlstest.make_key_cert(d, "client", "alice", kind="ec",
                                            sans=["alice.test"], ca=ca)
        self.rogue = tlstest.make_key_cert(d, "rogue", "mallory", kind="ec",
                                           sans=["m.test"])

    def binding(self, port, host=""):
        return {"binding": "https/127.0.0.1:%d:%s" % (port, host),
                "certificateHash": self.hash}

    def apphost_xml(self):
        return self.tlstest.store_xml(self.root, ca_file=self.ca_file)

    def get(self, port, path, host, cert=None):
        """One request over TLS: (status, headers (lower-case names), body)."""
        st, h, b, _ = self.tlstest.get(port, path, host, client_cert=cert)
        return st, h, b

    def wait_open(self, port):
        def handshake():
            try:
                with self.tlstest.connect(port):
                    return True
            except OSError:
                return False
        wasptest.wait_until(handshake, what="a TLS handshake on port %d" % port)


def server(t, certs, sites, web_server_xml="", hsts=()):
    """waspd with sites (config_xml's, bindings may be certs.binding()), the
    wasp/tls section of certs, hsts elements per site; not started."""
    srv = t.server(pools={s["apps"][0]["pool"]: {} for s in sites}, sites=[])
    for s in sites:
        for a in s["apps"]:  # "subdir": a directory of the pool's content
            a["physicalPath"] = os.path.join(srv.content_dir(a["pool"]), a.pop("subdir", ""))
    srv.sites = [srv._fill_port(s) for s in sites]
    srv.config_text = with_hsts(wasptest.config_xml(
        [{"name": n} for n in srv.pool_names], srv.sites, web_server_xml=web_server_xml,
        apphost_xml=certs.apphost_xml()), list(hsts))
    return srv
