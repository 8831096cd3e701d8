"""The control socket's access groups: waspd --admin-group lets its members
use every verb, --read-group lets its members list and read the metrics;
any other uid is refused with a message that says who may. Root only (the test runs waspctl
as a uid and groups made up for it, not in /etc/group)."""
import grp
import os
import pwd
import stat
import subprocess

import wasptest
from wasptest import check, skip, wait_until


def unused_ids(n, start=61000):
    """n numbers that are neither a uid nor a gid here."""
    ids = []
    for i in range(start, start + 4000):
        try:
            grp.getgrgid(i)
            continue
        except KeyError:
            pass
        try:
            pwd.getpwuid(i)
            continue
        except KeyError:
            pass
        ids.append(i)
        if len(ids) == n:
            return ids
    skip("no unused ids")


def test(t):
    if os.geteuid() != 0:
        skip("needs root (runs waspctl as other uids)")
    admin, reader, user = unused_ids(3)
    srv = t.server(pools={"A": {}},
                   args=("--admin-group", str(admin), "--read-group", str(reader))).start()
    # The test's directory is private; the made-up uid must reach the socket.
    os.chmod(t.dir, 0o711)
    sock = os.path.join(srv.runtime_dir, "control.sock")
    check(stat.S_IMODE(os.stat(sock).st_mode) == 0o666, "socket mode with groups")

    def ctl(groups, *args):
        p = subprocess.run([wasptest.program("activator/waspctl"), "-r", srv.runtime_dir]
                           + list(args), user=user, group=user, extra_groups=groups,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    rc, out, err = ctl([], "list", "apppool")
    check(rc != 0 and "permission denied" in err and "--read-group" in err,
          "no group: %d %r %r" % (rc, out, err))

    rc, out, err = ctl([reader], "list", "apppool")
    check(rc == 0 and 'APPPOOL "A"' in out, "reader lists: %d %r %r" % (rc, out, err))
    rc, out, err = ctl([reader], "metrics")
    check(rc == 0 and "# TYPE wasp_pool_requests_total counter" in out,
          "reader reads metrics: %d %r %r" % (rc, out[:200], err))
    rc, out, err = ctl([], "metrics")
    check(rc != 0 and "permission denied" in err, "no group, metrics: %d %r" % (rc, err))
    rc, out, err = ctl([reader], "stop", "apppool", "A")
    check(rc != 0 and "may only list" in err, "reader stops: %d %r %r" % (rc, out, err))
    rc, out, err = ctl([reader], "reload")
    check(rc != 0 and "may only list" in err, "reader reloads: %d %r %r" % (rc, out, err))
    check(srv.pool_state("A") == "Started", "A stopped by a reader")
    rc, out, err = ctl([reader], "stop", "site", "A")
    check(rc != 0 and "may only list" in err, "reader stops a site: %d %r %r" % (rc, out, err))
    # Edits are waspctl's own writes: who cannot write the file cannot edit
    with open(srv.config_path, "rb") as f:
        before = f.read()
    rc, out, err = ctl([reader], "-c", srv.config_path, "set", "apppool", "A",
                       "/autoStart:false")
    check(rc != 0 and "Permission denied" in err, "reader edits: %d %r %r" % (rc, out, err))
    with open(srv.config_path, "rb") as f:
        check(f.read() == before, "a reader's refused edit changed the file")

    rc, out, err = ctl([admin], "stop", "apppool", "A")
    check(rc == 0, "admin stops: %d %r %r" % (rc, out, err))
    wait_until(lambda: srv.pool_state("A") == "Stopped", what="A stopped")
    rc, out, err = ctl([admin, reader], "start", "apppool", "/apppool.name:A")
    check(rc == 0, "admin starts: %d %r %r" % (rc, out, err))
    wait_until(lambda: srv.pool_state("A") == "Started", what="A started")




wasptest.main(test)
