"""preloadEnabled's warm-up, as IIS's: the worker sends itself a GET of the
application's root through the pipeline, so a PHP site whose default
document is index.php has run it before any client request (its php-cgi
is warm). And a preloaded php-cgi stays usable however late the first
request comes: php-cgi closes a connection that brings no request within
5 s of accepting it, and the worker cannot connect to it again, so the
worker sends it a warm-up request of its own (no script runs) at once; a
pool whose root page is not PHP depends on that alone."""
import os
import tempfile

import fcgitest
import wasptest
from wasptest import check, stays, wait_until

# index.php leaves its process's pid in a file: proof that the warm-up ran it
INDEX = "<?php file_put_contents('%s/ran-' . getmypid(), 'x'); echo 'index';\n"
HELLO = "<?php echo 'hello ' . getmypid();\n"
DEFAULT_DOC = """<?xml version="1.0" encoding="utf-8"?>
<configuration><system.webServer>
  <defaultDocument><files><clear /><add value="index.php" /></files></defaultDocument>
</system.webServer></configuration>
"""
PHP_ACCEPT_WINDOW = 5.0  # php-cgi's poll() after accept (main/fastcgi.c)


def idle_php(srv, pool):
    """The pid of pool's one ready worker's one idle php-cgi."""
    ws = srv.workers(pool)
    if len(ws) != 1 or ws[0]["state"] != "Ready":
        return None
    pids = [a["pid"] for a in ws[0]["applications"]
            if a["kind"] == "fastcgi" and a["state"] == "idle"]
    return pids[0] if len(pids) == 1 else None


def test(t):
    php = fcgitest.php_cgi()
    marks = tempfile.mkdtemp(prefix="marks-", dir=t.dir)
    os.chmod(marks, 0o1777)  # the pools' identities write there
    always = {"startMode": "AlwaysRunning"}
    srv = t.server(pools={"D": always, "S": always}, web_server_xml=fcgitest.web_server_xml(php))
    # D: index.php is its default document; S: index.html (content_dir's)
    fcgitest.write_php(srv, "D", "index.php", INDEX % marks)
    wasptest.write_content(os.path.join(srv.content_dir("D"), "web.config"), DEFAULT_DOC)
    for p in ("D", "S"):
        fcgitest.write_php(srv, p, "hello.php", HELLO)
        tag = '<application path="/" applicationPool="%s"' % p
        check(tag in srv.config_text, "no %r" % tag)
        srv.config_text = srv.config_text.replace(tag, tag + ' preloadEnabled="true"')
    srv.start()

    d_pid = wait_until(lambda: idle_php(srv, "D"), what="D's preloaded php-cgi, idle")
    s_pid = wait_until(lambda: idle_php(srv, "S"), what="S's preloaded php-cgi, idle")
    # the warm-up GET / ran D's default document on its preloaded php-cgi
    wait_until(lambda: os.path.exists(os.path.join(marks, "ran-%d" % d_pid)),
               what="index.php run by the warm-up request (by php-cgi %d)" % d_pid)
    check(os.listdir(marks) == ["ran-%d" % d_pid], "marks %r" % os.listdir(marks))

    # past php-cgi's accept window: both stay, and serve the first requests
    check(stays(lambda: idle_php(srv, "D") == d_pid and idle_php(srv, "S") == s_pid,
                PHP_ACCEPT_WINDOW + 1.0),
          "a preloaded php-cgi went: %r %r" % (srv.workers("D"), srv.workers("S")))
    for pool, pid in (("D", d_pid), ("S", s_pid)):
        r = srv.get("/hello.php", pool=pool)
        check(r.status == 200 and r.body.split() == [b"hello", str(pid).encode()],
              "%s's first request: %r %r (preloaded php-cgi %d)" % (pool, r, r.body, pid))
    check(wasptest.pid_alive(d_pid) and wasptest.pid_alive(s_pid), "php-cgi gone")


if __name__ == "__main__":
    wasptest.main(test)
