"""Helpers for the tests that need TLS: whether the listener has https
support at all (wasp-http linked with OpenSSL), certificates made with the
openssl command (a CA, an ECDSA P-256 server certificate, client
certificates from that CA and from another one), the certificate store and
the wasp/tls section they go in, and requests over TLS with Python's ssl."""
import http.client
import os
import socket
import ssl
import subprocess

import wasptest
from wasptest import TIME_SCALE


def https_supported():
    """Does this build's listener speak TLS (its wasp-http linked with
    libssl)? A listener without it has no https bindings to test."""
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


def _openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True,
                   timeout=60)


def _key(cwd, name):
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", name + ".key", cwd=cwd)


def _ca(cwd, name):
    _key(cwd, name)
    _openssl("req", "-x509", "-new", "-key", name + ".key", "-subj", "/CN=%s" % name,
             "-days", "2", "-out", name + ".pem", cwd=cwd)


def _issue(cwd, name, ca, ext):
    _key(cwd, name)
    _openssl("req", "-new", "-key", name + ".key", "-subj", "/CN=%s" % name,
             "-out", name + ".csr", cwd=cwd)
    with open(os.path.join(cwd, name + ".ext"), "w") as f:
        f.write(ext)
    _openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
             "-CAcreateserial", "-days", "2", "-extfile", name + ".ext",
             "-out", name + ".pem", cwd=cwd)


def thumbprint(pem_path):
    """IIS's certificateHash: the certificate's SHA-1, upper-case hex."""
    out = subprocess.run(["openssl", "x509", "-in", pem_path, "-noout", "-fingerprint",
                          "-sha1"], capture_output=True, text=True, check=True).stdout
    return out.strip().split("=", 1)[1].replace(":", "").upper()


class Certs:
    """Under d: ca.pem (the trusted CA), server.pem/.key (localhost and
    *.test, from ca), client.pem/.key (from ca), rogue.pem/.key (from
    another CA), and the store: store/My/<thumbprint>.pem (chain and key)."""

    def __init__(self, d):
        self.dir = d
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o755)
        _ca(d, "ca")
        _ca(d, "otherca")
        _issue(d, "server", "ca",
               "subjectAltName=DNS:localhost,DNS:*.test,IP:127.0.0.1\n"
               "extendedKeyUsage=serverAuth\n")
        _issue(d, "client", "ca", "extendedKeyUsage=clientAuth\n")
        _issue(d, "rogue", "otherca", "extendedKeyUsage=clientAuth\n")
        self.ca = os.path.join(d, "ca.pem")
        self.server = os.path.join(d, "server.pem")
        self.server_key = os.path.join(d, "server.key")
        self.client = (os.path.join(d, "client.pem"), os.path.join(d, "client.key"))
        self.rogue = (os.path.join(d, "rogue.pem"), os.path.join(d, "rogue.key"))
        self.hash = thumbprint(self.server)
        self.store = os.path.join(d, "store")
        my = os.path.join(self.store, "My")
        os.makedirs(my)
        pem = os.path.join(my, self.hash + ".pem")
        with open(pem, "w") as out:
            for p in (self.server, self.server_key):
                with open(p) as f:
                    out.write(f.read())
        # test keys, made for this run: readable by the listener's user
        for p in (self.store, my):
            os.chmod(p, 0o755)
        for fn in os.listdir(d):
            if os.path.isfile(os.path.join(d, fn)):
                os.chmod(os.path.join(d, fn), 0o644)
        os.chmod(pem, 0o644)

    def binding(self, port, host=""):
        """A site's https binding as config_xml takes it (through "xml")."""
        return ('<binding protocol="https" bindingInformation="127.0.0.1:%d:%s" '
                'certificateHash="%s" certificateStoreName="My" />' % (port, host, self.hash))

    def configure(self, srv):
        """srv's applicationHost.config with the wasp/tls section: this
        store, this CA for client certificates."""
        section = ('    <wasp><tls certificateStorePath="%s" clientCertificateCaFile="%s" />'
                   '</wasp>\n' % (self.store, self.ca))
        end = "  </system.applicationHost>"
        srv.config_text = srv.config_text.replace(end, section + end, 1)


def https_request(port, path="/", host=None, cert=None, timeout=10.0):
    """One request over TLS (certificate not verified: the test's own),
    with a client certificate (cert, key) when given."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(*cert)
    c = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout * TIME_SCALE,
                                    context=ctx)
    try:
        h = {"Connection": "close"}
        if host is not None:
            h["Host"] = host
        c.request("GET", path, headers=h)
        return wasptest._response(c.getresponse())
    finally:
        c.close()


def tls_port_open(port, timeout=10.0):
    """Does port complete a TLS handshake?"""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            with ctx.wrap_socket(s):
                return True
    except (OSError, ssl.SSLError):
        return False
