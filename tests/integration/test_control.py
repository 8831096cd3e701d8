"""The control socket: list apppool/wp (table and JSON), stop/start/recycle,
errors a person can act on; a pool with autoStart="false" says so as its
stop reason; a recycle of a pool with no worker says nothing was recycled."""
import wasptest
from wasptest import check, wait_until


def test(t):
    srv = t.server(pools={"A": {"processModel": {"maxProcesses": 2}}, "B": {},
                          "C": {"autoStart": False}}).start()
    pools = srv.pools()
    check(set(pools) == {"A", "B", "C"}, "pools %r" % pools)
    check(pools["C"]["state"] == "Stopped" and pools["C"]["stopReason"] == "autoStart",
          "autoStart false: %r" % pools["C"])
    check(pools["B"]["stopReason"] == "", "B %r" % pools["B"])

    # B has no worker yet: nothing to recycle, and waspctl says so.
    out = srv.waspctl("recycle", "apppool", "B")
    check(out["recycled"] == 0 and "nothing recycled" in out["message"], "recycle %r" % out)
    text = srv.waspctl("recycle", "apppool", "B", json_output=False)
    check("nothing recycled" in text, "recycle text %r" % text)
    check(srv.pools()["B"]["recycles"] == 0, "B %r" % srv.pools()["B"])
    rb = srv.get(pool="B")
    out = srv.waspctl("recycle", "apppool", "B")
    check(out["recycled"] == 1 and out["message"] == "application pool recycled",
          "recycle %r" % out)
    wait_until(lambda: srv.pools()["B"]["recycles"] == 1, what="B recycled")
    check(srv.get(pool="B").pid != rb.pid, "B not recycled")
    a = pools["A"]
    for key in ("name", "state", "workers", "startMode"):
        check(key in a, "list apppool lacks %r: %r" % (key, a))
    check(a["startMode"] == "OnDemand", "startMode %r" % a["startMode"])

    text = srv.waspctl("list", "apppool", json_output=False)
    check("A" in text and "Started" in text, "table output:\n" + text)

    r = srv.get(pool="A")
    check(r.status == 200, "request %r" % r)
    wps = srv.workers("A")
    check(len(wps) == 1, "wp %r" % wps)
    for key in ("pid", "pool", "state", "requests", "started"):
        check(key in wps[0], "list wp lacks %r: %r" % (key, wps[0]))
    text = srv.waspctl("list", "wp", json_output=False)
    check(str(r.pid) in text, "wp table:\n" + text)

    srv.waspctl("stop", "apppool", "A")
    wait_until(lambda: srv.pool_state("A") == "Stopped", what="A stopped")
    wait_until(lambda: srv.worker_pids("A") == [], what="A's worker gone")
    check(srv.get(pool="A").status == 503, "stopped pool serves")
    check(srv.get(pool="B").status == 200, "B affected by stopping A")
    srv.waspctl("start", "apppool", "A")
    wait_until(lambda: srv.pool_state("A") == "Started", what="A started")
    check(srv.get(pool="A").status == 200, "A after start")

    rc, out, err = srv.waspctl("stop", "apppool", "NoSuchPool", check_status=False)
    check(rc != 0, "stopping an unknown pool succeeded")
    check("NoSuchPool" in (out + err), "error does not name the pool: %r %r" % (out, err))
    rc, out, err = srv.waspctl("frobnicate", check_status=False, json_output=False)
    check(rc != 0, "unknown verb accepted")


wasptest.main(test)
