"""Helpers of the HTTPS tests: self-signed certificates made with openssl
(RSA or ECDSA) in a certificate store directory laid out as wasp reads it
(<root>/<StoreName>/<hash>.pem or .pfx), TLS clients with Python's ssl."""
import hashlib
import os
import pwd
import shutil
import socket
import ssl
import subprocess

import wasptest


def require_openssl():
    if not shutil.which("openssl"):
        wasptest.skip("openssl is not installed")


def _run(*args):
    subprocess.run(["openssl"] + list(args), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_key_cert(d, name, cn, kind="ec", sans=None, ca=None, days=30):
    """A key and certificate (PEM files in d); returns (cert_path, key_path).
    ca: (cert, key) of an issuer, else self-signed."""
    os.makedirs(d, exist_ok=True)
    key = os.path.join(d, name + ".key")
    crt = os.path.join(d, name + ".crt")
    if kind == "ec":
        _run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key)
    else:
        _run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key)
    sans = sans if sans is not None else [cn]
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        if sans:
            f.write("subjectAltName=%s\n" % ",".join("DNS:" + s for s in sans))
    if ca:
        csr = os.path.join(d, name + ".csr")
        _run("req", "-new", "-key", key, "-subj", "/O=wasp tests/CN=%s" % cn, "-out", csr)
        _run("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
             "-days", str(days), "-extfile", ext, "-out", crt)
    else:
        _run("req", "-x509", "-new", "-key", key, "-subj", "/O=wasp tests/CN=%s" % cn,
             "-days", str(days), *(["-addext", "subjectAltName=%s"
                                    % ",".join("DNS:" + s for s in sans)] if sans else []),
             "-out", crt)
    return crt, key


def fingerprint(crt):
    """The certificate's SHA-1 thumbprint, upper-case hex (IIS's certificateHash)."""
    der = ssl.PEM_cert_to_DER_cert(open(crt).read())
    return hashlib.sha1(der).hexdigest().upper()


def der_fingerprint(der):
    return hashlib.sha1(der).hexdigest().upper()


def listener_user():
    """The user wasp-http runs as (as root): waspd's default."""
    for name in ("wasp-http", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
    return None


def give_to_listener(path):
    """As root, a key file is the listener user's (mode 0600) and the
    directories above it up to the test's are searchable."""
    if os.geteuid() != 0:
        return
    u = listener_user()
    os.chown(path, u.pw_uid, u.pw_gid)
    d = os.path.dirname(path)
    while d and d != "/" and not os.path.basename(d).startswith("wasp-"):
        os.chmod(d, os.stat(d).st_mode | 0o711)
        d = os.path.dirname(d)
    if d and d != "/":
        os.chmod(d, os.stat(d).st_mode | 0o711)


def store_pem(root, crt, key, store="My"):
    """Install crt+key as <root>/<store>/<hash>.pem (mode 0600); returns the hash."""
    d = os.path.join(root, store)
    os.makedirs(d, exist_ok=True)
    h = fingerprint(crt)
    path = os.path.join(d, h + ".pem")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(open(crt).read())
        f.write(open(key).read())
    os.chmod(tmp, 0o600)
    give_to_listener(tmp)
    os.rename(tmp, path)
    return h


def make_pfx(path, crt, key, password=""):
    tmp = path + ".tmp"
    _run("pkcs12", "-export", "-in", crt, "-inkey", key, "-passout", "pass:" + password,
         "-out", tmp)
    os.chmod(tmp, 0o600)
    give_to_listener(tmp)
    os.rename(tmp, path)


def store_xml(root, ccs=None, ca_file=None):
    """system.applicationHost's wasp/tls (and centralCertificateStore) sections."""
    out = '    <wasp>\n      <tls certificateStorePath="%s"%s />\n' % (
        root, ' clientCertificateCaFile="%s"' % ca_file if ca_file else "")
    if ccs:
        out += ('      <centralCertificateStore enabled="true" physicalPath="%s" />\n'
                % ccs)
    return out + "    </wasp>\n"


def context(client_cert=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if client_cert:
        ctx.load_cert_chain(client_cert[0], client_cert[1])
    return ctx


def connect(port, sni=None, client_cert=None, timeout=10.0, ctx=None):
    """A TLS connection to 127.0.0.1:port (SNI sni, none when None)."""
    ctx = ctx or context(client_cert)
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return ctx.wrap_socket(s, server_hostname=sni)


def handshake_ok(port, sni):
    """Whether a TLS handshake with SNI sni succeeds on port (for waiting)."""
    try:
        with connect(port, sni=sni):
            return True
    except OSError:
        return False


def peer_hash(s):
    return der_fingerprint(s.getpeercert(binary_form=True))


def request(s, path, host, close=True, headers=""):
    """One HTTP/1.1 request on TLS socket s; returns (status, headers text, body)."""
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n%s%s\r\n"
               % (path, host, headers, "Connection: close\r\n" if close else "")).encode())
    return read_response(s)


def read_response(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            raise wasptest.Failure("connection closed before a response head: %r" % buf)
        buf += d
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    n = int(hdrs.get("content-length", "0"))
    while len(body) < n:
        d = s.recv(65536)
        if not d:
            break
        body += d
    return status, hdrs, body[:n]


def get(port, path, host, sni=None, client_cert=None):
    """One request on a new TLS connection: (status, headers, body, server cert hash)."""
    with connect(port, sni=sni, client_cert=client_cert) as s:
        st, h, b = request(s, path, host)
        return st, h, b, peer_hash(s)


def var(port, host, name, sni=None, client_cert=None, path="/__wasp_test/var/"):
    st, _, b, _ = get(port, path + name, host, sni=sni, client_cert=client_cert)
    wasptest.check(st == 200, "%s: status %d" % (name, st))
    text = b.decode()
    prefix = name + "="
    if text.endswith(" unset"):
        return None
    wasptest.check(text.startswith(prefix), "%s: %r" % (name, text))
    return text[len(prefix):]


def server(t, pools, sites, apphost_xml="", web_server_xml="", extra_xml=""):
    """A wasptest.Server (not started) for these pools (names) and sites
    (as config_xml takes them, "{port}" in bindings; an application without
    "physicalPath" serves its pool's content directory). extra_xml goes at
    the end of the file (<location> elements)."""
    srv = wasptest.Server(t, pools={p: {} for p in pools}, sites=[])
    for s in sites:
        for a in s["apps"]:
            a.setdefault("physicalPath", srv.content_dir(a["pool"]))
    srv.sites = [srv._fill_port(s) for s in sites]
    srv.config_text = wasptest.config_xml(
        [{"name": p} for p in pools], srv.sites, web_server_xml=web_server_xml,
        apphost_xml=apphost_xml).replace("</configuration>", extra_xml + "</configuration>")
    return srv


def site(name, site_id, bindings, pool="A", apps=None):
    """A site for server(): its root application in pool unless apps."""
    return {"name": name, "id": site_id, "bindings": bindings,
            "apps": apps or [{"path": "/", "pool": pool}]}


def client_cert_setup(t):
    """A server certificate for a.test in a certificate store under t.dir, a
    CA whose bundle (ClientCA.pem) client certificates are checked against,
    and a client certificate of that CA (CN alice): (store root, keys dir,
    the server certificate's hash, the CA, the bundle's path, the client's)."""
    require_openssl()
    root = os.path.join(t.dir, "certs")
    d = os.path.join(t.dir, "keys")
    crt, key = make_key_cert(d, "server", "a.test", kind="ec")
    h = store_pem(root, crt, key)
    ca = make_key_cert(d, "ca", "wasp test CA", kind="ec", sans=[])
    ca_file = os.path.join(root, "ClientCA.pem")
    with open(ca_file, "w") as f:
        f.write(open(ca[0]).read())
    os.chmod(ca_file, 0o644)
    good = make_key_cert(d, "client", "alice", kind="ec", sans=["alice.test"], ca=ca)
    return root, d, h, ca, ca_file, good


def make_dated_cert(d, name, cn, ca, start, end):
    """A key and a certificate issued by ca (cert, key) valid from start to
    end ("YYYYMMDDHHMMSSZ", either may be in the past): `openssl ca` with a
    throw-away database. Returns (cert_path, key_path)."""
    os.makedirs(d, exist_ok=True)
    key = os.path.join(d, name + ".key")
    crt = os.path.join(d, name + ".crt")
    csr = os.path.join(d, name + ".csr")
    db = os.path.join(d, name + ".db")
    os.makedirs(db, exist_ok=True)
    open(os.path.join(db, "index.txt"), "w").close()
    with open(os.path.join(db, "serial"), "w") as f:
        f.write("%016x\n" % (int.from_bytes(os.urandom(7), "big") | 1))
    conf = os.path.join(db, "ca.cnf")
    with open(conf, "w") as f:
        f.write("[ca]\ndefault_ca = c\n[c]\ndir = %s\ndatabase = $dir/index.txt\n"
                "serial = $dir/serial\nnew_certs_dir = $dir\ndefault_md = sha256\n"
                "policy = p\nunique_subject = no\ncopy_extensions = none\n"
                "[p]\ncommonName = supplied\norganizationName = optional\n" % db)
    _run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key)
    _run("req", "-new", "-key", key, "-subj", "/O=wasp tests/CN=%s" % cn, "-out", csr)
    _run("ca", "-batch", "-config", conf, "-cert", ca[0], "-keyfile", ca[1], "-in", csr,
         "-startdate", start, "-enddate", end, "-notext", "-out", crt)
    return crt, key


def https_server(t, web_server_xml="", apphost_xml=""):
    """A server (not started): site S of pool A on one https binding,
    127.0.0.1:{port} for any host name, with an ECDSA certificate for s.test
    from the store."""
    root = os.path.join(t.dir, "certs")
    crt, key = make_key_cert(os.path.join(t.dir, "keys"), "s", "s.test", kind="ec")
    h = store_pem(root, crt, key)
    return server(t, "A", [site("S", 1, [{"binding": "https/127.0.0.1:{port}:",
                                          "certificateHash": h}])],
                  web_server_xml=web_server_xml, apphost_xml=store_xml(root) + apphost_xml)
