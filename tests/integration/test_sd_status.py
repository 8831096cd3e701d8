"""What waspd tells systemd besides READY=1, read on a NOTIFY_SOCKET the
test owns: STATUS= with its counts (pools started, workers, requests per
second), sent again when they change; RELOADING=1 with MONOTONIC_USEC
(CLOCK_MONOTONIC now) on a reload, READY=1 after it, and a STATUS= that
says so when the reload failed (`waspctl reload` exits non-zero then, which
is what makes `systemctl reload` fail with ExecReload=waspctl reload);
EXTEND_TIMEOUT_USEC= covering shutdownTimeLimit when it drains on
SIGTERM. `waspctl restart` is refused under systemd."""
import re
import signal
import threading
import time

import notifytest
import wasptest
from wasptest import check, wait_until

STATUS_RE = re.compile(r"^serving(?: \(the last reload failed\))?: (\d+) of (\d+) pool\(s\) "
                       r"started, (\d+) worker\(s\), (\d+) req/s$")


def counts(m):
    g = STATUS_RE.match(m.fields.get("STATUS", ""))
    return tuple(int(x) for x in g.groups()) if g else None


def test(t):
    ns = notifytest.NotifySocket(t.dir)
    pools = {"A": {"processModel": {"shutdownTimeLimit": "00:03:00"}},
             "B": {"autoStart": "false"}, "C": {}}
    srv = t.server(pools=pools,
                   env={"NOTIFY_SOCKET": ns.path, "WASP_TEST_STATUS_INTERVAL_MS": "200"})
    srv.start()
    wait_until(lambda: ns.seen("READY", "1"), what="READY=1")
    ready = ns.seen("READY", "1")[0]
    check(counts(ready) == (2, 3, 0, 0), "STATUS at start: %r" % ready)

    # Requests: a worker, and a rate above zero.
    load = wasptest.Load(srv, pool="A", threads=2).start()
    wait_until(lambda: any(c and c[2] == 1 and c[3] > 0 for c in map(counts, ns.seen("STATUS"))),
               15, what="STATUS with a worker and requests per second")
    load.stop()
    check(not load.failures, "load: %r" % load.failures[:3])
    # Sent only when it changed: no two alike in a row.
    texts = [m.fields["STATUS"] for m in ns.seen("STATUS")]
    check(all(a != b for a, b in zip(texts, texts[1:])), "repeated STATUS: %r" % texts)
    wait_until(lambda: counts(ns.seen("STATUS")[-1]) == (2, 3, 1, 0), 15,
               what="the rate back to 0 once idle")

    # A reload: RELOADING=1 with MONOTONIC_USEC, then READY=1.
    n_ready = len(ns.seen("READY", "1"))
    before = time.clock_gettime(time.CLOCK_MONOTONIC) * 1e6
    srv.waspctl("reload")
    after = time.clock_gettime(time.CLOCK_MONOTONIC) * 1e6
    wait_until(lambda: len(ns.seen("READY", "1")) > n_ready, what="READY=1 after the reload")
    rl = ns.seen("RELOADING", "1")
    check(len(rl) == 1, "RELOADING=1 %r" % rl)
    mono = int(rl[0].fields.get("MONOTONIC_USEC", "0"))
    check(before <= mono <= after, "MONOTONIC_USEC %d not in [%d, %d]" % (mono, before, after))
    check(counts(ns.seen("READY", "1")[-1]) is not None, "STATUS with READY=1 after reload")

    # A reload that fails: waspctl exits non-zero, waspd says READY=1 again
    # (the old configuration serves) with a STATUS that says so.
    with open(srv.config_path) as f:
        good = f.read()
    wasptest.replace_file(srv.config_path, good.replace("<sites>", "<sites><bogus", 1))
    n_ready = len(ns.seen("READY", "1"))
    rc, out, err = srv.waspctl("reload", check_status=False)
    check(rc == 1 and "the running configuration stays" in err, "reload: %d %r %r"
          % (rc, out, err))
    wait_until(lambda: len(ns.seen("READY", "1")) > n_ready, what="READY=1 after a failed reload")
    check("(the last reload failed)" in ns.seen("READY", "1")[-1].fields["STATUS"],
          "%r" % ns.seen("READY", "1")[-1])
    # (waspd's own watch may reload the changed file too)
    check(len(ns.seen("RELOADING", "1")) >= 2, "RELOADING=1 for the failed reload too")
    wasptest.replace_file(srv.config_path, good)

    # Under systemd a restart is systemctl's (the store keeps the sockets).
    rc, out, err = srv.waspctl("restart", check_status=False)
    check(rc == 1 and "systemctl restart" in err, "restart: %d %r %r" % (rc, out, err))

    # A pool a reload removed, still draining a slow request, is not counted.
    slow = threading.Thread(target=lambda: srv.get("/__wasp_test/sleep?ms=3000", pool="C",
                                                   timeout=30), daemon=True)
    slow.start()
    wait_until(lambda: any(w["busy"] > 0 for w in srv.workers("C")), what="slow request on C")
    n_ready = len(ns.seen("READY", "1"))
    wasptest.replace_file(srv.config_path, wasptest.config_xml(
        [dict(name=n, **a) for n, a in pools.items() if n != "C"],
        [x for x in srv.sites if x["name"] != "C"]))
    srv.waspctl("reload")
    wait_until(lambda: len(ns.seen("READY", "1")) > n_ready, what="READY=1 after removing C")
    c = counts(ns.seen("READY", "1")[-1])
    check(c and c[:3] == (1, 2, 2), "STATUS with C removed and draining: %r" % (c,))
    slow.join(30)

    # SIGTERM: STOPPING=1, and EXTEND_TIMEOUT_USEC= beyond shutdownTimeLimit.
    srv.proc.send_signal(signal.SIGTERM)
    wait_until(lambda: ns.seen("EXTEND_TIMEOUT_USEC"), what="EXTEND_TIMEOUT_USEC")
    check(ns.seen("STOPPING", "1"), "STOPPING=1")
    ext = int(ns.seen("EXTEND_TIMEOUT_USEC")[0].fields["EXTEND_TIMEOUT_USEC"])
    check(180e6 < ext <= 200e6, "EXTEND_TIMEOUT_USEC=%d for a 3 min shutdownTimeLimit" % ext)
    check(srv.proc.wait(30) == 0, "exit status")
    ns.close()


wasptest.main(test)
