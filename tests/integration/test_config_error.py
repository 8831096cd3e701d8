"""A configuration with an error: waspd refuses to start, exits non-zero and
names the file and line; nothing is left running."""
import wasptest
from wasptest import check, wait_until


def test(t):
    srv = t.server(pools={"A": {"startMode": "Sometimes"}})
    srv.expect_clean_exit = False
    srv.start(wait=False)
    wait_until(lambda: not srv.alive(), timeout=15, what="waspd to exit")
    check(srv.proc.returncode not in (0, None), "exit status %r" % srv.proc.returncode)
    log = srv.read_log()
    check("applicationHost.config:" in log and "startMode" in log,
          "error does not name file:line and attribute:\n" + log)
    check(srv.group_pids() == [], "left running: %r" % srv.group_pids())


wasptest.main(test)
