"""Session resumption with tickets whose keys the listener derives from
waspd's seed (<runtime dir>/tls-ticket-seed, mode 0600): a session of a
listener that was killed resumes on the one waspd started in its place
(TLS 1.2 and 1.3); and an OCSP staple from <certificate file>.ocsp is sent
to a client that asks for one, not on a binding with DisableOCSPStp."""
import os
import shutil
import signal
import socket
import ssl
import subprocess

import tlstest
import wasptest
from wasptest import check


def resumable_session(port, version):
    ctx = tlstest.context()
    ctx.minimum_version = ctx.maximum_version = version
    with tlstest.connect(port, sni="s.test", ctx=ctx) as s:
        st, _, _ = tlstest.request(s, "/index.html", "s.test")  # TLS 1.3's ticket comes after
        check(st == 200, "status %d" % st)
        return ctx, s.session


def resumed(port, ctx, session, fresh=None):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    with ctx.wrap_socket(s, server_hostname="s.test", session=session) as t:
        st, _, _ = tlstest.request(t, "/index.html", "s.test")
        check(st == 200, "status %d" % st)
        if fresh is not None:
            fresh.append(t.session)
        return t.session_reused


def ticket_chain(port, ctx, session, n=4):
    """TLS 1.3: each ticket used once (RFC 8446 C.4), the one a resumed
    connection got resumes the next: a resumed handshake brings a new one."""
    for i in range(n):
        got = []
        check(resumed(port, ctx, session, got), "link %d of the chain not resumed" % i)
        check(got[0].id != session.id, "link %d: no new ticket after a resumption" % i)
        session = got[0]


def make_ocsp(d, crt, ca):
    """A DER OCSP response for crt signed by ca (openssl's own responder)."""
    idx = os.path.join(d, "index.txt")
    open(idx, "w").close()
    req, resp = os.path.join(d, "req.der"), os.path.join(d, "resp.der")
    subprocess.run(["openssl", "ocsp", "-issuer", ca[0], "-cert", crt, "-reqout", req,
                    "-no_nonce"], check=True, capture_output=True)
    subprocess.run(["openssl", "ocsp", "-index", idx, "-rsigner", ca[0], "-rkey", ca[1],
                    "-CA", ca[0], "-reqin", req, "-respout", resp, "-ndays", "1"],
                   check=True, capture_output=True)
    return resp


def stapled(port, host):
    out = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                          "-servername", host, "-status"], input=b"",
                         capture_output=True, timeout=20).stdout.decode(errors="replace")
    return "OCSP Response Status: successful" in out, out


def test(t):
    tlstest.require_openssl()
    root = os.path.join(t.dir, "certs")
    d = os.path.join(t.dir, "keys")
    ca = tlstest.make_key_cert(d, "ca", "wasp OCSP CA", kind="ec", sans=[])
    crt, key = tlstest.make_key_cert(d, "s", "s.test", kind="ec", sans=["s.test", "n.test"],
                                     ca=ca)
    h = tlstest.store_pem(root, crt, key)
    staple = os.path.join(root, "My", h + ".pem.ocsp")
    shutil.copy(make_ocsp(d, crt, ca), staple)
    os.chmod(staple, 0o644)
    srv = tlstest.server(t, "A", [tlstest.site("S", 1, [
        {"binding": "https/127.0.0.1:{port}:s.test", "sslFlags": 1, "certificateHash": h},
        {"binding": "https/127.0.0.1:{port}:n.test", "sslFlags": 9, "certificateHash": h}])],
        apphost_xml=tlstest.store_xml(root))
    srv.start()
    port = srv.port
    seed = os.path.join(srv.runtime_dir, "tls-ticket-seed")
    tlstest.get(port, "/index.html", "s.test", sni="s.test")  # the table is out
    check(os.stat(seed).st_mode & 0o777 == 0o600, "seed mode %o" % os.stat(seed).st_mode)

    sessions = {v: resumable_session(port, v)
                for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3)}
    for v, (ctx, sess) in sessions.items():
        check(resumed(port, ctx, sess), "%s: not resumed by the same listener" % v)
    ticket_chain(port, *sessions[ssl.TLSVersion.TLSv1_3])
    old = srv.listener_pids()
    check(len(old) == 1, "listeners %r" % old)
    os.kill(old[0], signal.SIGKILL)
    wasptest.wait_until(lambda: srv.listener_pids() and srv.listener_pids() != old,
                        what="waspd to restart the listener")

    def serving():
        try:
            return tlstest.get(port, "/index.html", "s.test", sni="s.test")[0] == 200
        except OSError:
            return False
    wasptest.wait_until(serving, what="the new listener to serve")
    for v, (ctx, sess) in sessions.items():
        check(resumed(port, ctx, sess), "%s: not resumed after the listener's restart" % v)

    ok, out = stapled(port, "s.test")
    check(ok, "no OCSP staple: %s" % out[-600:])
    ok, out = stapled(port, "n.test")
    check(not ok, "a staple on a DisableOCSPStp binding")


wasptest.main(test)
