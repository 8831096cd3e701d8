"""A worker whose handoff channel with the listener breaks (while its
activator channel, and so its pings, are fine) is not left unreachable:
it reports HANDOFF_CHANNEL_LOST, waspd pairs it with the listener again,
and the listener takes the new channel in place of the old one.

The worker is tests/integration/fake_worker.py in mode "chanlost" (run for
pool F through waspd's --test-hooks switch WASP_TEST_WORKER_PROGRAM): it
gets ready, reports its first handoff channel lost and closes it, then
answers what arrives on the next channel with "channel N"."""
import os
import wasptest
from wasptest import check, wait_until
from test_peer_protocol_util import python_for_children


def test(t):
    here = os.path.dirname(os.path.abspath(__file__))
    fake = os.path.join(t.dir, "fake_worker.py")
    with open(os.path.join(here, "fake_worker.py")) as src, open(fake, "w") as dst:
        dst.write(src.read())
    os.chmod(fake, 0o644)
    wrapper = os.path.join(t.dir, "fake-chanlost")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec %s %s chanlost\n" % (python_for_children(), fake))
    os.chmod(wrapper, 0o755)
    srv = t.server(pools={"F": {"processModel": {"startupTimeLimit": "00:00:05"}}},
                   env={"WASP_TEST_WORKER_PROGRAM": "F:" + wrapper}).start()
    r = srv.get(pool="F", path="/", timeout=20)
    check(r.status == 200 and r.body == b"channel 2\n", "pool F answered %r %r" % (r, r.body))
    srv.wait_log("lost its handoff channel with adapter")
    pids = srv.worker_pids("F")
    check(len(pids) == 1, "workers %r" % pids)
    for _ in range(3):
        r = srv.get(pool="F", path="/")
        check(r.status == 200 and r.body == b"channel 2\n", "again %r" % r)
    check(srv.pools()["F"]["failures"] == 0, "pool F %r" % srv.pools()["F"])
    check(srv.worker_pids("F") == pids, "the worker was replaced: %r" % srv.worker_pids("F"))


wasptest.main(test)
