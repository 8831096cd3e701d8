"""A worker's application processes in `waspctl list wp`: a PHP pool's
php-cgi and a backend pool's httpPlatform process are listed under their
worker with their pid, kind, application and state, the requests given to
them move with traffic, and a killed instance disappears. The appcmd-style
text shows them a line each under their WP line."""
import json
import os
import signal

import fcgitest
import hptest
import wasptest
from wasptest import check

HELLO = "<?php echo 'hello ' . getmypid();\n"
WEB_CONFIG = """<?xml version="1.0" encoding="utf-8"?>
<configuration><system.webServer>
  <httpPlatform processPath="%s" arguments="%s" />
</system.webServer></configuration>
"""


def apps_of(srv, pool):
    """{pid: application process} of the pool's one worker."""
    ws = srv.workers(pool)
    check(len(ws) == 1, "one worker of %s: %r" % (pool, ws))
    check("applications" in ws[0], "no applications in %r" % ws[0])
    return {a["pid"]: a for a in ws[0]["applications"]}


def wait_apps(srv, pool, cond, what):
    seen = {}

    def ok():
        seen["apps"] = apps_of(srv, pool)
        return cond(seen["apps"])
    wasptest.wait_until(ok, timeout=10, what="%s (last %r)" % (what, seen))
    return seen["apps"]


def test(t):
    php = fcgitest.php_cgi()
    py, app = hptest.python_backend(t)
    # *.php to php-cgi, everything else to the httpPlatform backend that
    # pool B's web.config sets up
    xml = hptest.php_and_backend_xml(php, app_attrs={"maxInstances": 1})
    srv = wasptest.Server(t, pools={"P": {}, "B": {}}, web_server_xml=xml)
    fcgitest.write_php(srv, "P", "hello.php", HELLO)
    wasptest.write_content(os.path.join(srv.content_dir("B"), "web.config"),
                           WEB_CONFIG % (py, app))
    srv.start()

    r = srv.get("/hello.php", pool="P")
    check(r.status == 200 and r.body.startswith(b"hello "), "%r %r" % (r, r.body))
    php_pid = int(r.body.split()[1])
    apps = wait_apps(srv, "P", lambda a: php_pid in a and a[php_pid]["requests"] == 1,
                     "php-cgi %d listed" % php_pid)
    a = apps[php_pid]
    check(a["kind"] == "fastcgi" and a["application"] == php and a["state"] == "idle",
          "php-cgi listed as %r" % a)
    check(len(apps) == 1, "only php-cgi: %r" % apps)

    for _ in range(4):
        r = srv.get("/hello.php", pool="P")
        check(r.status == 200 and int(r.body.split()[1]) == php_pid, "%r" % r.body)
    wait_apps(srv, "P", lambda a: a.get(php_pid, {}).get("requests") == 5,
              "php-cgi's requests at 5")

    # the text form: a line under the worker
    text = srv.waspctl("list", "wp", json_output=False)
    check('APPPROCESS "%d" (kind:fastcgi,state:idle,requests:5,application:%s)'
          % (php_pid, php) in text, "text: %r" % text)

    r = srv.get("/env", pool="B")
    check(r.status == 200, "backend %r %r" % (r, r.body))
    be_pid = int(json.loads(r.body)["pid"])
    apps = wait_apps(srv, "B", lambda a: be_pid in a and a[be_pid]["state"] == "idle",
                     "backend %d listed" % be_pid)
    a = apps[be_pid]
    check(a["kind"] == "httpPlatform" and a["application"] == py and a["requests"] == 1,
          "backend listed as %r" % a)
    for _ in range(2):
        check(srv.get("/env", pool="B").status == 200, "backend again")
    wait_apps(srv, "B", lambda a: a.get(be_pid, {}).get("requests") == 3,
              "backend's requests at 3")
    check(php_pid not in apps_of(srv, "B"), "php-cgi under the other pool's worker")

    # a killed instance disappears; the next request starts another
    os.kill(php_pid, signal.SIGKILL)
    wait_apps(srv, "P", lambda a: php_pid not in a, "killed php-cgi gone")
    os.kill(be_pid, signal.SIGKILL)
    wait_apps(srv, "B", lambda a: be_pid not in a, "killed backend gone")
    r = srv.get("/hello.php", pool="P")
    check(r.status == 200, "after the kill %r" % r)
    new_pid = int(r.body.split()[1])
    wait_apps(srv, "P", lambda a: list(a) == [new_pid], "the new php-cgi listed alone")


if __name__ == "__main__":
    wasptest.main(test)
