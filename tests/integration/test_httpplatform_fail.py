"""httpPlatform failures, configured in each site's web.config: a backend
that crashes answers 502.3 for the request it took and is started again
for the next one, until rapidFailsPerMinute (then 502.5); a response cut
mid-body cuts the client's connection; a backend silent past
requestTimeout answers 502.3; a backend that never opens its port answers
502.5 after startupTimeLimit and startupRetryCount attempts, each killed."""
import json
import os
import time

import fcgitest
import hptest
import wasptest
from wasptest import check

WEB_CONFIG = """<?xml version="1.0" encoding="utf-8"?>
<configuration><system.webServer>
  <httpPlatform processPath="%s" arguments="%s"%s />
</system.webServer></configuration>
"""


def children_args(pid):
    """The command lines of pid's children."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) != pid:
                    continue
            with open("/proc/%s/cmdline" % d, "rb") as f:
                out.append(f.read().replace(b"\0", b" ").decode())
        except (OSError, ValueError):
            pass
    return out


def test(t):
    py, app = hptest.python_backend(t)
    srv = wasptest.Server(t, pools={"A": {}, "B": {}},
                          web_server_xml=hptest.handlers_xml("httpPlatformHandler"))
    wasptest.write_content(os.path.join(srv.content_dir("A"), "web.config"), WEB_CONFIG % (
        py, app, ' rapidFailsPerMinute="2" requestTimeout="00:00:02"'))
    wasptest.write_content(os.path.join(srv.content_dir("B"), "web.config"), WEB_CONFIG % (
        py, app + " --never-listen", ' startupTimeLimit="1" startupRetryCount="2"'))
    srv.start()

    def pid():
        r = srv.get("/env", pool="A")
        return r.status == 200 and json.loads(r.body)["pid"]

    r = srv.get("/env", pool="A")
    check(r.status == 200, "no backend: %r %r" % (r, r.body[:600]))
    first = json.loads(r.body)["pid"]

    # requestTimeout: 502.3 after 2 s of silence
    t0 = time.monotonic()
    r = srv.get("/sleep?s=6", pool="A", timeout=30)
    took = time.monotonic() - t0
    check(r.status == 502 and b"502.3" in r.body, "requestTimeout %r %r" % (r, r.body[:300]))
    check(1.5 < took < 5, "requestTimeout took %.1f s" % took)

    # a response cut short: the client's connection is cut, not completed
    data = fcgitest.raw_get(srv.port, "/cut", srv.host("A"))
    head, _, body = data.partition(b"\r\n\r\n")
    check(head.startswith(b"HTTP/1.1 200") and b"Content-Length: 1000" in head,
          "cut head %r" % head)
    check(len(body) < 1000 and b"0123456789".startswith(body),
          "a cut response looked complete: %r" % data[-200:])

    # a crash: 502.3 for its request, a new process for the next
    r = srv.get("/crash", pool="A")
    check(r.status == 502 and b"502.3" in r.body, "crash %r %r" % (r, r.body[:300]))
    second = wasptest.wait_until(pid, what="a restarted backend")
    check(second != first, "the same process after a crash")
    # the second crash in the minute reaches rapidFailsPerMinute="2"
    r = srv.get("/crash", pool="A")
    check(r.status == 502, "crash 2 %r" % r)
    wasptest.wait_until(lambda: srv.get("/env", pool="A").status == 502 and
                        b"502.5" in srv.get("/env", pool="A").body, what="502.5")

    # never listens: 502.5 after 2 attempts of 1 s, both processes killed
    t0 = time.monotonic()
    r = srv.get("/", pool="B", timeout=30)
    took = time.monotonic() - t0
    check(r.status == 502 and b"502.5" in r.body, "never listens %r %r" % (r, r.body[:300]))
    check(1.8 < took < 6, "two attempts of 1 s took %.1f s" % took)
    worker = srv.worker_pids("B")[0]
    wasptest.wait_until(lambda: not [a for a in children_args(worker) if "never-listen" in a],
                        what="the never-listening processes to be killed")
    check(srv.read_log().count("did not listen on its port within startupTimeLimit") >= 2,
          "the log does not say why")


wasptest.main(test)
