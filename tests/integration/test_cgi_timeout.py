"""system.webServer/cgi timeout ends a CGI process that runs too long, what
it started with it (SIGTERM to its process group, SIGKILL two seconds
later for one that ignores SIGTERM): before the response head the client
gets 502.1 (IIS's "CGI application timeout"), after it the connection is
cut, never a complete-looking response."""
import os
import re
import threading
import time

import cgitest
import fcgitest
import wasptest
from wasptest import check

HANG_SH = """#!/bin/sh
trap '' TERM
echo "hang pid $$" >&2
if [ -n "$QUERY_STRING" ]; then printf 'Content-Type: text/plain\\r\\n\\r\\nstarted\\n'; fi
sleep 60 &
echo "hang child $!" >&2
wait
wait
"""


def test(t):
    py = cgitest.python3()
    d = os.path.join(t.dir, "content", "A")
    xml = cgitest.web_server_xml(py, allowed=[os.path.join(d, "hang.cgi")], timeout="00:00:02")
    srv = wasptest.Server(t, pools={"A": {}}, web_server_xml=xml)
    cgitest.write_script(t, srv, "A", "hang.cgi", HANG_SH)
    srv.start()
    host = srv.host("A")
    cut = {}

    def streamed():
        cut["data"] = fcgitest.raw_get(srv.port, "/hang.cgi?head", host)

    th = threading.Thread(target=streamed)
    th.start()
    start = time.monotonic()
    r = wasptest.http_request(srv.port, "/hang.cgi", host=host, timeout=30)
    took = time.monotonic() - start
    check(r.status == 502 and b"502.1" in r.body, "%r %r" % (r, r.body[:400]))
    check(1.5 <= took < 10, "answered after %.1f s" % took)
    th.join(30)
    data = cut.get("data", b"")
    check(data.startswith(b"HTTP/1.1 200") and b"started" in data
          and not data.endswith(b"0\r\n\r\n"), "after the head: %r" % data[-80:])
    log = srv.read_log()
    pids = [int(p) for p in re.findall(r"hang (?:pid|child) (\d+)", log)]
    check(len(pids) == 4, "pids in the log: %r" % pids)
    check(len(re.findall(r"CGI process \d+ ran past system.webServer/cgi timeout", log)) == 2,
          "timeout log")
    for pid in pids:
        wasptest.wait_until(lambda: not wasptest.pid_alive(pid), timeout=10,
                            what="process %d killed" % pid)
    r = srv.get("/index.html", pool="A")
    check(r.status == 200, "%r" % r)


wasptest.main(test)
