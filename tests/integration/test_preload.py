"""startMode="AlwaysRunning" with preloadEnabled="true": the worker starts
its applications' processes before any request. A PHP pool's php-cgi (the
FastCGI application its *.php handler maps to) and an httpPlatform pool's
backend (started by a warm-up GET of the application's root) are running
and listed under the worker before the first client request, and that
request is served by them. Without preloadEnabled an AlwaysRunning worker
starts no application process until a request needs one. A recycled
worker preloads too."""
import json
import os

import fcgitest
import hptest
import wasptest
from wasptest import check, stays, wait_until

HELLO = "<?php echo 'hello ' . getmypid();\n"
WEB_CONFIG = """<?xml version="1.0" encoding="utf-8"?>
<configuration><system.webServer>
  <httpPlatform processPath="%s" arguments="%s" />
</system.webServer></configuration>
"""


def listed(srv, pool, kind, state="idle"):
    """The pids of pool's one ready worker's processes of kind in state."""
    ws = srv.workers(pool)
    if len(ws) != 1 or ws[0]["state"] != "Ready":
        return None
    return [a["pid"] for a in ws[0]["applications"]
            if a["kind"] == kind and a["state"] == state] or None


def test(t):
    php = fcgitest.php_cgi()
    py, app = hptest.python_backend(t)
    xml = hptest.php_and_backend_xml(php)
    always = {"startMode": "AlwaysRunning"}
    srv = t.server(pools={"P": always, "B": always, "N": always}, web_server_xml=xml)
    for p in ("P", "N"):
        fcgitest.write_php(srv, p, "hello.php", HELLO)
    wasptest.write_content(os.path.join(srv.content_dir("B"), "web.config"),
                           WEB_CONFIG % (py, app))
    # preloadEnabled on the applications of P and B
    for p in ("P", "B"):
        tag = '<application path="/" applicationPool="%s"' % p
        check(tag in srv.config_text, "no %r" % tag)
        srv.config_text = srv.config_text.replace(tag, tag + ' preloadEnabled="true"')
    srv.start()

    php_pids = wait_until(lambda: listed(srv, "P", "fastcgi"),
                          what="P's preloaded php-cgi, waiting for a connection")
    be_pids = wait_until(lambda: listed(srv, "B", "httpPlatform"),
                         what="B's preloaded backend, ready")
    for pid in php_pids + be_pids:
        check(wasptest.pid_alive(pid), "preloaded process %d not running" % pid)
    # the warm-up request was the backend's first
    be = [a for a in srv.workers("B")[0]["applications"] if a["pid"] == be_pids[0]][0]
    check(be["requests"] == 1, "backend %r" % be)
    # without preloadEnabled: nothing until a request
    wait_until(lambda: srv.worker_pids("N", state="Ready"), what="N's worker")
    check(stays(lambda: not srv.workers("N")[0]["applications"], 1.5),
          "N started processes without preloadEnabled: %r" % srv.workers("N"))

    # the first requests are served by the preloaded processes
    r = srv.get("/hello.php", pool="P")
    check(r.status == 200 and int(r.body.split()[1]) in php_pids, "P %r %r" % (r, r.body))
    r = srv.get("/env", pool="B")
    check(r.status == 200 and json.loads(r.body)["pid"] in be_pids, "B %r %r" % (r, r.body))

    # a recycled worker preloads as it starts
    old = srv.worker_pids("P")
    srv.waspctl("recycle", "apppool", "P")
    wait_until(lambda: srv.worker_pids("P", state="Ready") and
               not set(srv.worker_pids("P")) & set(old), what="P recycled")
    new_php = wait_until(lambda: listed(srv, "P", "fastcgi"), what="the new worker's php-cgi")
    check(not set(new_php) & set(php_pids), "the same php-cgi %r" % new_php)


if __name__ == "__main__":
    wasptest.main(test)
