"""waspd refuses a runtime directory that someone else could write into
(they could put their own control.sock there first): one writable by its
group or by others, sticky or not, and one not owned by waspd's user. The
message names the directory and what is wrong with it."""
import os
import pwd

import wasptest
from wasptest import check


def refused(t, d, what):
    srv = t.server(pools={"A": {}}, args=["--runtime-dir", d])
    srv.expect_clean_exit = False
    srv.start(wait=False)
    try:
        rc = srv.proc.wait(timeout=20 * wasptest.TIME_SCALE)
    except Exception:  # noqa: BLE001 - reported below
        rc = None
    check(rc not in (None, 0), "waspd started with runtime directory %s (%s): %r" % (d, what, rc))
    log = srv.read_log()
    check(("runtime directory %s" % d) in log and what in log,
          "the message does not name %s and %r:\n%s" % (d, what, log))
    check(not os.path.exists(os.path.join(d, "control.sock")), "control.sock created in %s" % d)


def test(t):
    for mode, what in ((0o777, "writable by others"), (0o1777, "writable by others"),
                       (0o775, "writable by its group")):
        d = os.path.join(t.dir, "run-%o" % mode)
        os.mkdir(d)
        os.chmod(d, mode)
        refused(t, d, what)
    if os.geteuid() == 0:
        d = os.path.join(t.dir, "run-nobody")
        os.mkdir(d, 0o755)
        try:
            os.chown(d, pwd.getpwnam("nobody").pw_uid, -1)
        except KeyError:
            wasptest.skip("no user 'nobody'")
        refused(t, d, "owned by uid %d" % pwd.getpwnam("nobody").pw_uid)
    else:
        refused(t, "/", "owned by uid 0")
    # The directory wasptest makes (0755, ours) is accepted.
    srv = t.server(pools={"A": {}}).start()
    check(srv.get(pool="A").status == 200, "a server with a proper runtime directory")


wasptest.main(test)
