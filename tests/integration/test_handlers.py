"""<handlers>: the first entry whose path (wildcards), verb (list or *),
resourceType (File, Directory, Either, Unspecified) and requireAccess (under
the accessPolicy of the handlers element) fit serves the request in
ExecuteRequestHandler with the modules it names; otherwise IIS's answers:
404.4 when no entry's path fits, 405 when one's path fits but not the verb,
403.1 (Script, Execute), 403.2 (Read), 403.3 (Write) when the access policy
refuses the entry that fits, 404 when the resource an entry needs is not
there. <handlers> is per path (<location> here)."""
import os
import wasptest
from wasptest import check, write_content

WEB_SERVER = """
    <directoryBrowse enabled="true" />
    <handlers accessPolicy="Read">
      <add name="TxtGetOnly" path="*.txt" verb="GET" modules="StaticFileModule"
           resourceType="File" requireAccess="Read" />
      <add name="Dirs" path="*" verb="GET" modules="DirectoryListingModule"
           resourceType="Directory" requireAccess="Read" />
      <add name="StaticFile" path="*" verb="GET,HEAD"
           modules="StaticFileModule,DefaultDocumentModule" resourceType="Either"
           requireAccess="Read" />
    </handlers>
  </system.webServer>
  <location path="A/acc">
    <system.webServer>
      <handlers>
        <clear />
        <add name="Php" path="*.php" verb="*" modules="StaticFileModule"
             requireAccess="Script" />
        <add name="Cgi" path="*.cgi" verb="*" modules="StaticFileModule"
             requireAccess="Execute" />
        <add name="Upload" path="*.up" verb="PUT, POST" modules="StaticFileModule"
             requireAccess="Write" />
        <add name="Html" path="*.html" verb="GET" modules="StaticFileModule"
             requireAccess="Read" />
      </handlers>
    </system.webServer>
  </location>
  <location path="A/acc/scripts">
    <system.webServer>
      <handlers accessPolicy="Read, Script" />
      <staticContent>
        <mimeMap fileExtension=".php" mimeType="text/plain" />
      </staticContent>
    </system.webServer>
  </location>
  <location path="A/noread">
    <system.webServer>
      <handlers accessPolicy="None" />
    </system.webServer>
  </location>
  <location path="A/only">
    <system.webServer>
      <handlers>
        <clear />
        <add name="Html" path="*.html" verb="GET" modules="StaticFileModule"
             requireAccess="Read" />
      </handlers>
    </system.webServer>
  </location>
  <system.webServer>"""


def sub(r):
    return r.header("X-Wasp-Substatus", "0")


def test(t):
    srv = t.server(pools={"A": {}}, web_server_xml=WEB_SERVER)
    content = srv.content_dir("A")
    for rel, text in (("a.txt", "aaa\n"), ("acc/x.php", "<?php ?>\n"), ("acc/x.cgi", "#!\n"),
                      ("acc/x.up", "up\n"), ("sub/index.html", "sub index\n"),
                      ("sub/other.html", "other\n"), ("acc/scripts/x.php", "script\n"),
                      ("noread/a.txt", "secret\n"), ("only/a.txt", "only a\n"),
                      ("only/index.html", "only index\n")):
        write_content(os.path.join(content, rel), text)
    srv.start()

    def get(path, method="GET"):
        return srv.get(path, pool="A", method=method)

    r = get("/a.txt")
    check(r.status == 200 and r.body == b"aaa\n", "GET a.txt %r sub %s" % (r, sub(r)))
    # the path fits (*.txt, *) but no entry takes the verb: 405
    r = get("/a.txt", "DELETE")
    check(r.status == 405, "DELETE a.txt %r" % r)
    r = get("/a.txt", "POST")
    check(r.status == 405, "POST a.txt %r" % r)
    # requireAccess beyond accessPolicy="Read" and no other entry fits:
    # 403.1, 403.1, 403.3 (an entry the policy disables is skipped, so
    # these live under /acc, which has no catch-all entry)
    r = get("/acc/x.php")
    check(r.status == 403 and sub(r) == "1", "Script %r sub %s" % (r, sub(r)))
    r = get("/acc/x.cgi")
    check(r.status == 403 and sub(r) == "1", "Execute %r sub %s" % (r, sub(r)))
    r = get("/acc/x.up", "PUT")
    check(r.status == 403 and sub(r) == "3", "Write %r sub %s" % (r, sub(r)))
    # ... and where the policy allows Script, the entry serves
    r = get("/acc/scripts/x.php")
    check(r.status == 200 and r.body == b"script\n", "Script allowed %r" % r)
    # the catch-all serves what a disabled entry would have taken (here
    # StaticFileModule, which knows no MIME type for .php: 404.3)
    write_content(os.path.join(content, "y.php"), "static php\n")
    r = get("/y.php")
    check(r.status == 404 and sub(r) == "3", "fall through %r sub %s" % (r, sub(r)))
    # no Read at all: 403.2
    r = get("/noread/a.txt")
    check(r.status == 403 and sub(r) == "2", "no Read %r sub %s" % (r, sub(r)))
    # a file an entry needs (File, Either) is missing: 404.0
    r = get("/missing.txt")
    check(r.status == 404 and sub(r) == "0", "missing %r sub %s" % (r, sub(r)))
    # resourceType Directory: the listing module (first entry for GET of a
    # directory) although it has an index; HEAD falls to StaticFile (index)
    r = get("/sub/")
    check(r.status == 200 and b"other.html" in r.body, "Dirs handler %r %r" % (r, r.body[:200]))
    r = get("/sub/", "HEAD")
    check(r.status == 200 and int(r.header("Content-Length", "0")) == len("sub index\n"),
          "HEAD of a directory %r %r" % (r, r.headers))
    # <handlers> per path: /only has just *.html
    r = get("/only/index.html")
    check(r.status == 200 and r.body == b"only index\n", "only html %r" % r)
    r = get("/only/a.txt")
    check(r.status == 404 and sub(r) == "4", "no handler %r sub %s" % (r, sub(r)))


wasptest.main(test)
