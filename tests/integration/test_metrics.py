"""waspctl metrics: Prometheus' text format. Counters move with traffic
(requests per pool and per site, handoffs), are the pool's and survive a
recycle, count recycles by reason; the listener counts what it answered
itself by reason (a 400, a 431, a 503 of a stopped pool); list apppool and
list wp show the same figures; promtool (when installed) accepts the
exposition."""
import wasptest
from wasptest import check, wait_until
from metricstest import metrics, value, promtool_check


def test(t):
    srv = t.server(pools={"A": {}, "B": {}}).start()
    for _ in range(5):
        check(srv.get(pool="A").status == 200, "request to A")
    wait_until(lambda: (value(metrics(srv), "wasp_pool_requests_total", pool="A") or 0) >= 5
               and (value(metrics(srv), "wasp_pool_handoffs_total", pool="A") or 0) >= 1,
               what="A's requests and handoffs counted")
    m = metrics(srv)
    check(value(m, "wasp_pool_state", pool="A", state="Started") == 1, "A Started")
    check(value(m, "wasp_pool_state", pool="A", state="Stopped") == 0, "A not Stopped")
    check(value(m, "wasp_pool_workers", pool="A", state="Ready") == 1, "one ready worker")
    check(value(m, "wasp_pool_requests_total", pool="B") == 0, "B served nothing")
    # the first request waited in the queue while A's worker started on demand
    check(value(m, "wasp_pool_queue_wait_seconds_count", pool="A") >= 1
          and value(m, "wasp_pool_queue_wait_seconds_sum", pool="A") > 0, "queue wait")
    check(value(m, "wasp_pool_queue_length", pool="A") == 0, "A's queue empty")
    pid = srv.worker_pids("A")[0]
    check(value(m, "wasp_worker_requests_total", pool="A", pid=str(pid)) >= 5, "worker requests")
    check(value(m, "wasp_worker_resident_memory_bytes", pool="A", pid=str(pid)) > 0, "RSS")
    check(value(m, "wasp_worker_private_memory_bytes", pool="A", pid=str(pid)) > 0, "private")
    check(value(m, "wasp_worker_cpu_seconds_total", pool="A", pid=str(pid)) is not None, "CPU")
    check(value(m, "wasp_listener_connections_accepted_total") >= 5, "accepted")
    before = value(m, "wasp_pool_requests_total", pool="A")

    # list apppool and list wp show the same figures
    a = srv.pools()["A"]
    check(a["requests"] >= before and a["rssKB"] > 0 and "cpuMs" in a, "list apppool %r" % a)
    w = srv.workers("A")[0]
    check(w["requests"] >= 5 and w["rssKB"] > 0 and "cpuMs" in w and "uptimeSeconds" in w,
          "list wp %r" % w)

    # a recycle: counted by reason, the pool's counters go on
    srv.waspctl("recycle", "apppool", "A")
    wait_until(lambda: srv.worker_pids("A", state="Ready") not in ([], [pid]),
               what="a new worker for A")
    wait_until(lambda: len(srv.worker_pids("A")) == 1, what="the old worker gone")
    for _ in range(3):
        check(srv.get(pool="A").status == 200, "request after the recycle")
    wait_until(lambda: value(metrics(srv), "wasp_pool_requests_total", pool="A") >= before + 3,
               what="A's counter going on after the recycle")
    # the requests a worker served since its last report go with it too
    before = value(metrics(srv), "wasp_pool_requests_total", pool="A")
    for _ in range(2):
        check(srv.get(pool="A").status == 200, "request before the second recycle")
    srv.waspctl("recycle", "apppool", "A")
    wait_until(lambda: value(metrics(srv), "wasp_pool_requests_total", pool="A") >= before + 2,
               what="the recycled worker's last requests counted")
    m = metrics(srv)
    check(value(m, "wasp_pool_recycles_total", pool="A", reason="manual") == 2,
          "two manual recycles")
    check(value(m, "wasp_pool_recycles_total", pool="A", reason="time") == 0, "no time recycle")
    wait_until(lambda: value(metrics(srv), "wasp_pool_workers_started_total", pool="A") == 3,
               what="three workers started")
    check(value(m, "wasp_pool_cpu_seconds_total", pool="A") > 0, "pool CPU time")

    # the listener's own answers, by reason
    raw = srv.raw(b"GARBAGE\r\n\r\n")
    check(b" 400 " in raw.split(b"\r\n")[0], "400 for garbage: %r" % raw[:80])
    raw = srv.raw(b"GET / HTTP/1.1\r\nHost: a.test\r\nX: " + b"x" * 20000 + b"\r\n\r\n")
    check(b" 431 " in raw.split(b"\r\n")[0], "431 for a huge head: %r" % raw[:80])
    srv.waspctl("stop", "apppool", "B")
    wait_until(lambda: srv.pool_state("B") == "Stopped", what="B stopped")
    check(srv.get(pool="B").status == 503, "503 from stopped B")
    wait_until(lambda: value(metrics(srv), "wasp_listener_rejected_total", reason="400") == 1
               and value(metrics(srv), "wasp_listener_rejected_total",
                         reason="503_stopped") == 1,
               what="a 400 and a 503 (stopped) counted")
    wait_until(lambda: value(metrics(srv), "wasp_listener_rejected_total", reason="431") == 1,
               what="the 431 counted")
    m = metrics(srv)
    check(value(m, "wasp_pool_unavailable_total", pool="B") == 1, "B's 503 counted")
    check(value(m, "wasp_listener_rejected_total", reason="503_queue_full") == 0, "no queue full")
    # per site: A's requests went to site A (B's site served none)
    check(value(m, "wasp_site_requests_total", site="A") == value(
        m, "wasp_pool_requests_total", pool="A"), "site A's requests %r" % value(
        m, "wasp_site_requests_total", site="A"))
    check(value(m, "wasp_site_requests_total", site="B") == 0, "site B's requests")

    text = srv.waspctl("metrics", json_output=False)
    wasptest.log("promtool check metrics: %s" % {True: "passed", None: "not installed"}[
        promtool_check(text)])
    j = srv.waspctl("metrics")
    check(j["ok"] and "# TYPE wasp_pool_requests_total counter" in j["text"], "--json %r" % j)


wasptest.main(test)
