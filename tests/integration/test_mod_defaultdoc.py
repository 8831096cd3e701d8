"""DefaultDocumentModule: a directory URL serves the first file of
defaultDocument <files> that exists, in the collection's order (IIS's
shipped list when none is configured); web.config files change the list
(mergeAppend="false": theirs come first) and turn the module off; a
directory URL without the trailing slash is redirected (301) to the slash
form with the query kept; the document is served through an internal
redirect to its URL, by its own handler (StaticFileModule here: mimeMap,
validators, HEAD; an unmapped type is 404.3 naming the document)."""
import os
import wasptest
from wasptest import check

CONFIG = """
    <defaultDocument enabled="true">
      <files>
        <clear />
        <add value="home.txt" />
        <add value="index.html" />
      </files>
    </defaultDocument>
"""


def put(root, rel, data, mode=0o644):
    path = os.path.join(root, rel)
    d = os.path.dirname(path)
    if not os.path.isdir(d):
        os.makedirs(d)
        os.chmod(d, 0o755)
    with open(path, "w") as f:
        f.write(data)
    os.chmod(path, mode)


def mkdir(root, rel):
    os.makedirs(os.path.join(root, rel))
    os.chmod(os.path.join(root, rel), 0o755)


def test(t):
    # a server without any defaultDocument section: IIS's shipped list
    plain = t.server(pools={"P": {}})
    proot = plain.content_dir("P")
    put(proot, "both/index.html", "index\n")
    put(proot, "both/Default.htm", "Default.htm first\n")
    put(proot, "iis/iisstart.htm", "iisstart\n")
    plain.start()
    r = plain.get("/both/")
    check(r.status == 200 and r.body == b"Default.htm first\n", "built-in order %r" % r)
    r = plain.get("/iis/")
    check(r.status == 200 and r.body == b"iisstart\n", "built-in list %r" % r)
    plain.stop()

    srv = t.server(pools={"A": {}}, web_server_xml=CONFIG)
    root = srv.content_dir("A")  # index.html at the root
    put(root, "two/home.txt", "home first\n")
    put(root, "two/index.html", "index second\n")
    put(root, "one/index.html", "only index\n")
    mkdir(root, "none")
    put(root, "none/other.html", "not a default document\n")
    put(root, "a b/index.html", "spaced\n")
    # web.config: its own entry comes before the inherited ones
    put(root, "own/web.config", """<configuration><system.webServer><defaultDocument>
  <files><add value="start.html" /></files>
</defaultDocument></system.webServer></configuration>""")
    put(root, "own/start.html", "start\n")
    put(root, "own/home.txt", "home\n")
    # web.config: the module off here
    put(root, "off/web.config", """<configuration><system.webServer>
  <defaultDocument enabled="false" />
</system.webServer></configuration>""")
    put(root, "off/index.html", "off index\n")
    # the document's extension is not in the mimeMap: 404.3 as for the file
    put(root, "odd/web.config", """<configuration><system.webServer><defaultDocument>
  <files><clear /><add value="page.unmapped" /></files>
</defaultDocument></system.webServer></configuration>""")
    put(root, "odd/page.unmapped", "unmapped\n")
    # a directory called like a default document is not one
    mkdir(root, "dirdoc")
    mkdir(root, "dirdoc/home.txt")
    put(root, "dirdoc/index.html", "the file\n")
    srv.start()

    r = srv.get("/")
    check(r.status == 200 and r.body == b"pool A\n", "root %r" % r)
    check(r.header("Content-Type") == "text/html" and r.header("ETag"), "via static %r" % r.headers)
    r = srv.get("/two/")
    check(r.status == 200 and r.body == b"home first\n" and
          r.header("Content-Type") == "text/plain", "configured order %r %r" % (r, r.headers))
    r = srv.get("/one/")
    check(r.status == 200 and r.body == b"only index\n", "second entry %r" % r)
    r = srv.get("/own/")
    check(r.status == 200 and r.body == b"start\n", "web.config entry first %r" % r)
    r = srv.get("/none/")
    check(r.status == 403 and b"not a default" not in r.body and
          r.header("X-Wasp-Substatus") == "14", "no document: 403.14 %r %r" % (r, r.headers))
    r = srv.get("/off/")
    check(r.status == 403 and b"off index" not in r.body, "enabled=false %r" % r)
    r = srv.get("/off/index.html")
    check(r.status == 200, "the file itself %r" % r)
    r = srv.get("/odd/")
    check(r.status == 404 and b"unmapped\n" not in r.body and r.header("X-Wasp-Substatus") == "3",
          "unmapped document %r" % r)
    r = srv.get("/dirdoc/")
    check(r.status == 200 and r.body == b"the file\n", "a directory is no document %r" % r)

    # the courtesy redirect, query kept, path encoded
    r = srv.get("/two")
    check(r.status == 301 and r.header("Location") == "/two/", "redirect %r %r" % (r, r.headers))
    r = srv.get("/two?x=1&y=a%20b")
    check(r.status == 301 and r.header("Location") == "/two/?x=1&y=a%20b",
          "redirect with query %r" % r.headers)
    r = srv.get("/a%20b")
    check(r.status == 301 and r.header("Location") == "/a%20b/", "encoded %r" % r.headers)
    r = srv.get("/a%20b/")
    check(r.status == 200 and r.body == b"spaced\n", "spaced dir %r" % r)
    r = srv.get("/off")
    check(r.status == 403, "no redirect where the module is off and listing too %r" % r)

    # conditional and HEAD requests of a default document
    r = srv.get("/two/")
    etag = r.header("ETag")
    r = srv.get("/two/", headers={"If-None-Match": etag})
    check(r.status == 304, "304 for a default document %r" % r)
    r = srv.get("/two/", method="HEAD")
    check(r.status == 200 and r.body == b"" and r.header("Content-Length") == "11",
          "HEAD %r %r" % (r, r.headers))
    r = srv.get("/two/", headers={"Range": "bytes=0-3"})
    check(r.status == 206 and r.body == b"home", "range %r" % r)


wasptest.main(test)
