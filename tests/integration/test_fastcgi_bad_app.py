"""Bad output from a FastCGI application never takes the worker down: bytes
that are no record, a record type a Responder never sends, a head over the
limit, a process that exits mid-response, a process that exits at start,
and output on stderr (ReturnStdErrIn500, IgnoreAndReturn200,
TerminateProcess). Before the response head the client gets IIS's 500
page; after it the connection is cut (the chunked body never ends); the
log line names the process id. rapidFailsPerMinute exits at start hold the
application (500 saying so). php-cgi killed in the middle of a script is a
500 too, and the next request gets a new process. (And a good one: a CGI
local redirect serves the URL it names.)"""
import fcgitest
import wasptest
from wasptest import check

CRASH = "<?php posix_kill(getmypid(), 11);\n"
PID = "<?php echo getmypid();\n"


def test(t):
    php = fcgitest.php_cgi()
    py, fake = fcgitest.fake_app(t)
    xml = fcgitest.web_server_xml(php, app_attrs={"maxInstances": 2})
    xml = xml.replace("</fastCgi>", """
      <application fullPath="%s" arguments="%s" maxInstances="1" />
      <application fullPath="/bin/false" rapidFailsPerMinute="2" />
      <application fullPath="%s" arguments="%s ignore" stderrMode="IgnoreAndReturn200" />
      <application fullPath="%s" arguments="%s term" stderrMode="TerminateProcess" />
    </fastCgi>""" % (py, fake, py, fake, py, fake))
    xml = xml.replace('<add name="StaticFile"', """<add name="Fake" path="*.fcgi" verb="GET"
           modules="FastCgiModule" scriptProcessor="%s|%s" resourceType="Unspecified" />
      <add name="Ignore" path="*.ign" verb="GET" modules="FastCgiModule"
           scriptProcessor="%s|%s ignore" resourceType="Unspecified" />
      <add name="Term" path="*.term" verb="GET" modules="FastCgiModule"
           scriptProcessor="%s|%s term" resourceType="Unspecified" />
      <add name="False" path="*.false" verb="GET"
           modules="FastCgiModule" scriptProcessor="/bin/false" resourceType="Unspecified" />
      <add name="StaticFile\"""" % (py, fake, py, fake, py, fake))
    srv = wasptest.Server(t, pools={"A": {}}, web_server_xml=xml)
    fcgitest.write_php(srv, "A", "crash.php", CRASH)
    fcgitest.write_php(srv, "A", "pid.php", PID)
    srv.start()
    host = srv.host("A")
    worker = srv.worker_pids("A") or [None]

    r = srv.get("/ok.fcgi", pool="A")
    check(r.status == 200 and r.body == b"ok" and r.header("X-Fake") == "1", "ok %r" % r)
    # a CGI local redirect (a Location path, no Status) serves that URL
    r = srv.get("/local.fcgi", pool="A")
    check(r.status == 200 and r.body == b"pool A\n", "local redirect %r %r" % (r, r.body))
    worker = srv.worker_pids("A")
    fake_pid = int(srv.get("/pid.fcgi", pool="A").body)

    for name, why in (("garbage", "not FastCGI version 1"),
                      ("badtype", "a record type a Responder does not send"),
                      ("bighead", "a response head over the limit")):
        r = srv.get("/%s.fcgi" % name, pool="A")
        check(r.status == 500 and b"500.0" in r.body, "%s: %r %r" % (name, r, r.body[:300]))
        check(why.encode() in r.body, "%s: %r" % (name, r.body))
        srv.wait_log("FastCGI process %d of '%s': %s" % (fake_pid, py, why))
        check(srv.worker_pids("A") == worker, "the worker changed: %r" % srv.worker_pids("A"))
        fake_pid = int(srv.get("/pid.fcgi", pool="A").body)  # a new process

    # after the head: the connection is cut, no final chunk
    data = fcgitest.raw_get(srv.port, "/cut.fcgi", host)
    check(data.startswith(b"HTTP/1.1 200"), "cut %r" % data[:100])
    check(b"Transfer-Encoding: chunked" in data and not data.endswith(b"0\r\n\r\n"),
          "a cut response looks complete: %r" % data[-50:])
    srv.wait_log("FastCGI process %d of '%s': the process closed the connection "
                 "mid-response" % (fake_pid, py))
    fake_pid = int(srv.get("/pid.fcgi", pool="A").body)

    # stderr: ReturnStdErrIn500 (IIS's default) answers 500 with the text
    r = srv.get("/stderr.fcgi", pool="A")
    check(r.status == 500, "stderr %r %r" % (r, r.body))
    srv.wait_log("FastCGI process %d of '%s' (stderr): oops from stderr" % (fake_pid, py))

    # IgnoreAndReturn200: the response as if nothing was on stderr
    r = srv.get("/stderr.ign", pool="A")
    check(r.status == 200 and r.body == b"body", "IgnoreAndReturn200 %r %r" % (r, r.body))
    # TerminateProcess: 500, and the process is ended at once
    term_pid = int(srv.get("/pid.term", pool="A").body)
    r = srv.get("/stderr.term", pool="A")
    check(r.status == 500, "TerminateProcess %r" % r)
    srv.wait_log("FastCGI process %d of '%s': output on stderr (stderrMode TerminateProcess)"
                 % (term_pid, py))
    check(int(srv.get("/pid.term", pool="A").body) != term_pid, "the process stayed")

    # a process that exits at start: 500 (the request is tried once more on
    # another process, which exits too), then rapid-fail holds it
    r = srv.get("/x.false", pool="A")
    check(r.status == 500, "/bin/false %r" % r)
    wasptest.wait_until(lambda: srv.read_log().count("of '/bin/false' exited unexpectedly "
                                                     "with status 1") >= 2,
                        what="two exits logged")
    r = srv.get("/x.false", pool="A")
    check(r.status == 500 and b"rapidFailsPerMinute" in r.body, "rapid fail %r %r"
          % (r, r.body))

    # php-cgi killed mid-script
    before = int(srv.get("/pid.php", pool="A").body)
    r = srv.get("/crash.php", pool="A")
    check(r.status == 500, "crash %r %r" % (r, r.body))
    srv.wait_log("was killed by signal 11")
    after = int(srv.get("/pid.php", pool="A").body)
    check(after > 0, "php after the crash %r" % after)
    check(srv.worker_pids("A") == worker, "the worker changed: %r" % srv.worker_pids("A"))
    wasptest.log("php-cgi %d before, %d after" % (before, after))


wasptest.main(test)
