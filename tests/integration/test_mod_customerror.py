"""CustomErrorModule: system.webServer/httpErrors as IIS applies it, per URL
(<location>): errorMode Custom (per status and substatus <error> entries,
the status-wide entry, responseMode File with prefixLanguageFilePath and
the client's Accept-Language, File by absolute path, ExecuteURL keeping
the error status, Redirect with 302, the short page when nothing is
configured, never a server path in any of them), Detailed (status,
substatus, explanation, the physical path, everything HTML-escaped),
DetailedLocalOnly (detailed for a loopback client, custom for a client
on another address), existingResponse (Auto, Replace, PassThrough) with a module's own error
body and with a blank response."""
import os
import socket
import wasptest
from wasptest import check, http_request
from xml.sax.saxutils import quoteattr


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)
    d = os.path.dirname(path)
    while len(d) > 1:
        try:
            os.chmod(d, 0o755)
        except PermissionError:
            break
        if os.path.basename(d) == "content" or d.endswith("pages"):
            break
        d = os.path.dirname(d)


def non_loopback_address():
    """A local address that is not loopback, or None."""
    for probe in ("192.0.2.1", "10.255.255.255", "8.8.8.8"):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.connect((probe, 9))
                a = s.getsockname()[0]
            if not a.startswith("127."):
                return a
        except OSError:
            continue
    return None


def location(path, http_errors):
    return ("  <location path=%s>\n    <system.webServer>\n      %s\n"
            "    </system.webServer>\n  </location>\n" % (quoteattr(path), http_errors))


def test(t):
    pages = os.path.join(t.dir, "pages")
    os.makedirs(pages)
    os.chmod(pages, 0o755)
    custerr = os.path.join(pages, "custerr")
    write(os.path.join(custerr, "en-US", "404.htm"), "<p>english 404</p>\n")
    write(os.path.join(custerr, "de-DE", "404.htm"), "<p>deutsch 404</p>\n")
    hidden_page = os.path.join(pages, "hidden.htm")
    write(hidden_page, "<p>hidden segment page</p>\n")
    # relative to the directory of applicationHost.config (t.dir)
    write(os.path.join(pages, "nomime.htm"), "<p>no mime map page</p>\n")
    secret = os.path.join(pages, "secret.htm")
    write(secret, "TOP SECRET\n")

    web = ("<httpErrors errorMode=\"Custom\" existingResponse=\"Replace\">\n"
           "      <error statusCode=\"404\" prefixLanguageFilePath=%s path=\"404.htm\" />\n"
           "      <error statusCode=\"404\" subStatusCode=\"8\" path=%s responseMode=\"File\" />\n"
           "      <error statusCode=\"405\" path=\"/exec/notallowed.html\" responseMode=\"ExecuteURL\" />\n"
           "      <error statusCode=\"404\" subStatusCode=\"3\" path=\"pages/nomime.htm\" />\n"
           "    </httpErrors>" % (quoteattr(custerr), quoteattr(hidden_page)))
    srv = t.server(pools={"A": {}},
                   sites=[{"name": "A", "id": 1, "bindings": ["*:{port}:"],
                           "apps": [{"path": "/", "pool": "A",
                                     "physicalPath": os.path.join(t.dir, "content", "A")}]}],
                   web_server_xml=web)
    content = srv.content_dir("A")
    write(os.path.join(content, "exec", "notallowed.html"), "<p>executed url page</p>\n")
    write(os.path.join(content, "file.nomimetype"), "data\n")
    # a web.config may name only files beside it, relatively and without ".."
    write(os.path.join(content, "deleg", "err", "404.htm"), "<p>delegated 404</p>\n")
    write(os.path.join(content, "deleg", "web.config"),
          "<configuration><system.webServer><httpErrors errorMode=\"Custom\"><clear />"
          "<error statusCode=\"404\" path=\"err\\404.htm\" />"
          "<error statusCode=\"404\" subStatusCode=\"8\" path=%s />"
          "<error statusCode=\"405\" path=\"../../../pages/secret.htm\" />"
          "</httpErrors></system.webServer></configuration>\n" % quoteattr(secret))
    srv.config_text = srv.config_text.replace("</configuration>", "".join([
        location("A/redir", "<httpErrors errorMode=\"Custom\"><clear />"
                 "<error statusCode=\"404\" path=\"http://elsewhere.test/oops?x=1\" "
                 "responseMode=\"Redirect\" /></httpErrors>"),
        "  <location path=\"A/deleg\" overrideMode=\"Allow\">\n    <system.webServer>\n"
        "      <httpErrors />\n    </system.webServer>\n  </location>\n",
        location("A/short", "<httpErrors errorMode=\"Custom\"><clear /></httpErrors>"),
        location("A/detailed", "<httpErrors errorMode=\"Detailed\" />"),
        location("A/local", "<httpErrors errorMode=\"DetailedLocalOnly\" />"),
        location("A/pass", "<httpErrors errorMode=\"Custom\" existingResponse=\"PassThrough\" />"),
        location("A/__wasp_test/error/auto", "<httpErrors errorMode=\"Custom\" existingResponse=\"Auto\" />"),
        location("A/__wasp_test/error/replace", "<httpErrors errorMode=\"Custom\" existingResponse=\"Replace\" />"),
        location("A/__wasp_test/error/pass", "<httpErrors errorMode=\"Custom\" existingResponse=\"PassThrough\" />"),
    ]) + "</configuration>")
    srv.start()

    def get(path, **kw):
        return srv.get(path, host="a.test", **kw)

    def no_paths(r, what):
        check(t.dir.encode() not in r.body and b"custerr" not in r.body,
              "%s: a server path in a custom response: %r" % (what, r.body))

    # File with prefixLanguageFilePath: the client's language, else en-US
    r = get("/nope.html")
    check(r.status == 404 and r.body == b"<p>english 404</p>\n", "404 default language %r %r" % (r, r.body))
    check(r.header("Content-Type", "").startswith("text/html"), "type %r" % r.headers)
    no_paths(r, "404")
    r = get("/nope.html", headers={"Accept-Language": "de-de,en;q=0.5"})
    check(r.status == 404 and r.body == b"<p>deutsch 404</p>\n", "404 de %r %r" % (r, r.body))
    r = get("/nope.html", headers={"Accept-Language": "fr-FR, ../../etc"})
    check(r.status == 404 and r.body == b"<p>english 404</p>\n", "404 fr %r %r" % (r, r.body))
    # the substatus entry wins over the status-wide one
    r = get("/web.config")
    check(r.status == 404 and r.body == b"<p>hidden segment page</p>\n", "404.8 %r %r" % (r, r.body))
    # ExecuteURL: another URL's content, the error status kept
    r = get("/index.html", method="DELETE")
    check(r.status == 405 and r.body == b"<p>executed url page</p>\n", "405 %r %r" % (r, r.body))
    check("GET" in r.header("Allow", ""), "Allow header lost %r" % r.headers)
    # HEAD: the status and headers, no body
    r = get("/nope.html", method="HEAD")
    check(r.status == 404 and r.body == b"", "HEAD %r" % r)

    # File relative to the configuration file that names it
    r = get("/file.nomimetype")
    check(r.status == 404 and r.body == b"<p>no mime map page</p>\n", "404.3 %r %r" % (r, r.body))
    # from a web.config: relative to it ('\\' as '/'); not absolute, not ".."
    r = get("/deleg/missing.html")
    check(r.status == 404 and r.body == b"<p>delegated 404</p>\n", "web.config 404 %r %r" % (r, r.body))
    for what, kw in (("absolute", {"path": "/deleg/web.config"}),
                     ("dot-dot", {"path": "/deleg/x.html", "method": "DELETE"})):
        r = get(kw.pop("path"), **kw)
        check(r.status in (404, 405) and b"SECRET" not in r.body and b"<h1>" in r.body,
              "web.config %s path served: %r %r" % (what, r, r.body))
        no_paths(r, what)

    # Redirect
    r = get("/redir/missing.html")
    check(r.status == 302 and r.header("Location") == "http://elsewhere.test/oops?x=1",
          "redirect %r %r" % (r, r.headers))
    # nothing configured: the short page, no substatus, no paths
    r = get("/short/missing.html")
    check(r.status == 404 and b"404" in r.body and b"404.0" not in r.body, "short %r %r" % (r, r.body))
    no_paths(r, "short")
    r = get("/short/web.config")
    check(r.status == 404 and b"404.8" not in r.body and b"hidden" not in r.body.lower(),
          "short 404.8 %r" % r.body)
    no_paths(r, "short 404.8")
    # PassThrough on a blank response: still the custom page
    r = get("/pass/missing.html")
    check(r.status == 404 and r.body == b"<p>english 404</p>\n", "pass %r %r" % (r, r.body))

    # a module's own error body (the test module's 500): Auto keeps it only
    # when the module asked (fTrySkipCustomErrors), Replace never,
    # PassThrough always
    mod_body = b"module error body\n"
    for path, keep in (("auto", False), ("auto?skip", True), ("replace", False),
                       ("replace?skip", False), ("pass", True), ("pass?skip", True)):
        r = get("/__wasp_test/error/" + path)
        check(r.status == 500, "%s: %r" % (path, r))
        if keep:
            check(r.body == mod_body, "%s: the module's body was replaced: %r" % (path, r.body))
        else:
            check(r.body != mod_body and b"500" in r.body and
                  r.header("Content-Type", "").startswith("text/html"),
                  "%s: the module's body was kept: %r %r" % (path, r.body, r.headers))
            no_paths(r, path)

    # Detailed: status.substatus, the explanation, the physical path, escaped
    r = get("/detailed/%3Cscript%3Ex%26y.html")
    check(r.status == 404, "detailed %r" % r)
    check(b"404.0" in r.body and b"Not Found" in r.body, "detailed code %r" % r.body)
    check(b"<script>" not in r.body and b"&lt;script&gt;x&amp;y.html" in r.body,
          "detailed page not escaped: %r" % r.body)
    check(os.path.join(content, "detailed").encode() in r.body, "physical path %r" % r.body)
    r = get("/detailed/web.config")
    check(r.status == 404 and b"404.8" in r.body and b"hiddenSegments" in r.body,
          "detailed 404.8 %r" % r.body)
    check(r.header("Content-Type", "").startswith("text/html"), "type %r" % r.headers)

    # DetailedLocalOnly: loopback gets the detailed page ...
    r = get("/local/missing.html")
    check(r.status == 404 and b"404.0" in r.body and b"Detailed" in r.body, "local %r" % r.body)
    # ... a client on another address the custom one
    addr = non_loopback_address()
    if addr is None:
        wasptest.log("no non-loopback address: remote DetailedLocalOnly not checked")
        return
    r = http_request(srv.port, "/local/missing.html", host="a.test", address=addr)
    check(r.status == 404 and r.body == b"<p>english 404</p>\n",
          "remote client from %s: %r %r" % (addr, r, r.body))
    no_paths(r, "remote")


wasptest.main(test)
