"""A handler whose module wasp does not have (AspNetCoreModule, ANCM's V1,
IsapiModule, or a managed type= handler, which IIS runs in
ManagedPipelineHandler) answers 500.21 as IIS does ("Handler X has a bad
module Y in its module list"): a page mapped to it is never served as a
file, and a missing one is no 404 either when the handler does not ask for
the file to exist. Other files are served. (FastCgiModule, CgiModule and
AspNetCoreModuleV2 are wasp's own: test_fastcgi_php, test_cgi,
test_aspnetcore; a program isapiCgiRestriction does not list is 404.2,
never its file.)"""
import os
import wasptest
from wasptest import check

HANDLERS = """
    <handlers accessPolicy="Read, Script">
      <add name="aspNetCore" path="*.core" verb="*" modules="AspNetCoreModule"
           resourceType="Unspecified" />
      <add name="PageHandlerFactory-Integrated" path="*.aspx" verb="GET,HEAD,POST,DEBUG"
           type="System.Web.UI.PageHandlerFactory" />
      <add name="ASPClassic" path="*.asp" verb="GET,HEAD,POST" modules="IsapiModule"
           scriptProcessor="C:\\Windows\\system32\\inetsrv\\asp.dll" resourceType="File" />
      <add name="CGI-exe" path="*.exe" verb="*" modules="CgiModule" resourceType="File" />
      <add name="StaticFile" path="*" verb="*"
           modules="StaticFileModule,DefaultDocumentModule,DirectoryListingModule"
           resourceType="Either" requireAccess="Read" />
    </handlers>
    <staticContent>
      <mimeMap fileExtension=".aspx" mimeType="text/plain" />
      <mimeMap fileExtension=".html" mimeType="text/html" />
    </staticContent>"""


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)


def test(t):
    srv = t.server(pools={"A": {}}, web_server_xml=HANDLERS)
    content = srv.content_dir("A")
    for name in ("page.aspx", "default.asp", "tool.exe"):
        write(os.path.join(content, name), "<?php echo 'secret source'; ?>\n")
    srv.start()

    cases = [("/missing.core", "aspNetCore", "AspNetCoreModule"),
             ("/app.core", "aspNetCore", "AspNetCoreModule"),
             ("/page.aspx", "PageHandlerFactory-Integrated", "ManagedPipelineHandler"),
             ("/default.asp", "ASPClassic", "IsapiModule")]
    for path, handler, module in cases:
        for method in ("GET", "POST"):
            r = wasptest.http_request(srv.port, path, host=srv.host("A"), method=method,
                                      body=b"" if method == "POST" else None)
            check(r.status == 500, "%s %s: %r %r" % (method, path, r, r.body))
            check(b"secret source" not in r.body, "%s: the source was served" % path)
            if method == "GET":
                want = 'Handler "%s" has a bad module "%s" in its module list' % (handler,
                                                                                 module)
                check(b"500.21" in r.body and want.encode() in r.body,
                      "%s: %r" % (path, r.body))
    r = wasptest.http_request(srv.port, "/tool.exe", host=srv.host("A"))
    check(r.status == 404 and b"404.2" in r.body and b"secret source" not in r.body,
          "tool.exe: %r %r" % (r, r.body))
    r = srv.get("/index.html", pool="A")
    check(r.status == 200 and r.body == b"pool A\n", "a static file %r %r" % (r, r.body))


wasptest.main(test)
