"""waspd never dies of what a peer sends: a worker that sends garbage, an
unknown message type, a wrong payload size, a wrong protocol version or an
fd where none belongs is cut off and killed, the failure is counted and
logged, and every other pool keeps serving.

The broken worker is tests/integration/fake_worker.py, run for pool F in
place of wasp-worker through waspd's --test-hooks switch
WASP_TEST_WORKER_PROGRAM=POOL:PATH."""
import os
import wasptest
from wasptest import check, wait_until
from test_peer_protocol_util import python_for_children

MODES = ["garbage", "badtype", "badlen", "badver", "fdspam"]


def test(t):
    here = os.path.dirname(os.path.abspath(__file__))
    fake = os.path.join(t.dir, "fake_worker.py")
    with open(os.path.join(here, "fake_worker.py")) as src, open(fake, "w") as dst:
        dst.write(src.read())
    os.chmod(fake, 0o644)
    for mode in MODES:
        wrapper = os.path.join(t.dir, "fake-%s" % mode)
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec %s %s %s\n" % (python_for_children(), fake, mode))
        os.chmod(wrapper, 0o755)
        srv = t.server(pools={"F": {"processModel": {"startupTimeLimit": "00:00:03"},
                                    "failure": {"rapidFailProtection": False}},
                              "B": {}},
                       env={"WASP_TEST_WORKER_PROGRAM": "F:" + wrapper}).start()
        r = srv.get(pool="F", timeout=30)
        check(r.status == 503, "%s: pool F answered %r" % (mode, r))
        wait_until(lambda: srv.pools()["F"]["failures"] >= 1, what="%s: failure counted" % mode)
        log = srv.read_log()
        check("broke the protocol" in log or "crashed" in log,
              "%s: nothing logged about the broken worker" % mode)
        check(srv.alive(), "%s: waspd died" % mode)
        rb = srv.get(pool="B")
        check(rb.status == 200 and rb.pool == "B", "%s: pool B %r" % (mode, rb))
        wait_until(lambda: srv.worker_pids("F") == [], what="%s: fake worker gone" % mode)
        check(srv.stop() == 0, "%s: waspd exit status" % mode)


wasptest.main(test)
