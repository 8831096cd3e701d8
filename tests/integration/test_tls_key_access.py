"""Keys never reach a worker: the listener reads them, and refuses a key
file every user may read (the binding then makes no handshake, with an
error naming the binding and the file). As root, a process with the pool's
identity (the worker's uid and gid) cannot open any file of the
certificate store; the worker's HANDOFFs carry no key."""
import os

import tlstest
import wasptest
from wasptest import check


def uid_gid(pid):
    ids = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(("Uid:", "Gid:")):
                ids[line[:3]] = int(line.split()[1])
    return ids["Uid"], ids["Gid"]


def can_open_as(uid, gid, paths):
    """The paths a process with uid/gid can open for reading."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        opened = []
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            for p in paths:
                try:
                    os.close(os.open(p, os.O_RDONLY))
                    opened.append(p)
                except OSError:
                    pass
            os.write(w, "\n".join(opened).encode())
        finally:
            os._exit(0)
    os.close(w)
    out = b""
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        out += b
    os.close(r)
    os.waitpid(pid, 0)
    return [p for p in out.decode().split("\n") if p]


def test(t):
    tlstest.require_openssl()
    root = os.path.join(t.dir, "certs")
    d = os.path.join(t.dir, "keys")
    crt, key = tlstest.make_key_cert(d, "a", "a.test", kind="ec")
    h = tlstest.store_pem(root, crt, key)
    crt2, key2 = tlstest.make_key_cert(d, "w", "w.test", kind="ec")
    h2 = tlstest.store_pem(root, crt2, key2)
    os.chmod(os.path.join(root, "My", h2 + ".pem"), 0o644)  # readable by every user
    srv = tlstest.server(t, "A", [tlstest.site("S", 1, [
        {"binding": "https/127.0.0.1:{port}:a.test", "sslFlags": 1, "certificateHash": h},
        {"binding": "https/127.0.0.1:{port}:w.test", "sslFlags": 1, "certificateHash": h2}])],
        apphost_xml=tlstest.store_xml(root))
    srv.start()
    port = srv.port
    st, h_, _, _ = tlstest.get(port, "/index.html", "a.test", sni="a.test")
    check(st == 200, "a.test: %d" % st)
    try:
        tlstest.get(port, "/index.html", "w.test", sni="w.test")
        check(False, "a handshake with a key every user may read")
    except OSError:
        pass
    srv.wait_log("binding 'https 127.0.0.1:%d:w.test'" % port)
    check("readable by every user" in srv.read_log(), "no word of the readable key")

    if os.geteuid() != 0:
        wasptest.log("not root: the worker's identity is ours, its key access not checked")
        return
    pids = srv.worker_pids("A")
    check(pids, "no worker of pool A")
    uid, gid = uid_gid(pids[0])
    check(uid != 0, "the worker runs as root")
    files = [os.path.join(dp, f) for dp, _, fs in os.walk(root) for f in fs]
    files += [os.path.join(srv.runtime_dir, "tls-ticket-seed")]
    opened = can_open_as(uid, gid, files)
    # the probe works: the key every user may read (which wasp refuses) opens
    check(any(p.endswith(h2 + ".pem") for p in opened), "probe: %r" % opened)
    opened = [p for p in opened if not p.endswith(h2 + ".pem")]
    check(not opened, "the pool's identity (uid %d) opens %r" % (uid, opened))


wasptest.main(test)
