"""waspctl list request (alias requests): the requests executing now in
every worker, with pid, pool, site, verb, URL, client, elapsed time and
pipeline stage (a test module's sleep in BeginRequest, a CGI program in
ExecuteRequestHandler), as appcmd's REQUEST lines or --json; /elapsed:MS keeps those
running at least that long; a URL is cut at 256 bytes; a worker that does
not answer within the deadline is listed as unanswered, not waited for."""
import socket
import threading
import time

import cgitest
import wasptest
from wasptest import check, wait_until

SLOW = "/__wasp_test/sleep?ms=4000"
SLOW_CGI = """#!/bin/sh
sleep 3
printf 'Content-Type: text/plain\\r\\n\\r\\nslept\\n'
"""


def get_bg(srv, path, pool):
    def run():
        try:
            srv.get(path, pool=pool, timeout=30)
        except Exception:
            pass
    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th


def requests(srv, *args):
    return srv.waspctl("list", "request", *args)


def test(t):
    # B's worker will hang: no pings to kill it meanwhile, killed 1 s into the shutdown
    hung = {"processModel": {"pingingEnabled": False, "shutdownTimeLimit": "00:00:01"}}
    srv = t.server(pools={"A": {}, "B": hung}, web_server_xml=cgitest.web_server_xml(
        cgitest.python3(), not_listed=True))
    cgitest.write_script(t, srv, "A", "slow.cgi", SLOW_CGI)
    srv.start()
    check(requests(srv)["requests"] == [], "nothing executes yet")
    check(srv.get(pool="B").status == 200, "B's worker")

    th = get_bg(srv, SLOW, "A")
    wait_until(lambda: len(requests(srv)["requests"]) == 1, what="the slow request listed")
    pid = srv.worker_pids("A")[0]
    wait_until(lambda: requests(srv)["requests"][0]["elapsedMs"] >= 200,
               what="the request's elapsed time growing")
    r = requests(srv)
    req = r["requests"][0]
    check(req["pid"] == pid and req["pool"] == "A" and req["site"] == "A"
          and req["verb"] == "GET" and req["url"] == SLOW and req["client"] == "127.0.0.1"
          and req["stage"] == "BeginRequest" and req["elapsedMs"] >= 200
          and not req["truncated"] and r["unanswered"] == [], "request %r" % r)

    text = srv.waspctl("list", "requests", json_output=False)
    check(text.startswith('REQUEST "%d-1" (url:%s,time:' % (pid, SLOW))
          and ",client:127.0.0.1,stage:BeginRequest)" in text, "appcmd line %r" % text)
    check(requests(srv, "/elapsed:60000")["requests"] == [], "/elapsed:60000 keeps none")
    check(len(requests(srv, "/elapsed:100")["requests"]) == 1, "/elapsed:100 keeps it")
    check(requests(srv, "/apppool.name:B")["requests"] == [], "/apppool.name:B")

    # a CGI program running: its handler's stage
    get_bg(srv, "/slow.cgi", "A")
    wait_until(lambda: [q for q in requests(srv)["requests"] if q["url"] == "/slow.cgi"],
               what="the CGI request listed")
    cgi = [q for q in requests(srv)["requests"] if q["url"] == "/slow.cgi"][0]
    check(cgi["stage"] == "ExecuteRequestHandler", "CGI request %r" % cgi)
    rc, out, err = srv.waspctl("list", "request", "/elapsed:soon", check_status=False)
    check(rc == 2 and "milliseconds" in err, "bad /elapsed: %d %r" % (rc, err))

    # a long URL is cut
    long_path = SLOW + "&x=" + "y" * 400
    get_bg(srv, long_path, "A")
    wait_until(lambda: [q for q in requests(srv)["requests"] if q["truncated"]],
               what="the long URL listed")
    cut = [q for q in requests(srv)["requests"] if q["truncated"]]
    check(len(cut) == 1 and cut[0]["url"] == long_path[:256], "truncated %r" % cut)

    # a worker that does not answer is skipped and named
    s = socket.create_connection(("127.0.0.1", srv.port))
    try:
        s.sendall(b"GET /__wasp_test/hang HTTP/1.1\r\nHost: b.test\r\n\r\n")
        b_pid = srv.worker_pids("B")[0]
        wait_until(lambda: requests(srv)["unanswered"] != [], timeout=15,
                   what="B's hung worker unanswered")
        t0 = time.monotonic()
        r = requests(srv)
        check(time.monotonic() - t0 < 5, "the query waited for the hung worker")
        check(r["unanswered"] == [{"pid": b_pid, "pool": "B"}], "unanswered %r" % r)
        check(all(q["pool"] == "A" for q in r["requests"]), "A's requests still listed %r" % r)
        rc, out, err = srv.waspctl("list", "request", json_output=False, check_status=False)
        check(rc == 0 and "worker %d (pool B) did not answer in time" % b_pid in err
              and 'REQUEST "' in out, "text with an unanswered worker: %r %r" % (out, err))
    finally:
        s.close()
    th.join(30)


wasptest.main(test)
