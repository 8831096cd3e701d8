"""A pool whose SpecificUser does not exist (as root): waspd starts, logs
it, keeps that pool stopped (503, and `waspctl start` says why) while the
other pools serve."""
import os
import wasptest
from wasptest import check, skip


def test(t):
    if os.geteuid() != 0:
        skip("identities are only applied as root")
    srv = t.server(pools={
        "A": {"processModel": {"identityType": "SpecificUser",
                               "userName": "wasp-no-such-user"}},
        "B": {},
    }).start()
    a = srv.pools()["A"]
    check(a["state"] == "Stopped", "pool A %r" % a)
    check(srv.get(pool="A").status == 503, "pool A answered")
    check(srv.get(pool="B").status == 200, "pool B")
    rc, out, err = srv.waspctl("start", "apppool", "A", check_status=False)
    check(rc != 0 and "identity" in err, "start: %r %r" % (out, err))
    check("wasp-no-such-user" in srv.read_log(), "the log does not name the user")


wasptest.main(test)
