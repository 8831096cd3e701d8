"""A worker runs SCHED_BATCH, so the listener waking it (a relayed TLS
request, a HANDOFF) is not preempted: on a busy CPU the worker serves what
is ready in one wakeup (docs/worker.md). What it starts runs SCHED_OTHER
again (worker_child_spawn): a CGI script here."""
import os

import cgitest
import wasptest
from wasptest import check

POLICY_PY = r"""import os, sys
sys.stdout.write("Content-Type: text/plain\r\n\r\n%d" % os.sched_getscheduler(0))
"""


def test(t):
    py = cgitest.python3()
    srv = wasptest.Server(t, pools={"A": {}}, web_server_xml=cgitest.web_server_xml(py))
    cgitest.write_script(t, srv, "A", "policy.py", POLICY_PY)
    srv.start()
    host = srv.host("A")
    r = wasptest.http_request(srv.port, "/policy.py", host=host)
    check(r.status == 200, "%r %r" % (r, r.body[:300]))
    check(r.body == b"%d" % os.SCHED_OTHER, "the CGI script's policy: %r" % r.body)
    pid = r.pid
    check(pid and os.sched_getscheduler(pid) == os.SCHED_BATCH,
          "worker %r: policy %r" % (pid, pid and os.sched_getscheduler(pid)))


wasptest.main(test)
