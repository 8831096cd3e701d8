"""A CGI program in `waspctl list wp`: while a CGI script runs it is listed
under its worker (kind cgi, busy, the program that runs it), and it is gone
from the list once it exited."""
import os
import threading

import cgitest
import wasptest
from wasptest import check, wait_until

WAIT = """import os, sys, time
mark = os.environ["QUERY_STRING"]
end = time.monotonic() + 30
while not os.path.exists(mark) and time.monotonic() < end:
    time.sleep(0.02)
sys.stdout.write("Content-Type: text/plain\\r\\n\\r\\npid %d" % os.getpid())
"""


def cgi_procs(srv):
    ws = srv.workers("A")
    return [a for w in ws for a in w["applications"] if a["kind"] == "cgi"]


def test(t):
    py = cgitest.python3()
    srv = t.server(pools={"A": {}}, web_server_xml=cgitest.web_server_xml(py))
    cgitest.write_script(t, srv, "A", "wait.py", WAIT)
    srv.start()
    mark = os.path.join(t.dir, "go")
    out = {}

    def run():
        out["r"] = srv.get("/wait.py?" + mark, pool="A", timeout=40)
    th = threading.Thread(target=run, daemon=True)
    th.start()
    procs = wait_until(lambda: cgi_procs(srv), what="the CGI program listed")
    check(len(procs) == 1, "%r" % procs)
    a = procs[0]
    check(a["state"] == "busy" and a["requests"] == 1 and a["application"] == py,
          "listed as %r" % a)
    check(wasptest.pid_alive(a["pid"]), "pid %d" % a["pid"])
    wasptest.write_content(mark, "")
    th.join(40)
    r = out.get("r")
    check(r is not None and r.status == 200 and r.body == b"pid %d" % a["pid"],
          "response %r %r" % (r, getattr(r, "body", None)))
    wait_until(lambda: not cgi_procs(srv), what="the exited CGI program gone from the list")


if __name__ == "__main__":
    wasptest.main(test)
