"""waspd under the systemd unit's capability bounding set and no_new_privs
(read from dist/systemd/wasp.service.in and applied with setpriv, the part
of the unit's sandbox that can be reproduced without systemd): pools get
their own uids, the site's W3C log directory is given to its pool and
written, the HTTPERR directory is given to the listener and written, a
recycle signals the old worker, and nothing in waspd's log says a
capability was missing. Root only."""
import glob
import os
import re
import shutil

import wasptest
from wasptest import check, skip, wait_until


def unit_caps():
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    with open(os.path.join(src, "dist", "systemd", "wasp.service.in")) as f:
        m = re.search(r"^CapabilityBoundingSet=(.*)$", f.read(), re.M)
    check(m, "the unit sets no CapabilityBoundingSet")
    return [c.strip().lower() for c in m.group(1).split()]


def test(t):
    if os.geteuid() != 0:
        skip("needs root")
    setpriv = shutil.which("setpriv")
    if not setpriv:
        skip("setpriv is not installed")
    caps = unit_caps()
    check("cap_sys_admin" not in caps and "cap_dac_override" not in caps,
          "the unit's set: %r" % caps)
    bounding = "-all," + ",".join("+" + c[len("cap_"):] for c in caps)
    srv = t.server(pools={"A": {}},
                   wrapper=[setpriv, "--bounding-set", bounding, "--inh-caps", "-all",
                            "--no-new-privs", "--"])
    srv.start()
    with open("/proc/%d/status" % srv.proc.pid) as f:
        bnd = [ln for ln in f if ln.startswith("CapBnd:")][0]
    check(int(bnd.split()[1], 16) != (1 << 41) - 1, "bounding set not applied: %s" % bnd)
    r = srv.get(pool="A", path="/index.html?sandboxed=1")
    check(r.status == 200, "request %r" % r)
    old = r.pid
    with open("/proc/%d/status" % old) as f:
        wuid = int([ln for ln in f if ln.startswith("Uid:")][0].split()[1])
    check(wuid != 0, "the worker runs as root")
    srv.raw(b"GET\x01/ HTTP/1.1\r\n\r\n")
    httperr = os.path.join(t.dir, "logs", "HTTPERR")
    wait_until(lambda: os.path.exists(os.path.join(httperr, "httperr1.log")),
               what="the listener's httperr1.log")
    check(os.stat(httperr).st_uid != 0, "HTTPERR still root's")
    srv.waspctl("recycle", "apppool", "A")
    wait_until(lambda: srv.get(pool="A").pid != old, what="a recycled worker")
    wait_until(lambda: not wasptest.pid_alive(old), what="the old worker to exit")
    site = os.path.join(t.dir, "logs", "LogFiles", "W3SVC1")
    check(os.stat(site).st_uid == wuid, "W3SVC1 is not the pool's")
    srv.stop()

    def logged():
        for fn in glob.glob(os.path.join(site, "u_ex*.log")):
            with open(fn, errors="replace") as f:
                if "sandboxed=1" in f.read():
                    return True
        return False
    wait_until(logged, what="the request's line in W3SVC1")
    log = srv.read_log()
    for bad in ("Operation not permitted", "Permission denied"):
        check(bad not in log, "%r in waspd's log:\n%s" % (bad, log))


if __name__ == "__main__":
    wasptest.main(test)
