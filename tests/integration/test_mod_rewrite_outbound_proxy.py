"""Outbound rules on a reverse-proxied application (httpPlatform): the
backend's absolute Location and the absolute links in its HTML, which it
writes in pieces that cut a tag (the proxy engine's stream), rewritten to
the public paths, as IIS's reverse-proxy rule sets do; a non-HTML response
of the same backend passes untouched with its Content-Length."""
import os

import hptest
import wasptest
from wasptest import check

BACKEND = r"""import sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer

PORT = int(sys.argv[2])
ME = "http://127.0.0.1:%d" % PORT


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        if self.path == "/login":
            self.send_response(302)
            self.send_header("Location", ME + "/app/home")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/page":
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in ["<p><a href=\"%s/app/" % ME, "one\">1</a><img sr",
                          "c=\"%s/img/two.png\"> <a href=\"/local\">3</a></p>\n" % ME]:
                data = piece.encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
                time.sleep(0.02)  # noqa: not synchronisation: separate writes
            self.wfile.write(b"0\r\n\r\n")
        else:
            body = ("<a href=\"%s/app/text\">" % ME).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)


HTTPServer(("127.0.0.1", PORT), H).serve_forever()
"""

WEB_CONFIG = r"""<configuration><system.webServer><rewrite><outboundRules>
  <preConditions>
    <preCondition name="IsHTML"><add input="{RESPONSE_CONTENT_TYPE}" pattern="^text/html" /></preCondition>
  </preConditions>
  <rule name="location">
    <match serverVariable="RESPONSE_Location" pattern="^http://127\.0\.0\.1:[0-9]+/(.*)" />
    <action type="Rewrite" value="/{R:1}" />
  </rule>
  <rule name="links" preCondition="IsHTML">
    <match filterByTags="A, Img" pattern="^http://127\.0\.0\.1:[0-9]+/(.*)" />
    <action type="Rewrite" value="/{R:1}" />
  </rule>
</outboundRules></rewrite></system.webServer></configuration>
"""


def test(t):
    py, _ = hptest.python_backend(t)
    app = os.path.join(t.dir, "backend.py")
    wasptest.write_content(app, BACKEND)
    os.chmod(t.dir, 0o755)
    os.chmod(app, 0o644)
    xml = hptest.web_server_xml("httpPlatform", py, "%s --port %%HTTP_PLATFORM_PORT%%" % app)
    srv = wasptest.Server(t, pools={"A": {}}, web_server_xml=xml)
    wasptest.write_content(os.path.join(srv.content_dir("A"), "web.config"), WEB_CONFIG)
    srv.start()

    r = srv.get("/login", pool="A")
    check(r.status == 302 and r.header("Location") == "/app/home", "Location: %r" % r.headers)
    r = srv.get("/page", pool="A")
    check(r.status == 200 and r.body == b'<p><a href="/app/one">1</a><img src="/img/two.png"> '
          b'<a href="/local">3</a></p>\n', "page: %r" % r.body)
    r = srv.get("/text", pool="A")
    check(r.status == 200 and b"http://127.0.0.1:" in r.body and
          r.header("Content-Length") == str(len(r.body)), "text: %r %r" % (r.headers, r.body))


wasptest.main(test)
