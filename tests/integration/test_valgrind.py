"""waspd, wasp-http and the workers are valgrind-clean (memcheck) over a
short integration run: static files, errors, keep-alive across two pools
(hand back), chunked bodies, malformed requests, waspctl, a recycle, a
worker started on demand, and a clean SIGTERM shutdown. Every process of
the tree runs under valgrind (--trace-children); the test fails on any
memcheck error or definite leak in any of them, and prints the reports.

Skipped (77) when valgrind is not installed or the build uses sanitizers
(valgrind cannot run ASan binaries)."""
import glob
import json
import os
import re
import shutil
import socket

# Everything is 10-50x slower under valgrind: scale the harness deadlines.
os.environ.setdefault("WASP_TEST_TIME_SCALE", "6")

import wasptest  # noqa: E402
from wasptest import check, log, wait_until  # noqa: E402

VG_ERROR_EXIT = 99


def sanitized_build():
    p = os.path.join(wasptest.build_root(), "meson-info", "intro-buildoptions.json")
    try:
        with open(p) as f:
            opts = json.load(f)
    except (OSError, ValueError):
        return False
    for o in opts:
        if o.get("name") == "b_sanitize":
            v = o.get("value")
            return bool(v) and v != "none" and v != ["none"]
    return False


def raw(srv, data):
    return srv.raw(data, timeout=30)


def test(t):
    vg = shutil.which("valgrind")
    if not vg:
        wasptest.skip("valgrind is not installed")
    if sanitized_build():
        wasptest.skip("sanitizer build: valgrind cannot run it")
    vgdir = os.path.join(t.dir, "valgrind")
    os.makedirs(vgdir)
    os.chmod(vgdir, 0o777)  # workers and the listener run as other users as root
    wrapper = [vg, "--tool=memcheck", "--trace-children=yes", "--child-silent-after-fork=yes",
               "--error-exitcode=%d" % VG_ERROR_EXIT, "--leak-check=full",
               "--show-leak-kinds=definite", "--errors-for-leak-kinds=definite",
               "--track-fds=no", "--num-callers=30",
               "--log-file=%s/vg.%%p.log" % vgdir]
    srv = t.server(pools={"A": {}, "B": {"startMode": "AlwaysRunning"}},
                   sites=[{"name": "one", "id": 1, "bindings": ["127.0.0.1:{port}:a.test"],
                           "apps": [{"path": "/", "pool": "A", "physicalPath": ""},
                                    {"path": "/app", "pool": "B", "physicalPath": ""}]}],
                   wrapper=wrapper)
    # Under valgrind a process' argv[0] is valgrind's: find wasp's
    # programs among the arguments instead.
    def children(name):
        out = []
        for pid in wasptest._pids():
            try:
                st = wasptest._proc_stat(pid)
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    args = f.read().split(b"\0")
            except OSError:
                continue
            if st["ppid"] != srv.proc.pid or st["state"] == "Z":
                continue
            if any(wasptest.is_program(a.decode("utf-8", "replace"), name) for a in args):
                out.append(pid)
        return sorted(out)
    srv.children = children
    srv.sites[0]["apps"][0]["physicalPath"] = srv.content_dir("A")
    srv.sites[0]["apps"][1]["physicalPath"] = srv.content_dir("B")
    srv.config_text = wasptest.config_xml(
        [{"name": "A"}, {"name": "B", "startMode": "AlwaysRunning"}], srv.sites)
    srv.start()
    wait_until(lambda: srv.worker_processes(), 60, what="pool B's worker")

    # On-demand start of A, static files, errors.
    r = srv.get("/index.html", host="a.test", timeout=60)
    check(r.status == 200 and r.body == b"pool A\n", "A: %r" % r)
    r = srv.get("/big.bin", host="a.test", timeout=60)
    check(r.status == 200 and len(r.body) == 65536, "big.bin: %r" % r)
    r = srv.get("/nosuch.html", host="a.test", timeout=60)
    check(r.status == 404, "404: %r" % r)
    r = srv.get("/app/index.html", host="a.test", timeout=60)
    check(r.status == 200 and r.body == b"pool B\n", "B: %r" % r)
    r = srv.get("/index.html", host="nosuch.test", timeout=60)
    check(r.status == 400, "no binding: %r" % r)
    # Keep-alive across pools (hand back), conditional and range requests.
    with srv.keepalive(host="a.test", timeout=60) as ka:
        r1 = ka.get("/index.html")
        r2 = ka.get("/app/index.html")
        r3 = ka.get("/index.html", headers={"Range": "bytes=0-3"})
        r4 = ka.get("/index.html", headers={"If-None-Match": r1.header("ETag") or "x"})
        check((r1.status, r2.status) == (200, 200), "keep-alive %r %r" % (r1, r2))
        check(r3.status in (200, 206) and r4.status in (200, 304), "%r %r" % (r3, r4))
    # Bodies and malformed input.
    out = raw(srv, b"POST /index.html HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n"
                   b"Connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    check(wasptest.parse_status(out) in (200, 405), "chunked: %r" % out[:100])
    for bad in (b"GET / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n",
                b"GET /../x HTTP/1.1\r\nHost: a.test\r\n\r\n",
                b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n",
                b"\x16\x03\x01garbage\r\n\r\n",
                b"POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"):
        out = raw(srv, bad)
        check(wasptest.parse_status(out) in (400, 414), "bad input %r: %r" % (bad[:40], out[:80]))
    # A client that goes away mid-head.
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    s.sendall(b"GET /index.html HTTP/1.1\r\nHo")
    s.close()
    # Control: list, recycle (a new worker replaces the old one).
    srv.waspctl("list", "apppool", timeout=60)
    srv.waspctl("list", "wp", timeout=60)
    old = srv.worker_pids("B")
    srv.waspctl("recycle", "apppool", "B", timeout=60)
    wait_until(lambda: srv.worker_pids("B", state="Ready") and
               set(srv.worker_pids("B", state="Ready")) - set(old), 30, what="the recycled worker")
    r = srv.get("/app/index.html", host="a.test", timeout=60)
    check(r.status == 200, "after recycle: %r" % r)

    rc = srv.stop(timeout=120)
    reports = []
    for p in sorted(glob.glob(os.path.join(vgdir, "vg.*.log"))):
        with open(p, errors="replace") as f:
            text = f.read()
        m = re.search(r"ERROR SUMMARY: (\d+) errors", text)
        prog = re.search(r"Command: (\S+)", text)
        name = os.path.basename(prog.group(1)) if prog else "?"
        if not m:
            # A process that was killed (SIGKILL) writes no summary; a
            # process valgrind followed into a non-wasp exec has no command.
            log("%s (%s): no summary" % (os.path.basename(p), name))
            continue
        definite = re.search(r"definitely lost: ([\d,]+) bytes", text)
        log("%s (%s): %s errors, definitely lost %s bytes" % (
            os.path.basename(p), name, m.group(1), definite.group(1) if definite else "0"))
        if int(m.group(1)) != 0:
            reports.append("----- %s (%s) -----\n%s" % (p, name, text[-20000:]))
    if reports:
        wasptest.sys.stderr.write("\n".join(reports))
    check(not reports, "valgrind reported errors in %d process(es)" % len(reports))
    check(rc == 0, "waspd exited with status %r (valgrind's error exit is %d)"
          % (rc, VG_ERROR_EXIT))
    check(glob.glob(os.path.join(vgdir, "vg.*.log")), "no valgrind log at all")


wasptest.main(test)
