"""aspNetCore out of process: the backend gets ASPNETCORE_PORT,
ASPNETCORE_APPL_PATH and ASPNETCORE_TOKEN, and every request carries the
token in MS-ASPNETCORE-TOKEN (a client's own is never passed on);
app_offline.htm in the application's root answers 503 with its content
and stops the backend (SIGTERM, and SIGKILL after shutdownTimeLimit for
one that ignores it), and removing it brings the application back;
hostingModel="inprocess" is refused with 500.30. `waspctl list wp` lists
the backend as an aspNetCore process."""
import json
import os
import time

import hptest
import wasptest
from wasptest import check

WEB_CONFIG = """<?xml version="1.0" encoding="utf-8"?>
<configuration><system.webServer>
  <aspNetCore processPath="%s" arguments="%s" hostingModel="%s" stdoutLogEnabled="false"
              shutdownTimeLimit="1">
    <environmentVariables>
      <environmentVariable name="HP_TEST_VAR" value="from web.config" />
      <environmentVariable name="HP_TEST_IGNORE_TERM" value="%s" />
    </environmentVariables>
  </aspNetCore>
</system.webServer></configuration>
"""
OFFLINE = "<html><body>Down for maintenance</body></html>\n"


def test(t):
    py, app = hptest.python_backend(t)
    srv = wasptest.Server(t, pools={"A": {}, "B": {}, "C": {}},
                          web_server_xml=hptest.handlers_xml("AspNetCoreModuleV2"))
    root = srv.content_dir("A")
    wasptest.write_content(os.path.join(root, "web.config"),
                           WEB_CONFIG % (py, app, "OutOfProcess", ""))
    wasptest.write_content(os.path.join(srv.content_dir("B"), "web.config"),
                           WEB_CONFIG % (py, app, "inprocess", ""))
    wasptest.write_content(os.path.join(srv.content_dir("C"), "web.config"),
                           WEB_CONFIG % (py, app, "outofprocess", "1"))
    srv.start()

    r = srv.get("/env", pool="A", headers={"MS-ASPNETCORE-TOKEN": "forged"})
    check(r.status == 200, "%r %r" % (r, r.body[:500]))
    e = json.loads(r.body)
    env = e["env"]
    check(env["ASPNETCORE_PORT"] and int(env["ASPNETCORE_PORT"]) > 0, "port %r" % env)
    check(env["ASPNETCORE_APPL_PATH"] == "/", "ASPNETCORE_APPL_PATH %r" % env)
    check(env["HP_TEST_VAR"] == "from web.config", "environmentVariables %r" % env)
    token = env["ASPNETCORE_TOKEN"]
    check(token and len(token) == 32, "ASPNETCORE_TOKEN %r" % env)
    tokens = [v for k, v in e["headers"] if k.lower() == "ms-aspnetcore-token"]
    check(tokens == [token], "MS-ASPNETCORE-TOKEN %r (the variable: %r)" % (tokens, token))
    pid = e["pid"]
    # listed under the worker as an aspNetCore process of processPath
    listed = wasptest.wait_until(
        lambda: [a for w in srv.workers("A") for a in w["applications"] if a["pid"] == pid],
        what="the backend in list wp")
    check(listed[0]["kind"] == "aspNetCore" and listed[0]["application"] == py,
          "listed as %r" % listed)

    # app_offline.htm: 503 with its content, the backend stopped
    offline = os.path.join(root, "app_offline.htm")
    wasptest.write_content(offline, OFFLINE)
    r = srv.get("/env", pool="A")
    check(r.status == 503 and r.body == OFFLINE.encode(), "app_offline %r %r" % (r, r.body))
    wasptest.wait_until(lambda: not os.path.exists("/proc/%d" % pid) or
                        wasptest.proc_state(pid) == "Z", what="the backend to stop")
    r = srv.get("/anything", pool="A")
    check(r.status == 503 and r.body == OFFLINE.encode(), "app_offline again %r" % r)
    os.unlink(offline)
    r = srv.get("/env", pool="A")
    check(r.status == 200, "back %r %r" % (r, r.body[:300]))
    check(json.loads(r.body)["pid"] != pid, "the same process after app_offline.htm")

    # inprocess: there is no CLR in a worker
    r = srv.get("/env", pool="B")
    check(r.status == 500 and b"500.30" in r.body, "inprocess %r %r" % (r, r.body[:300]))

    # a backend that ignores SIGTERM is killed after shutdownTimeLimit="1"
    r = srv.get("/env", pool="C")
    check(r.status == 200, "C %r %r" % (r, r.body[:300]))
    pid = json.loads(r.body)["pid"]
    wasptest.write_content(os.path.join(srv.content_dir("C"), "app_offline.htm"), OFFLINE)
    t0 = time.monotonic()
    check(srv.get("/env", pool="C").status == 503, "app_offline in C")
    wasptest.wait_until(lambda: wasptest.proc_state(pid) in (None, "Z"),
                        what="the backend killed after shutdownTimeLimit")
    took = time.monotonic() - t0
    check(0.8 < took < 4, "SIGKILL after %.1f s, not about 1" % took)


wasptest.main(test)
