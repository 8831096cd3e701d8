"""waspd never dies of what an adapter sends: an adapter that breaks the
protocol (garbage, an unknown type, a wrong version, registering twice) is
cut off, killed and restarted with a growing delay, while waspd keeps
answering on its control socket and exits cleanly.

The broken adapter is tests/integration/fake_worker.py (the breakage is the
same for any role), run in place of wasp-http through waspd's --test-hooks
switch WASP_TEST_ADAPTER_PROGRAM=PATH."""
import os
import shutil
import wasptest
from wasptest import check, wait_until
from test_peer_protocol_util import python_for_children

MODES = ["garbage", "badtype", "badver", "register2"]


def test(t):
    here = os.path.dirname(os.path.abspath(__file__))
    fake = os.path.join(t.dir, "fake_worker.py")
    shutil.copy(os.path.join(here, "fake_worker.py"), fake)
    os.chmod(fake, 0o644)
    for mode in MODES:
        wrapper = os.path.join(t.dir, "fake-adapter-%s" % mode)
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec %s %s %s adapter\n" % (python_for_children(), fake, mode))
        os.chmod(wrapper, 0o755)
        srv = t.server(pools={"A": {}}, env={"WASP_TEST_ADAPTER_PROGRAM": wrapper})
        srv.start(wait=False)
        # Three kills and restarts of the broken adapter, waspd unmoved.
        wait_until(lambda: srv.read_log().count("restarting wasp-http") >= 3, timeout=20,
                   what="%s: the broken adapter restarted three times" % mode)
        check(srv.alive(), "%s: waspd died" % mode)
        check(srv.pools()["A"]["state"] == "Started", "%s: control socket" % mode)
        log = srv.read_log()
        check("killing it" in log or "exited" in log, "%s: nothing logged" % mode)
        check(srv.stop() == 0, "%s: waspd exit status" % mode)


wasptest.main(test)
