"""wasp's built-in defaults (IIS's shipped lists: hidden segments, file
extensions, the MIME map, default documents, the StaticFile handler) merge as if
applicationHost.config held them: a web.config's <remove segment="bin"/>
takes out that entry only (App_Data stays hidden), one <mimeMap> adds a type
to the built-in map (.html is still served as text/html), and <clear/>
empties a list, served through a worker."""
import os
import wasptest
from wasptest import check, write_content


def webconfig(body):
    return "<configuration><system.webServer>%s</system.webServer></configuration>\n" % body


def sub(r):
    return r.header("X-Wasp-Substatus", "0")


def test(t):
    srv = t.server(pools={"A": {}}, web_server_xml="""
  </system.webServer>
  <location path="A" overrideMode="Allow">
    <system.webServer><handlers /></system.webServer>
  </location>
  <system.webServer>""")
    content = srv.content_dir("A")
    files = {
        "index.html": "root index\n",
        "rm/web.config": webconfig(
            "<security><requestFiltering><hiddenSegments><remove segment=\"bin\" />"
            "</hiddenSegments></requestFiltering></security>"),
        "rm/bin/a.txt": "bin a\n",
        "rm/App_Data/settings.json": "{\"secret\": 1}\n",
        "mime/web.config": webconfig(
            "<staticContent><mimeMap fileExtension=\".foo\" mimeType=\"text/x-foo\" />"
            "</staticContent>"),
        "mime/index.html": "mime index\n",
        "mime/a.foo": "foo\n",
        "clr/web.config": webconfig(
            "<staticContent><clear /><mimeMap fileExtension=\".txt\" mimeType=\"text/plain\" />"
            "</staticContent>"),
        "clr/a.txt": "clr a\n",
        "clr/index.html": "clr index\n",
        "h/web.config": webconfig(
            "<handlers><add name=\"TxtGet\" path=\"*.txt\" verb=\"GET\" "
            "modules=\"StaticFileModule\" /></handlers>"),
        "h/a.txt": "h a\n",
        "h/index.html": "h index\n",
        "hc/web.config": webconfig(
            "<handlers><clear /><add name=\"TxtGet\" path=\"*.txt\" verb=\"GET\" "
            "modules=\"StaticFileModule\" /></handlers>"),
        "hc/a.txt": "hc a\n",
        "hc/index.html": "hc index\n",
        "hn/web.config": webconfig("<handlers><clear /></handlers>"),
        "hn/index.html": "hn index\n",
    }
    for rel, text in files.items():
        write_content(os.path.join(content, rel), text)
    srv.start()

    def get(path):
        return srv.get(path, pool="A")

    # nothing written: the built-in lists
    r = get("/index.html")
    check(r.status == 200 and r.header("Content-Type", "").startswith("text/html"),
          "index.html %r %r" % (r, r.headers))
    r = get("/")
    check(r.status == 200 and r.body == b"root index\n", "default document %r" % r)
    for p in ("/bin/x.txt", "/App_Data/x"):
        r = get(p)
        check(r.status == 404 and sub(r) == "8", "%s %r sub %s" % (p, r, sub(r)))
    r = get("/x.mdb")
    check(r.status == 404 and sub(r) == "7", "built-in denied extension %r sub %s" % (r, sub(r)))

    # <remove segment="bin"/>: bin is served, App_Data still hidden
    r = get("/rm/bin/a.txt")
    check(r.status == 200 and r.body == b"bin a\n", "bin after remove %r" % r)
    r = get("/rm/App_Data/settings.json")
    check(r.status == 404 and sub(r) == "8" and b"secret" not in r.body,
          "App_Data after remove of bin %r sub %s" % (r, sub(r)))

    # one <mimeMap>: added to the built-in map
    r = get("/mime/a.foo")
    check(r.status == 200 and r.header("Content-Type", "").startswith("text/x-foo"),
          "added type %r %r" % (r, r.headers))
    r = get("/mime/index.html")
    check(r.status == 200 and r.header("Content-Type", "").startswith("text/html")
          and r.body == b"mime index\n", "built-in type kept %r %r" % (r, r.headers))

    # <clear/> then one entry: only that one
    r = get("/clr/a.txt")
    check(r.status == 200 and r.body == b"clr a\n", "after clear %r" % r)
    r = get("/clr/index.html")
    check(r.status == 404 and sub(r) == "3", "cleared map %r sub %s" % (r, sub(r)))


    # one <handlers> entry: added before the built-in StaticFile entry,
    # which still serves the rest
    r = get("/h/a.txt")
    check(r.status == 200 and r.body == b"h a\n", "added handler %r" % r)
    r = get("/h/index.html")
    check(r.status == 200 and r.body == b"h index\n", "built-in handler kept %r" % r)
    r = get("/h/")
    check(r.status == 200 and r.body == b"h index\n", "default document kept %r" % r)
    # <clear/> then one entry: nothing else has a handler (404.4)
    r = get("/hc/a.txt")
    check(r.status == 200 and r.body == b"hc a\n", "handler after clear %r" % r)
    r = get("/hc/index.html")
    check(r.status == 404 and sub(r) == "4", "cleared handlers %r sub %s" % (r, sub(r)))
    r = get("/hn/index.html")
    check(r.status == 404 and sub(r) == "4" and b"hn index" not in r.body,
          "no handler at all %r sub %s" % (r, sub(r)))


wasptest.main(test)
