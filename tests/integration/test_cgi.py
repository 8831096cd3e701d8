"""CgiModule runs CGI programs as IIS does: a Python script through its
handler's scriptProcessor ("python3 -u %s %s") and a shell script as the
program itself (path="*.cgi"). Each request gets its own process, in the
script's directory, with the CGI meta-variables of docs/fastcgi.md
(PATH_INFO by allowPathInfo); the body goes to its stdin, its stdout is the
response (Status, headers; a Location path without a Status is a local
redirect served through an internal redirect, an absolute one a 302);
stderr goes to the log with the pid.
A body of unknown length (chunked) is 411.
isapiCgiRestriction decides which programs run (404.2 otherwise, and
for an unlisted one unless notListedCgisAllowed); a
malformed head, or none, is 502.2; where accessPolicy does not grant a CGI
handler's requireAccess (Execute, Script) and no other handler takes the
request, it is 403.1 and nothing runs."""
import os
import re

import cgitest
import wasptest
from wasptest import check

ENV_PY = r"""import os, sys
sys.stdout.write("Content-Type: text/plain\r\nX-Cgi: py\r\n\r\n")
for k in sorted(os.environ):
    sys.stdout.write("%s=%s\n" % (k, os.environ[k]))
sys.stdout.write("CWD=%s\nARGV=%s\n" % (os.getcwd(), "|".join(sys.argv)))
"""
ECHO_PY = r"""import os, sys
n = int(os.environ.get("CONTENT_LENGTH") or 0)
data = sys.stdin.buffer.read(n)
sys.stdout.buffer.write(b"Content-Type: application/octet-stream\r\n"
                        b"Content-Length: %d\r\n\r\n" % len(data) + data)
"""
STATUS_PY = 'print("Status: 404 Not Here\\r\\nContent-Type: text/plain\\r\\n\\r\\ngone")\n'
REDIRECT_PY = 'print("Location: /index.html\\r\\n\\r\\nignored", end="")\n'
ABSOLUTE_PY = 'print("Location: http://example.test/x\\r\\n\\r\\n", end="")\n'
HELLO_SH = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
echo "sh QUERY_STRING=$QUERY_STRING PATH_INFO=$PATH_INFO SCRIPT_NAME=$SCRIPT_NAME"
echo "sh says this on stderr" >&2
"""
GARBAGE_SH = "#!/bin/sh\nprintf 'this is no header\\r\\n\\r\\nbody'\n"
NOHEAD_SH = "#!/bin/sh\necho 'Content-Type: text/plain'\nexit 0\n"


def env_of(body):
    out = {}
    for line in body.decode().splitlines():
        k, _, v = line.partition("=")
        out[k] = v
    return out


def test(t):
    py = cgitest.python3()
    d = os.path.join(t.dir, "content", "A")  # Server.content_dir's
    allowed = [cgitest.processor(py)] + [os.path.join(d, n) for n in
                                         ("hello.cgi", "garbage.cgi", "nohead.cgi",
                                          "noexecbit.cgi")]
    # /noexec: an accessPolicy without Script and Execute, no StaticFile
    noexec = """<httpErrors existingResponse="PassThrough" />
  </system.webServer>
  <location path="A/noexec">
    <system.webServer>
      <handlers accessPolicy="Read"><remove name="StaticFile" /></handlers>
    </system.webServer>
  </location>
  <system.webServer>"""
    srv = wasptest.Server(t, pools={"A": {}}, web_server_xml=cgitest.web_server_xml(
        py, allowed=allowed + [os.path.join(d, "noexec", "hello.cgi")], extra=noexec))
    for name, text in (("sub/env.py", ENV_PY), ("echo.py", ECHO_PY), ("status.py", STATUS_PY),
                       ("redirect.py", REDIRECT_PY), ("absolute.py", ABSOLUTE_PY), ("hello.cgi", HELLO_SH),
                       ("unlisted.cgi", HELLO_SH), ("garbage.cgi", GARBAGE_SH),
                       ("noexec/hello.cgi", HELLO_SH), ("noexec/env.py", ENV_PY),
                       ("nohead.cgi", NOHEAD_SH)):
        cgitest.write_script(t, srv, "A", name, text)
    os.chmod(cgitest.write_script(t, srv, "A", "noexecbit.cgi", HELLO_SH), 0o644)
    srv.start()
    host = srv.host("A")

    # GET with a query and PATH_INFO: the variables it sees
    r = wasptest.http_request(srv.port, "/sub/env.py/a/b?x=1&y=%20z", host=host,
                              headers={"X-Custom": "v1"})
    check(r.status == 200 and r.header("x-cgi") == "py", "%r %r" % (r, r.body[:300]))
    env = env_of(r.body)
    script = os.path.join(d, "sub", "env.py")
    want = {
        "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_PORT": str(srv.port), "REQUEST_METHOD": "GET",
        "QUERY_STRING": "x=1&y=%20z", "REQUEST_URI": "/sub/env.py/a/b?x=1&y=%20z",
        "SCRIPT_NAME": "/sub/env.py", "URL": "/sub/env.py", "PATH_INFO": "/a/b",
        "SCRIPT_FILENAME": script, "PATH_TRANSLATED": os.path.join(d, "a", "b"),
        "REMOTE_ADDR": "127.0.0.1", "SERVER_ADDR": "127.0.0.1", "CONTENT_LENGTH": "0",
        "HTTP_HOST": host, "HTTP_X_CUSTOM": "v1", "HTTPS": "off", "APP_POOL_ID": "A",
        "INSTANCE_NAME": "A", "INSTANCE_ID": "1",
        "CWD": os.path.join(d, "sub"), "ARGV": script,
    }
    for k, v in want.items():
        check(env.get(k) == v, "%s=%r, want %r (%r)" % (k, env.get(k), v, env))
    check(env.get("SERVER_NAME") == host and env.get("REMOTE_PORT", "").isdigit()
          and env.get("SERVER_SOFTWARE", "").startswith("wasp"), "%r" % env)

    # POST: the body on stdin
    body = os.urandom(300000)
    r = wasptest.http_request(srv.port, "/echo.py", host=host, method="POST", body=body)
    check(r.status == 200 and r.body == body, "echo %r %d" % (r, len(r.body)))

    # a body of unknown length: RFC 3875 passes CONTENT_LENGTH, so 411
    raw = wasptest.raw_request(srv.port, (
        "POST /echo.py HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
        "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" % host).encode())
    check(raw.startswith(b"HTTP/1.1 411"), "chunked: %r" % raw[:200])

    # Status and Location
    r = wasptest.http_request(srv.port, "/status.py", host=host)
    check(r.status == 404 and r.body == b"gone\n", "status %r %r" % (r, r.body[:200]))
    # a local redirect (a Location path, no Status) serves that URL
    r = wasptest.http_request(srv.port, "/redirect.py", host=host)
    check(r.status == 200 and r.body == b"pool A\n", "local redirect %r %r" % (r, r.body))
    r = wasptest.http_request(srv.port, "/absolute.py", host=host)
    check(r.status == 302 and r.header("location") == "http://example.test/x",
          "client redirect %r %r" % (r, r.headers))

    # a program listed in isapiCgiRestriction runs itself; stderr is logged
    r = wasptest.http_request(srv.port, "/hello.cgi/p/q?z=9", host=host)
    check(r.status == 200 and r.body == b"sh QUERY_STRING=z=9 PATH_INFO=/p/q "
          b"SCRIPT_NAME=/hello.cgi\n", "sh %r %r" % (r, r.body[:300]))
    srv.wait_log("sh says this on stderr")
    check(re.search(r"CGI process \d+ \(stderr\): sh says this on stderr", srv.read_log()),
          "stderr log")

    # HEAD: the head only
    r = wasptest.http_request(srv.port, "/hello.cgi", host=host, method="HEAD")
    check(r.status == 200 and r.body == b"", "HEAD %r %r" % (r, r.body))

    # a listed program that cannot be run (no execute bit): 500 saying so
    r = wasptest.http_request(srv.port, "/noexecbit.cgi", host=host)
    check(r.status == 500 and b"could not be started" in r.body, "%r %r" % (r, r.body[:300]))

    # one that is not listed: 404.2, and it never ran
    r = wasptest.http_request(srv.port, "/unlisted.cgi", host=host)
    check(r.status == 404 and b"404.2" in r.body, "unlisted %r %r" % (r, r.body[:300]))

    # a head that is no head, and none at all: 502.2
    for path in ("/garbage.cgi", "/nohead.cgi"):
        r = wasptest.http_request(srv.port, path, host=host)
        check(r.status == 502 and b"502.2" in r.body, "%s %r %r" % (path, r, r.body[:300]))

    # requireAccess against accessPolicy: 403.1, nothing runs, no source
    for path in ("/noexec/hello.cgi", "/noexec/env.py"):
        r = wasptest.http_request(srv.port, path, host=host)
        check(r.status == 403 and b"403.1" in r.body and b"printf" not in r.body
              and b"environ" not in r.body, "%s %r %r" % (path, r, r.body[:300]))

    # the worker still serves
    r = srv.get("/index.html", pool="A")
    check(r.status == 200, "%r" % r)
    srv.stop()

    # notListedCgisAllowed: what is not listed runs, what is listed as not
    # allowed does not
    srv = wasptest.Server(t, pools={"A": {}}, web_server_xml=cgitest.web_server_xml(
        py, allowed=[], not_listed=True, denied=[os.path.join(d, "hello.cgi")]))
    srv.start()
    r = wasptest.http_request(srv.port, "/unlisted.cgi", host=host)
    check(r.status == 200 and r.body.startswith(b"sh QUERY_STRING="), "%r" % r)
    r = wasptest.http_request(srv.port, "/hello.cgi", host=host)
    check(r.status == 404 and b"404.2" in r.body, "denied %r %r" % (r, r.body[:300]))


wasptest.main(test)
