"""PHP through FastCgiModule, as IIS runs it: a *.php handler whose
scriptProcessor names a system.webServer/fastCgi <application>. A GET, a
POST form and a multipart upload reach PHP; $_SERVER for a URL with a query
string (and with PATH_INFO under allowPathInfo) holds the variables of
docs/fastcgi.md; Status and Location from the script become the response's;
a handler whose scriptProcessor is no <application> answers 500 saying so;
fastCgi in a web.config is 500.19 (AppHostOnly);
php-cgi runs as the worker's child with PHP_FCGI_MAX_REQUESTS set."""
import json
import os
import time

import fcgitest
import wasptest
from wasptest import check

HELLO = "<?php echo 'hello ' . (1 + 2);\n"
FORM = "<?php echo json_encode(['post' => $_POST, 'files' => array_map(function ($f) { return [$f['name'], $f['size'], file_get_contents($f['tmp_name'])]; }, $_FILES)]);\n"
SERVER = "<?php echo json_encode(['server' => $_SERVER, 'env' => getenv('PHP_FCGI_MAX_REQUESTS'), 'ppid' => posix_getppid()]);\n"
STATUS = ("<?php header('Status: 404 Not Here'); header('X-From-Php: yes'); "
          "header('Date: Thu, 01 Jan 1970 00:00:00 GMT'); header('Connection: x'); echo 'gone';\n")
REDIRECT = "<?php header('Location: /elsewhere'); \n"


def test(t):
    php = fcgitest.php_cgi()
    xml = fcgitest.web_server_xml(php, app_attrs={"maxInstances": 2},
                                  handler_attrs={}, extra="""
    <httpErrors existingResponse="PassThrough" />
    <location path="A/pi">
    </location>""")
    # a second handler, with allowPathInfo, under /pi/
    xml = xml.replace('<add name="StaticFile"', """<add name="PHP_pathinfo" path="/pi/*.php" verb="GET"
           modules="FastCgiModule" scriptProcessor="%s" resourceType="Unspecified"
           allowPathInfo="true" />
      <add name="PHP_noapp" path="*.noapp" verb="GET" modules="FastCgiModule"
           scriptProcessor="/usr/bin/no-such-php-cgi" resourceType="Unspecified" />
      <add name="StaticFile\"""" % php)
    xml = xml.replace('<location path="A/pi">\n    </location>', "")
    srv = wasptest.Server(t, pools={"A": {}}, web_server_xml=xml)
    for name, text in (("hello.php", HELLO), ("form.php", FORM), ("server.php", SERVER),
                       ("status.php", STATUS), ("redirect.php", REDIRECT),
                       ("pi/s.php", SERVER)):
        fcgitest.write_php(srv, "A", name, text)
    # fastCgi is AppHostOnly: a web.config may not set it
    fcgitest.write_php(srv, "A", "sub/web.config",
                       '<configuration><system.webServer><fastCgi><application '
                       'fullPath="/bin/sh" /></fastCgi></system.webServer></configuration>')
    fcgitest.write_php(srv, "A", "sub/hello.php", HELLO)
    srv.start()
    host = srv.host("A")
    r = srv.get("/sub/hello.php", pool="A")
    check(r.status == 500 and b"500.19" in r.body and b"fastCgi" in r.body,
          "fastCgi in a web.config: %r %r" % (r, r.body[:600]))

    r = srv.get("/hello.php", pool="A")
    check(r.status == 200 and r.body == b"hello 3", "GET %r %r" % (r, r.body))
    check(r.header("Content-Type", "").startswith("text/html"), "%r" % r.headers)

    r = wasptest.http_request(srv.port, "/form.php", host=host, method="POST",
                              headers={"Content-Type": "application/x-www-form-urlencoded"},
                              body=b"a=1&b=two+words")
    check(r.status == 200, "POST form %r %r" % (r, r.body))
    check(json.loads(r.body)["post"] == {"a": "1", "b": "two words"}, "%r" % r.body)

    boundary = "XyZzY"
    body = ("--%s\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nfield\r\n"
            "--%s\r\nContent-Disposition: form-data; name=\"up\"; filename=\"u.txt\"\r\n"
            "Content-Type: text/plain\r\n\r\nfile body\r\n--%s--\r\n"
            % (boundary, boundary, boundary)).encode()
    r = wasptest.http_request(srv.port, "/form.php", host=host, method="POST",
                              headers={"Content-Type":
                                       "multipart/form-data; boundary=" + boundary},
                              body=body)
    check(r.status == 200, "multipart %r %r" % (r, r.body))
    d = json.loads(r.body)
    check(d["post"] == {"f": "field"} and d["files"]["up"] == ["u.txt", 9, "file body"],
          "%r" % d)

    r = wasptest.http_request(srv.port, "/server.php?x=1&y=%41", host=host,
                              headers={"X-Custom-Thing": "v1"})
    check(r.status == 200, "server %r %r" % (r, r.body))
    d = json.loads(r.body)
    s = d["server"]
    content = srv.content_dir("A")
    want = {"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "GET",
            "QUERY_STRING": "x=1&y=%41", "REQUEST_URI": "/server.php?x=1&y=%41",
            "SCRIPT_NAME": "/server.php", "PATH_INFO": "/server.php",
            "SCRIPT_FILENAME": os.path.join(content, "server.php"),
            "PATH_TRANSLATED": os.path.join(content, "server.php"),
            "SERVER_PORT": str(srv.port), "SERVER_NAME": host,
            "REMOTE_ADDR": "127.0.0.1", "HTTPS": "off", "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_X_CUSTOM_THING": "v1", "HTTP_HOST": host, "CONTENT_LENGTH": "0",
            "APP_POOL_ID": "A", "INSTANCE_ID": "1", "APPL_MD_PATH": "/LM/W3SVC/1/ROOT",
            "UNENCODED_URL": "/server.php?x=1&y=%41", "URL": "/server.php"}
    for k, v in want.items():
        check(s.get(k) == v, "$_SERVER[%s] = %r, not %r" % (k, s.get(k), v))
    check(s.get("SERVER_SOFTWARE", "").startswith("wasp/"), "%r" % s.get("SERVER_SOFTWARE"))
    check(s.get("REMOTE_PORT", "").isdigit(), "%r" % s.get("REMOTE_PORT"))
    check(d["env"] == "200", "PHP_FCGI_MAX_REQUESTS %r" % d["env"])
    check(d["ppid"] in srv.worker_pids("A"), "php-cgi's parent %r is no worker %r"
          % (d["ppid"], srv.worker_pids("A")))

    # allowPathInfo: the script is the first part that names a file
    r = wasptest.http_request(srv.port, "/pi/s.php/extra/path?q=1", host=host)
    check(r.status == 200, "path info %r %r" % (r, r.body))
    s = json.loads(r.body)["server"]
    want = {"SCRIPT_NAME": "/pi/s.php", "PATH_INFO": "/extra/path",
            "SCRIPT_FILENAME": os.path.join(content, "pi", "s.php"),
            "PATH_TRANSLATED": os.path.join(content, "extra", "path"),
            "REQUEST_URI": "/pi/s.php/extra/path?q=1", "QUERY_STRING": "q=1"}
    for k, v in want.items():
        check(s.get(k) == v, "path info: $_SERVER[%s] = %r, not %r" % (k, s.get(k), v))

    # at most 8 leading parts that match are looked up (a client's URL of
    # many "x.php/" segments costs no more)
    for levels, want in ((7, 200), (9, 404)):
        d = "/".join("d%d.php" % i for i in range(levels))
        fcgitest.write_php(srv, "A", "pi/%s/s.php" % d, SERVER)
        r = wasptest.http_request(srv.port, "/pi/%s/s.php/x" % d, host=host)
        check(r.status == want, "%d levels: %r" % (levels, r))
    r = srv.get("/status.php", pool="A")
    check(r.status == 404 and r.body == b"gone" and r.header("X-From-Php") == "yes",
          "Status %r %r %r" % (r, r.headers, r.body))
    check("1970" not in r.header("Date", ""), "the application's Date: %r" % r.headers)
    r = srv.get("/redirect.php", pool="A")
    check(r.status == 302 and r.header("Location") == "/elsewhere", "Location %r %r"
          % (r, r.headers))
    # a HEAD gets the head only
    r = wasptest.http_request(srv.port, "/hello.php", host=host, method="HEAD")
    check(r.status == 200 and r.body == b"", "HEAD %r %r" % (r, r.body))

    r = wasptest.http_request(srv.port, "/x.noapp", host=host)
    check(r.status == 500, "no application %r" % r)
    check(b"/usr/bin/no-such-php-cgi" in r.body and b"system.webServer/fastCgi" in r.body,
          "%r" % r.body)
    # keep-alive: streamed (chunked) responses and a static file on one connection
    with srv.keepalive(pool="A") as ka:
        for path, want in (("/hello.php", b"hello 3"), ("/index.html", b"pool A\n"),
                           ("/hello.php", b"hello 3")):
            r = ka.get(path)
            check(r.status == 200 and r.body == want, "keep-alive %s %r %r" % (path, r, r.body))
    # a small streamed response is not held back waiting for the client's
    # ACK of its head (Nagle and delayed ACKs: 40 ms a request)
    with srv.keepalive(pool="A") as ka:
        t0 = time.monotonic()
        for _ in range(100):
            r = ka.get("/hello.php")
            check(r.status == 200, "%r" % r)
        took = time.monotonic() - t0
    wasptest.log("100 keep-alive requests to hello.php in %.2f s" % took)
    check(took < 3.0, "100 keep-alive requests took %.1f s" % took)
    # the source is never served
    r = srv.get("/hello.php", pool="A")
    check(b"<?php" not in r.body, "%r" % r.body)


wasptest.main(test)
