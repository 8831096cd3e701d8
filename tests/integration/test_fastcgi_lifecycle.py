"""The life of FastCGI processes: environmentVariables reach the process;
after instanceMaxRequests it gets SIGTERM and, still there
signalBeforeTerminateSeconds later, SIGKILL; a change to the
monitorChangesTo file replaces php-cgi; idleTimeout ends an idle one; and
activityTimeout cuts a response whose process went silent after its head."""
import os
import threading
import time

import fcgitest
import wasptest
from wasptest import check

PID = "<?php echo getmypid();\n"
SILENT = "<?php echo 'head'; flush(); sleep(60);\n"


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


def test(t):
    php = fcgitest.php_cgi()
    py, fake = fcgitest.fake_app(t)
    marks = os.path.join(t.dir, "marks")
    os.makedirs(marks)
    os.chmod(marks, 0o777)
    watched = os.path.join(t.dir, "php.ini.watched")
    with open(watched, "w") as f:
        f.write("1")
    os.chmod(watched, 0o644)
    xml = fcgitest.web_server_xml(php, arguments="-d output_buffering=0",
                                  app_attrs={"monitorChangesTo": watched, "idleTimeout": 10,
                                             "activityTimeout": 10, "maxInstances": 2})
    xml = xml.replace("</fastCgi>", """
      <application fullPath="%s" arguments="%s" instanceMaxRequests="1"
                   signalBeforeTerminateSeconds="2">
        <environmentVariables>
          <environmentVariable name="FAKE_FCGI_MARKS" value="%s" />
        </environmentVariables>
      </application>
    </fastCgi>""" % (py, fake, marks))
    xml = xml.replace('<add name="StaticFile"', """<add name="Fake" path="*.fcgi" verb="GET"
           modules="FastCgiModule" scriptProcessor="%s|%s" resourceType="Unspecified" />
      <add name="StaticFile\"""" % (py, fake))
    srv = wasptest.Server(t, pools={"A": {}}, web_server_xml=xml)
    fcgitest.write_php(srv, "A", "pid.php", PID)
    fcgitest.write_php(srv, "A", "silent.php", SILENT)
    srv.start()
    host = srv.host("A")

    # environmentVariables, then SIGTERM and SIGKILL 2 s later
    r = srv.get("/env.fcgi", pool="A")
    check(r.status == 200 and r.body == marks.encode(), "env %r %r" % (r, r.body))
    pid = int(srv.get("/pid.fcgi", pool="A").body)
    term = os.path.join(marks, "term.%d" % pid)
    wasptest.wait_until(lambda: os.path.exists(term), what="SIGTERM to %d" % pid)
    t0 = time.monotonic()
    check(alive(pid), "%d went before its SIGKILL" % pid)
    wasptest.wait_until(lambda: not alive(pid), what="SIGKILL to %d" % pid)
    took = time.monotonic() - t0
    check(1.0 <= took <= 5.0, "SIGKILL %.1f s after SIGTERM" % took)

    # activityTimeout: head out, then silence
    cut = {}

    def silent():
        cut["data"] = fcgitest.raw_get(srv.port, "/silent.php", host, timeout=40, close=False)
        cut["t"] = time.monotonic()

    started = time.monotonic()
    th = threading.Thread(target=silent)
    th.start()

    # monitorChangesTo
    first = int(srv.get("/pid.php", pool="A").body)
    check(int(srv.get("/pid.php", pool="A").body) == first, "a process per request?")
    wasptest.replace_file(watched, "2")
    wasptest.wait_until(lambda: not alive(first), what="php-cgi %d ended" % first)
    second = int(srv.get("/pid.php", pool="A").body)
    check(second != first, "the same php-cgi after the change")

    # idleTimeout: the idle one ends after 10 s
    wasptest.wait_until(lambda: not alive(second), timeout=25,
                        what="php-cgi %d ended when idle" % second)

    th.join(40)
    data = cut.get("data", b"")
    check(data.startswith(b"HTTP/1.1 200") and b"head" in data and
          not data.endswith(b"0\r\n\r\n"), "activityTimeout: %r" % data[-80:])
    check(9 <= cut["t"] - started < 25, "cut after %.1f s" % (cut["t"] - started))
    srv.wait_log("no activity within activityTimeout")


wasptest.main(test)
