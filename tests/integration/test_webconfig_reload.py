"""web.config files take effect per request path, and an edited, new or
deleted web.config is seen by the next requests without a restart (the
worker's config cache re-checks the files at most once a second), in the
same worker process, <modules> included (the application's pipeline is
rebuilt). A web.config with an error is logged once, not on every
request."""
import os
import time
import wasptest
from wasptest import check, wait_until, replace_file


def default_doc(name):
    return ("<configuration><system.webServer><defaultDocument enabled=\"true\"><files>"
            "<clear /><add value=\"%s\" /></files></defaultDocument>"
            "</system.webServer></configuration>\n" % name)


def test(t):
    srv = t.server(pools={"A": {}})
    content = srv.content_dir("A")
    sub = os.path.join(content, "sub")
    os.makedirs(sub)
    os.chmod(sub, 0o755)
    for d in (content, sub):
        for name in ("a.html", "b.html"):
            replace_file(os.path.join(d, name), "%s in %s\n" % (name, os.path.basename(d)))
    replace_file(os.path.join(content, "web.config"), default_doc("a.html"))
    srv.start()

    r = srv.get("/", pool="A")
    check(r.status == 200 and r.body == b"a.html in A\n", "first %r %r" % (r, r.body))
    pid = r.pid
    # the sub directory inherits the root's web.config
    r = srv.get("/sub/", pool="A")
    check(r.body == b"a.html in sub\n", "inherited %r %r" % (r, r.body))

    # edit the root's web.config: seen within a second or so
    start = time.monotonic()
    replace_file(os.path.join(content, "web.config"), default_doc("b.html"))
    wait_until(lambda: srv.get("/", pool="A").body == b"b.html in A\n", 10,
               what="the edited web.config to take effect")
    took = time.monotonic() - start
    check(took < 3 * wasptest.TIME_SCALE, "took %.1fs" % took)
    # each cached path re-checks its files on its own one-second clock, so
    # /sub/ may still answer from its entry for up to that long
    wait_until(lambda: srv.get("/sub/", pool="A").body == b"b.html in sub\n", 10,
               what="the edited web.config to take effect under /sub/")
    took = time.monotonic() - start
    check(took < 3 * wasptest.TIME_SCALE, "/sub/ took %.1fs" % took)
    r = srv.get("/sub/", pool="A")
    check(r.body == b"b.html in sub\n" and r.pid == pid, "sub after edit %r %r" % (r, r.body))

    # a new web.config in the sub directory overrides the root's there only
    replace_file(os.path.join(sub, "web.config"), default_doc("a.html"))
    wait_until(lambda: srv.get("/sub/", pool="A").body == b"a.html in sub\n", 10,
               what="the new web.config to take effect")
    check(srv.get("/", pool="A").body == b"b.html in A\n", "the root changed too")

    # deleted: the root's applies again
    os.unlink(os.path.join(sub, "web.config"))
    wait_until(lambda: srv.get("/sub/", pool="A").body == b"b.html in sub\n", 10,
               what="the deleted web.config to stop applying")

    # a broken web.config: logged once, however many requests see it
    replace_file(os.path.join(sub, "web.config"),
          "<configuration><system.webServer><directoryBrowse enabled=\"maybe\" />"
          "</system.webServer></configuration>\n")
    marker = os.path.join(sub, "web.config") + ":"
    wait_until(lambda: srv.get("/sub/", pool="A") and marker in srv.read_log(), 10,
               what="the broken web.config to be reported")
    for _ in range(5):
        srv.get("/sub/", pool="A")
    n = srv.read_log().count(marker)
    check(n == 1, "the broken web.config was reported %d times" % n)
    check(srv.get("/", pool="A").pid == pid, "the worker was replaced")

    # <modules> from a web.config (where a <location> allows it): the
    # application's pipeline is rebuilt when its effective <modules>
    # changes, in the same worker
    srv2 = t.server(pools={"B": {}}, web_server_xml="""
    <modules>
      <add name="StaticFileModule" />
      <add name="DefaultDocumentModule" />
    </modules>
  </system.webServer>
  <location path="B" overrideMode="Allow">
    <system.webServer>
      <modules>
        <add name="DirectoryListingModule" />
      </modules>
    </system.webServer>
  </location>
  <system.webServer>""")
    content_b = srv2.content_dir("B")
    srv2.start()
    r = srv2.get("/", pool="B")
    check(r.status == 200 and r.body == b"pool B\n", "default document %r %r" % (r, r.body))
    pid = r.pid
    replace_file(os.path.join(content_b, "web.config"),
          "<configuration><system.webServer><modules><remove name=\"DefaultDocumentModule\" />"
          "</modules></system.webServer></configuration>\n")
    wait_until(lambda: srv2.get("/", pool="B").status != 200, 10,
               what="the web.config's <modules> to take effect")
    r = srv2.get("/index.html", pool="B")
    check(r.status == 200 and r.pid == pid, "static file without DefaultDocumentModule %r" % r)
    os.unlink(os.path.join(content_b, "web.config"))
    wait_until(lambda: srv2.get("/", pool="B").body == b"pool B\n", 10,
               what="DefaultDocumentModule to come back")


wasptest.main(test)
