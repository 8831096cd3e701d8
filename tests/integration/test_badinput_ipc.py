"""Bad-input suite, IPC: garbage peers on every channel. waspd must never
die of what a peer sends, and keeps serving HTTP throughout.

1. The control socket (always): random bytes, NUL bytes, invalid UTF-8,
   invalid JSON, valid JSON of the wrong shape or types, deep nesting, a
   line over the limit, a client that connects and never sends, hundreds of
   connections at once. Every bad request gets a JSON error or a close.

2. A fake worker and a fake adapter (when a private mount namespace can be
   made: as root, or with unprivileged user namespaces). waspd runs under a
   wrapper that bind-mounts a fake program over the build tree's
   wasp-worker / wasp-http in a mount namespace of its own, so waspd starts
   the fake in their place. The fake's first instances each break the
   protocol in one way (below) and record what happened; the next instance
   execs a copy of the real program. waspd must cut each broken peer off
   (close the channel or kill it), stay up, and end up serving again with
   the real program. The fake worker also sends garbage on its handoff
   channel to wasp-http (which must cut that channel and survive), and the
   fake adapter sends garbage on a handoff channel to a real worker.
"""
import ctypes
import json
import os
import random
import shutil
import socket
import stat
import sys
import time

import wasptest
from wasptest import check, log, wait_until, TIME_SCALE

# ---------------------------------------------------------------- fake peer

# Written to the test directory and bind-mounted over the real program.
# Environment: WASP_FAKE_DIR (markers), WASP_FAKE_<ROLE>_MODES (comma
# separated), WASP_FAKE_<ROLE>_REAL (a copy of the real program).
FAKE_PEER = r'''
import os, socket, struct, sys, time

HDR = struct.Struct("=IHBBII")
IPC_VERSION = 5  # common/msg.h WASP_IPC_VERSION
ROLE = {"wasp-worker": 3, "wasp-http": 2}
NAME = os.path.basename(sys.argv[0])
KEY = "WORKER" if NAME == "wasp-worker" else "ADAPTER"
D = os.environ["WASP_FAKE_DIR"]
MODES = [m for m in os.environ.get("WASP_FAKE_%s_MODES" % KEY, "").split(",") if m]
REAL = os.environ["WASP_FAKE_%s_REAL" % KEY]

def claim():
    i = 0
    while True:
        try:
            fd = os.open(os.path.join(D, "%s.%d" % (KEY, i)), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
            return i, fd
        except FileExistsError:
            i += 1

i, mfd = claim()
if i >= len(MODES):
    os.close(mfd)
    os.execv(REAL, [NAME] + sys.argv[1:])
mode = MODES[i]

def mark(s):
    os.write(mfd, (s + "\n").encode())

mark("mode %s pid %d" % (mode, os.getpid()))
ch = socket.socket(fileno=3)

def msg(mtype, payload=b"", version=IPC_VERSION, flags=0, length=None):
    n = HDR.size + len(payload) if length is None else length
    return HDR.pack(n, mtype, version, flags, 0, os.getpid()) + payload

def hello():
    return msg(1, struct.pack("=IIII", IPC_VERSION, ROLE[NAME], os.getpid(), 0))

def recv_until(sock, want_type, deadline):
    """Messages until one of want_type with an fd; returns that fd or None."""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data, fds, _, _ = socket.recv_fds(sock, 65536, 4)
        except socket.timeout:
            return None
        if not data:
            return None
        t = HDR.unpack_from(data)[1] if len(data) >= HDR.size else -1
        keep = None
        for fd in fds:
            if t == want_type and keep is None:
                keep = fd
            else:
                os.close(fd)
        if keep is not None:
            return keep
    return None

def wait_eof(sock, secs):
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data, fds, _, _ = socket.recv_fds(sock, 65536, 4)
        except socket.timeout:
            return False
        except OSError:
            return True
        for fd in fds:
            os.close(fd)
        if not data:
            return True
    return False

def send(sock, b):
    try:
        sock.send(b)
    except OSError as e:
        mark("send failed %r" % (e,))

deadline = time.monotonic() + 10
if mode == "garbage":
    send(ch, hello()); send(ch, b"\x01\x02\x03")
elif mode == "nohello":
    send(ch, msg(301 if KEY == "WORKER" else 203, b"" if KEY == "WORKER" else b"\0" * 8))
elif mode == "hugelen":
    send(ch, hello()); send(ch, msg(301, length=0xFFFFFFFF))
elif mode == "badversion":
    send(ch, msg(1, struct.pack("=IIII", 99, ROLE[NAME], os.getpid(), 0), version=99))
elif mode == "unknowntype":
    send(ch, hello()); send(ch, msg(999, b"x" * 8))
elif mode == "wrongrole":
    send(ch, msg(1, struct.pack("=IIII", IPC_VERSION, 4, os.getpid(), 0)))
elif mode == "flood":
    send(ch, hello())
    for _ in range(20000):
        try:
            ch.send(msg(304 if KEY == "WORKER" else 207, b"\0" * 40), socket.MSG_DONTWAIT)
        except OSError:
            break
elif mode == "badregister":
    send(ch, hello()); send(ch, msg(200, b"x" * 32))
elif mode == "baddemand":
    send(ch, hello()); send(ch, msg(200, b"http".ljust(32, b"\0")))
    send(ch, msg(203, struct.pack("=II", 0xFFFFFFF0, 0xFFFFFFF0)))
    send(ch, b"\xff" * 5)
elif mode == "exit":
    send(ch, hello())
    mark("exited")
    sys.exit(3)
elif mode == "handoff-garbage":
    # A worker that gets ready, then sends garbage to the adapter on its
    # handoff channel; then garbage to waspd.
    send(ch, hello())
    cfg = recv_until(ch, 300, deadline)
    send(ch, msg(301))
    hfd = recv_until(ch, 306, deadline)
    if hfd is None:
        mark("no handoff channel")
    else:
        h = socket.socket(fileno=hfd)
        send(h, b"garbage on the handoff channel")
        mark("handoff %s" % ("eof" if wait_eof(h, 10) else "open"))
    send(ch, b"\x00" * 3)
elif mode == "worker-garbage":
    # An adapter that registers, then sends garbage HANDOFFs to a worker.
    send(ch, hello()); send(ch, msg(200, b"http".ljust(32, b"\0")))
    wfd = recv_until(ch, 204, deadline)
    if wfd is None:
        mark("no worker channel")
    else:
        h = socket.socket(fileno=wfd)
        send(h, msg(1, struct.pack("=IIII", IPC_VERSION, 2, os.getpid(), 0)))
        send(h, msg(400, b"\xff" * 7))
        mark("handoff %s" % ("eof" if wait_eof(h, 10) else "open"))
    send(ch, b"\x00" * 3)
else:
    mark("unknown mode")
mark("sent")
quick = 2.5 * float(os.environ.get("WASP_TEST_TIME_SCALE", "1"))
if wait_eof(ch, quick):
    mark("cut off")
else:
    mark("not cut off")
    mark("cut off later" if wait_eof(ch, 15) else "still open")
'''

# What each fake instance does, in order; after them the real program runs.
WORKER_MODES = ["garbage", "nohello", "hugelen", "badversion", "unknowntype", "wrongrole",
                "flood", "exit", "handoff-garbage"]
ADAPTER_MODES = ["garbage", "hugelen", "badregister", "baddemand", "worker-garbage"]

# The wrapper waspd runs under: a private mount namespace with the fakes
# bind-mounted over the real programs, then exec waspd.
WRAPPER = r'''
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
def ck(r, what):
    if r != 0:
        e = ctypes.get_errno()
        sys.stderr.write("wrapper: %s: %s\n" % (what, os.strerror(e)))
        sys.exit(99)
uid, gid = os.geteuid(), os.getegid()
if uid == 0:
    ck(libc.unshare(CLONE_NEWNS), "unshare")
else:
    ck(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare")
    with open("/proc/self/setgroups", "w") as f: f.write("deny")
    with open("/proc/self/uid_map", "w") as f: f.write("%d %d 1" % (uid, uid))
    with open("/proc/self/gid_map", "w") as f: f.write("%d %d 1" % (gid, gid))
ck(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
args = sys.argv[1:]
while args[0] != "--":
    src, dst = args[0], args[1]
    ck(libc.mount(src.encode(), dst.encode(), None, MS_BIND, None), "bind %s" % dst)
    args = args[2:]
os.execv(args[1], args[1:])
'''


def world_accessible(path):
    """Can any user execute path (every directory on the way searchable)?"""
    path = os.path.realpath(path)
    try:
        if not os.stat(path).st_mode & stat.S_IXOTH:
            return False
        d = os.path.dirname(path)
        while True:
            if not os.stat(d).st_mode & stat.S_IXOTH:
                return False
            if d == "/":
                return True
            d = os.path.dirname(d)
    except OSError:
        return False


def interpreter():
    """A python3 every pool identity can run (workers run as their own uid)."""
    cands = [sys.executable, shutil.which("python3") or "", os.path.realpath(sys.executable)]
    for d in os.defpath.split(os.pathsep) + os.environ.get("PATH", "").split(os.pathsep):
        if d:
            cands.append(os.path.join(d, "python3"))
    for c in cands:
        if c and world_accessible(c):
            return os.path.realpath(c)
    return None


def namespaces_work(t):
    """Can this user make a private mount namespace and bind-mount a file?"""
    a = os.path.join(t.dir, "ns-a")
    b = os.path.join(t.dir, "ns-b")
    for p, text in ((a, "a"), (b, "b")):
        with open(p, "w") as f:
            f.write(text)
    wrap = os.path.join(t.dir, "ns-wrap.py")
    with open(wrap, "w") as f:
        f.write(WRAPPER)
    import subprocess
    p = subprocess.run([sys.executable, wrap, a, b, "--", shutil.which("cat"), b],
                       capture_output=True, timeout=20)
    return p.returncode == 0 and p.stdout == b"a", p.stderr.decode("utf-8", "replace")


# ---------------------------------------------------------------- control


def control_connect(srv):
    """A connection to the control socket. A full listen backlog makes a
    Unix connect fail with EAGAIN: try again until a deadline."""
    path = os.path.join(srv.runtime_dir, "control.sock")

    def attempt():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10 * TIME_SCALE)
        try:
            s.connect(path)
        except BlockingIOError:
            s.close()
            return None
        return s
    return wait_until(attempt, 10, interval=0.005, what="a control connection")


def control_exchange(srv, data, half_close=False):
    """Send data, read until the server closes or a reply line arrives
    (and then a moment more). Returns (replies as parsed JSON, raw bytes,
    closed?)."""
    s = control_connect(srv)
    try:
        try:
            s.sendall(data)
            if half_close:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass
        raw = b""
        closed = False
        deadline = time.monotonic() + 10 * TIME_SCALE
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                closed = True
                break
            except socket.timeout:
                break
            if not b:
                closed = True
                break
            raw += b
            if raw.endswith(b"\n") and not half_close:
                # as many replies as lines sent: done
                if raw.count(b"\n") >= max(1, data.count(b"\n")):
                    break
    finally:
        s.close()
    replies = []
    for line in raw.splitlines():
        try:
            replies.append(json.loads(line))
        except ValueError:
            replies.append(("NOT JSON", line[:200]))
    return replies, raw, closed


def http_ok(srv):
    r = srv.get("/index.html", host="a.test", timeout=10)
    return r.status == 200 and r.body == b"pool A\n"


def control_cases(t, srv, failures):
    rnd = random.Random(5)
    cases = [
        ("random bytes", bytes(rnd.randrange(256) for _ in range(4096)) + b"\n"),
        ("random bytes without a newline, then close", bytes(rnd.randrange(256)
                                                             for _ in range(1000))),
        ("NUL bytes", b"\0" * 100 + b"\n"),
        ("NUL inside a JSON string", b'{"verb": "li\\u0000st", "object": "apppool"}\n'),
        ("raw NUL inside JSON", b'{"verb": "list\0", "object": "apppool"}\n'),
        ("invalid UTF-8", b'{"verb": "\xff\xfe", "object": "apppool"}\n'),
        ("invalid JSON", b"{verb: list}\n"),
        ("truncated JSON", b'{"verb": "list", "object": \n'),
        ("empty line", b"\n"),
        ("JSON null", b"null\n"),
        ("JSON string", b'"list"\n'),
        ("JSON number", b"1e999999\n"),
        ("verb as a number", b'{"verb": 7, "object": "apppool"}\n'),
        ("verb null", b'{"verb": null, "object": "apppool"}\n'),
        ("object as an array", b'{"verb": "list", "object": ["apppool"]}\n'),
        ("name as an object", b'{"verb": "stop", "object": "apppool", "name": {"x": 1}}\n'),
        ("name as a number", b'{"verb": "stop", "object": "apppool", "name": 1}\n'),
        ("name empty", b'{"verb": "stop", "object": "apppool", "name": ""}\n'),
        ("name of 60 KiB", b'{"verb": "stop", "object": "apppool", "name": "'
         + b"n" * 60000 + b'"}\n'),
        ("duplicate keys", b'{"verb": "list", "verb": "list", "object": "apppool"}\n'),
        ("deep nesting (arrays)", b"[" * 30000 + b"]" * 30000 + b"\n"),
        ("deep nesting (objects)", b'{"a":' * 10000 + b"1" + b"}" * 10000 + b"\n"),
        ("many lines at once", b"{}\n" * 2000),
        ("a line over 64 KiB", b"x" * 70000 + b"\n"),
        ("a huge line", b"[" + b"1," * 500000),
    ]
    for name, data in cases:
        try:
            replies, raw, closed = control_exchange(srv, data)
        except Exception as e:  # noqa: BLE001
            failures.append("control %s: %r" % (name, e))
            continue
        bad = [r for r in replies if not (isinstance(r, dict) and r.get("ok") is False
                                          and isinstance(r.get("error"), str))]
        if bad:
            failures.append("control %s: reply that is not a JSON error: %r" % (name, bad[:3]))
        elif not replies and not closed:
            failures.append("control %s: neither an error nor a close" % name)
        if os.environ.get("WASP_TEST_VERBOSE"):
            log("control %s: %d replies, closed %s, %r" % (name, len(replies), closed,
                                                           raw[:120]))
        if not srv.alive():
            raise wasptest.Failure("waspd died after control case %r" % name)
    check(http_ok(srv), "HTTP after the control cases")

    # A client that connects and never sends, and hundreds of connections
    # at once: waspd answers the extra ones with an error and a close, and
    # keeps serving HTTP and (once they are gone) control requests.
    idle = []
    try:
        for _ in range(300):
            idle.append(control_connect(srv))
        check(srv.alive(), "waspd died with 300 control connections")
        check(http_ok(srv), "HTTP with 300 idle control connections")
        refused = 0
        for s in idle:
            s.settimeout(0.05)
            try:
                b = s.recv(4096)
            except socket.timeout:
                continue
            except ConnectionResetError:
                refused += 1
                continue
            if b:
                r = json.loads(b.splitlines()[0])
                check(r.get("ok") is False, "refused connection got %r" % r)
            refused += 1
        log("%d of 300 control connections refused" % refused)
        check(refused > 0, "300 control connections all accepted (no limit?)")
    finally:
        for s in idle:
            s.close()
    r = wait_until(lambda: srv.waspctl("list", "apppool"), 10,
                   what="waspctl after the idle clients closed")
    check(r, "waspctl list apppool after the idle clients")

    # Hundreds of clients each sending garbage and vanishing mid-line.
    for i in range(300):
        s = control_connect(srv)
        try:
            s.sendall(b'{"verb": "list", "obj' + bytes([i % 256]) * 10)
        except OSError:
            pass
        s.close()
    check(srv.alive(), "waspd died of clients vanishing mid-request")
    check(srv.waspctl("list", "apppool"), "waspctl after vanishing clients")
    check(http_ok(srv), "HTTP after the control socket flood")


# ---------------------------------------------------------------- fakes


def markers(d, key):
    out = []
    i = 0
    while True:
        p = os.path.join(d, "%s.%d" % (key, i))
        if not os.path.exists(p):
            return out
        with open(p) as f:
            out.append(f.read())
        i += 1


def fake_setup(t):
    """The fake program, the wrapper and copies of the real programs, or
    None when this machine cannot run them."""
    py = interpreter()
    if not py:
        log("no python3 every user can run: fake worker/adapter cases not run")
        return None
    ok, err = namespaces_work(t)
    if not ok:
        log("no private mount namespace here (%s): fake worker/adapter cases not run"
            % err.strip())
        return None
    fake = os.path.join(t.dir, "fake-peer")
    with open(fake, "w") as f:
        f.write("#!%s\n%s" % (py, FAKE_PEER))
    os.chmod(fake, 0o755)
    wrapper = os.path.join(t.dir, "wrap.py")
    with open(wrapper, "w") as f:
        f.write(WRAPPER)
    setup = {"fake": fake, "wrapper": wrapper,
             "worker": wasptest.program("worker/wasp-worker"),
             "http": wasptest.program("protocols/http/wasp-http")}
    for name in ("worker", "http"):
        copy = os.path.join(t.dir, "real-wasp-%s" % name)
        shutil.copy2(setup[name], copy)
        os.chmod(copy, 0o755)
        setup["real-" + name] = copy
    return setup


def run_fakes(t, setup, worker_modes, adapter_modes, failures):
    """waspd with fake workers and adapters in the given modes (then the
    real programs). Returns (server, worker markers, adapter markers)."""
    fake_dir = os.path.join(t.dir, "fake-%d" % len(t.servers))
    os.makedirs(fake_dir)
    os.chmod(fake_dir, 0o777)
    fake = setup["fake"]
    # The default site of pool A: 127.0.0.1:PORT:a.test.
    srv = t.server(
        pools={"A": {"startMode": "AlwaysRunning",
                     "failure": {"rapidFailProtection": False},
                     "processModel": {"startupTimeLimit": "00:00:05"}}},
        env={"WASP_FAKE_DIR": fake_dir,
             "WASP_FAKE_WORKER_MODES": ",".join(worker_modes),
             "WASP_FAKE_ADAPTER_MODES": ",".join(adapter_modes),
             "WASP_FAKE_WORKER_REAL": setup["real-worker"],
             "WASP_FAKE_ADAPTER_REAL": setup["real-http"]},
        wrapper=[sys.executable, setup["wrapper"], fake, setup["worker"], fake,
                 setup["http"], "--"])
    srv.start(wait=False)
    wait_until(lambda: os.path.exists(os.path.join(srv.runtime_dir, "control.sock"))
               and srv.alive(), 20, what="waspd's control socket")

    # Every fake instance runs, then the real programs serve.
    def served():
        check(srv.alive(), "waspd died (status %r)" % srv.proc.returncode)
        return (len(markers(fake_dir, "WORKER")) > len(worker_modes)
                and len(markers(fake_dir, "ADAPTER")) > len(adapter_modes)
                and http_ok(srv))
    wait_until(served, 120, interval=0.2, what="HTTP served by the real programs after the fakes")

    out = {}
    for key, modes in (("WORKER", worker_modes), ("ADAPTER", adapter_modes)):
        ms = markers(fake_dir, key)
        out[key] = ms
        for mode, text in zip(modes, ms):
            lines = text.splitlines()
            what = "fake %s %s" % (key.lower(), mode)
            log("%s: %s" % (what, "; ".join(lines[1:]) or "killed"))
            if "not cut off" in lines:
                failures.append("%s: waspd did not cut it off at once (%r)" % (what, lines))
            if "handoff open" in lines:
                failures.append("%s: its handoff peer kept the channel open after garbage"
                                % what)
            if "no handoff channel" in lines or "no worker channel" in lines:
                failures.append("%s: never got its channel (%r)" % (what, lines))
    for _ in range(20):
        check(http_ok(srv), "HTTP keeps working")
    check(srv.waspctl("list", "apppool"), "waspctl after the fakes")
    return srv, out


def fake_peer_cases(t, failures):
    setup = fake_setup(t)
    if not setup:
        return
    # Broken workers against the real wasp-http: waspd kills each; the one
    # that sends garbage on its handoff channel is cut off by wasp-http,
    # which survives (only one adapter instance ever ran).
    srv, m = run_fakes(t, setup, WORKER_MODES, [], failures)
    check(len(m["ADAPTER"]) == 1, "wasp-http was restarted %d time(s) while fake workers ran"
          % (len(m["ADAPTER"]) - 1))
    check("handoff eof" in m["WORKER"][WORKER_MODES.index("handoff-garbage")],
          "wasp-http did not cut off a worker's handoff channel carrying garbage")
    rc = srv.stop()
    check(rc == 0, "waspd exited with status %r on SIGTERM" % rc)
    # Broken adapters against a real worker: waspd kills each and starts
    # the next; garbage on the handoff channel to the worker makes the
    # worker close that channel, not crash.
    srv, m = run_fakes(t, setup, [], ADAPTER_MODES, failures)
    check(len(m["WORKER"]) == 1, "the worker was replaced %d time(s) while fake adapters ran"
          % (len(m["WORKER"]) - 1))
    check("crashed" not in srv.read_log(), "a worker crashed while fake adapters ran")
    check("handoff eof" in m["ADAPTER"][ADAPTER_MODES.index("worker-garbage")],
          "the worker did not cut off a handoff channel carrying garbage")
    rc = srv.stop()
    check(rc == 0, "waspd exited with status %r on SIGTERM" % rc)


def test(t):
    failures = []
    srv = t.server(pools={"A": {}})  # site A: 127.0.0.1:PORT:a.test
    srv.start()
    check(http_ok(srv), "HTTP before")
    control_cases(t, srv, failures)
    rc = srv.stop()
    check(rc == 0, "waspd exited with status %r on SIGTERM" % rc)

    fake_peer_cases(t, failures)

    for f in failures:
        log("FAIL " + f)
    check(not failures, "%d garbage-peer case(s) failed" % len(failures))


wasptest.main(test)
