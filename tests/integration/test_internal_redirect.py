"""Internal redirects (wasp_request_internal_redirect): DefaultDocumentModule
serves a directory's document by redirecting to its URL, so the document's
own <handlers> entry serves it (or refuses it, here by its access policy);
the W3C log keeps the client's URL. A request redirected more than 10 times
answers 500 (a loop ends) and the worker goes on serving."""
import glob
import os
import wasptest
from wasptest import check, read_text, wait_until, write_content

WEB_SERVER = """
  </system.webServer>
  <location path="A/sec">
    <system.webServer>
      <defaultDocument>
        <files><clear /><add value="page.secret" /></files>
      </defaultDocument>
      <staticContent>
        <mimeMap fileExtension=".secret" mimeType="text/plain" />
      </staticContent>
      <handlers accessPolicy="Read">
        <clear />
        <add name="Secret" path="*.secret" verb="*" modules="StaticFileModule"
             requireAccess="Write" />
        <add name="Dir" path="*" verb="GET" modules="DefaultDocumentModule"
             resourceType="Directory" requireAccess="Read" />
      </handlers>
    </system.webServer>
  </location>
  <system.webServer>"""


def log_text(site_dir):
    return "".join(read_text(f) for f in sorted(glob.glob(os.path.join(site_dir, "u_ex*.log"))))


def test(t):
    logdir = os.path.join(t.dir, "logs")
    os.makedirs(logdir)
    os.chmod(logdir, 0o755)
    srv = t.server(pools={"A": {}}, web_server_xml=WEB_SERVER)
    srv.config_text = srv.config_text.replace(
        "    </sites>",
        "      <siteDefaults>\n        <logFile directory=%s logExtFileFlags=\"Method, UriStem\" />\n"
        "      </siteDefaults>\n    </sites>" % wasptest.quoteattr(logdir))
    content = srv.content_dir("A")
    write_content(os.path.join(content, "sec/page.secret"), "secret page\n")
    write_content(os.path.join(content, "doc/index.html"), "doc index\n")
    srv.start()

    def get(path):
        return srv.get(path, pool="A")

    # the document's URL is mapped again: its entry needs Write access,
    # which the policy refuses (403.3), though the directory's entry
    # (DefaultDocumentModule) had Read
    r = get("/sec/")
    check(r.status == 403 and r.header("X-Wasp-Substatus") == "3" and b"secret page" not in r.body,
          "document mapped to its own handler %r %r" % (r, r.headers))
    r = get("/sec/page.secret")
    check(r.status == 403 and r.header("X-Wasp-Substatus") == "3", "the document itself %r" % r)
    # the usual case: served by StaticFile through the redirect
    r = get("/doc/?q=1")
    check(r.status == 200 and r.body == b"doc index\n", "default document %r" % r)

    # ten redirects are fine, the eleventh answers 500
    r = get("/__wasp_test/redirect/10")
    check(r.status == 200 and r.body == b"redirected from /__wasp_test/redirect/10",
          "10 redirects %r %r" % (r, r.body))
    r = get("/__wasp_test/redirect/11")
    check(r.status == 500, "11 redirects %r" % r)
    r = get("/__wasp_test/loop")
    check(r.status == 500, "a loop ends %r" % r)
    r = get("/doc/")
    check(r.status == 200 and r.body == b"doc index\n", "still serving %r" % r)

    site_dir = os.path.join(logdir, "W3SVC1")
    log = wait_until(lambda: "GET /__wasp_test/loop\n" in log_text(site_dir) and log_text(site_dir),
                     10, what="the W3C lines")
    check("GET /doc/\n" in log and "/doc/index.html" not in log, "the client's URL logged %r" % log)


wasptest.main(test)
