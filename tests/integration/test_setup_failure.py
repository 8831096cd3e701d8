"""A worker that was started but cannot be set up (waspd cannot send it
its configuration, routing table or handoff channels: out of descriptors,
say; here waspd's test hook WASP_TEST_SETUP_FAIL=POOL) is a start failure
like any other:
- an AlwaysRunning pool backs off between attempts (100 ms, doubling)
  instead of starting workers in a loop;
- rapid-fail protection counts the failures and stops the pool;
- the other pool serves throughout."""
import wasptest
from wasptest import check, wait_until


def test(t):
    srv = t.server(pools={"A": {"startMode": "AlwaysRunning",
                                "failure": {"rapidFailProtection": False}},
                          "B": {}},
                   env={"WASP_TEST_SETUP_FAIL": "A"}).start()
    srv.wait_log("pool 'A': 4 consecutive start failures, next start in 400 ms", timeout=20)
    attempts = srv.read_log().count("could not be set up, killing it")
    check(attempts == 4, "%d set-up failures logged by the fourth back-off" % attempts)
    check(srv.pool_state("A") == "Started", "pool A %r" % srv.pools()["A"])
    r = srv.get(pool="B")
    check(r.status == 200 and r.pool == "B", "pool B %r" % r)
    check(srv.stop() == 0, "waspd exit status")

    srv = t.server(pools={"A": {"startMode": "AlwaysRunning",
                                "failure": {"rapidFailProtection": True,
                                            "rapidFailProtectionInterval": "00:05:00",
                                            "rapidFailProtectionMaxCrashes": 3}},
                          "B": {}},
                   env={"WASP_TEST_SETUP_FAIL": "A"}).start()
    wait_until(lambda: srv.pool_state("A") == "Stopped", timeout=20,
               what="pool A stopped by rapid-fail protection")
    a = srv.pools()["A"]
    check(a["stopReason"] == "rapidFailProtection" and a["failures"] >= 3, "pool A %r" % a)
    wait_until(lambda: srv.worker_pids("A") == [], what="no worker of pool A left")
    r = srv.get(pool="B")
    check(r.status == 200 and r.pool == "B", "pool B %r" % r)
    check(srv.stop() == 0, "waspd exit status (rapid-fail)")


wasptest.main(test)
