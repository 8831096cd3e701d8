"""W3C logging out of the box: a site without a logFile directory gets IIS's
default, %SystemDrive%\\inetpub\\logs\\LogFiles, which on Linux (no
SystemDrive) is wasp's log directory's LogFiles (/var/log/wasp/LogFiles when
installed; WASP_LOG_DIR, set here to the test's directory, moves it for
waspd and every worker alike). The request's line is in
LogFiles/W3SVC<id>/u_exYYMMDD.log; nothing says the site does not log."""
import glob
import os

import wasptest
from wasptest import check, wait_until


def test(t):
    srv = t.server(pools={"A": {}}).start()
    r = srv.get(pool="A", path="/index.html?from=default-dir")
    check(r.status == 200, "request %r" % r)
    site_dir = os.path.join(t.dir, "logs", "LogFiles", "W3SVC1")
    check(os.path.isdir(site_dir), "no %s" % site_dir)

    def logged():
        for f in glob.glob(os.path.join(site_dir, "u_ex*.log")):
            with open(f, encoding="utf-8", errors="replace") as fh:
                if "from=default-dir" in fh.read():
                    return True
        return False

    srv.stop()  # the worker flushes its buffer as it exits
    wait_until(logged, what="the request's line in %s" % site_dir)
    check("not logging" not in srv.read_log(), "a site did not log: %s" % srv.read_log())


if __name__ == "__main__":
    wasptest.main(test)
