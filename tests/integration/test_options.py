"""OPTIONS as IIS answers it: with the stock OPTIONSVerbHandler
(ProtocolSupportModule, path="*" verb="OPTIONS" requireAccess="None")
first in <handlers>, OPTIONS on any path is 200 with
Allow and Public: OPTIONS, TRACE, GET, HEAD, POST and an empty body;
OPTIONS * (about the server, RFC 9110 9.3.7) carries the same fields.
Where the handlers have no OPTIONS entry, the verb is not mapped: 405."""
import wasptest
from wasptest import check

METHODS = "OPTIONS, TRACE, GET, HEAD, POST"

WEB_SERVER = """
    <handlers accessPolicy="Read, Script">
      <add name="OPTIONSVerbHandler" path="*" verb="OPTIONS" modules="ProtocolSupportModule"
           requireAccess="None" />
      <add name="StaticFile" path="*" verb="GET,HEAD" modules="StaticFileModule"
           resourceType="Either" requireAccess="Read" />
    </handlers>
  </system.webServer>
  <location path="A/plain">
    <system.webServer>
      <handlers>
        <remove name="OPTIONSVerbHandler" />
      </handlers>
    </system.webServer>
  </location>
  <system.webServer>"""


def test(t):
    srv = t.server(pools={"A": {"startMode": "AlwaysRunning"}}, web_server_xml=WEB_SERVER)
    srv.start()
    for path in ("/index.html", "/nothing/here.txt", "/"):
        r = srv.get(path, pool="A", method="OPTIONS")
        check(r.status == 200, "OPTIONS %s: %r" % (path, r))
        check(r.header("Allow") == METHODS and r.header("Public") == METHODS,
              "OPTIONS %s: Allow %r Public %r" % (path, r.header("Allow"), r.header("Public")))
        check(r.body == b"" and r.header("Content-Length") == "0",
              "OPTIONS %s: body %r" % (path, r.body))

    raw = srv.raw(b"OPTIONS * HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
    check(raw.startswith(b"HTTP/1.1 200 "), "OPTIONS *: %r" % raw)
    for name in (b"Allow", b"Public"):
        check((b"\r\n%s: %s\r\n" % (name, METHODS.encode())) in raw,
              "OPTIONS *: no %s in %r" % (name, raw))

    r = srv.get("/index.html", pool="A")
    check(r.status == 200 and r.body == b"pool A\n", "GET still served: %r" % r)
    r = srv.get("/plain/x.html", pool="A", method="OPTIONS")
    check(r.status == 405, "OPTIONS without an OPTIONS handler: %r" % r)


wasptest.main(test)
