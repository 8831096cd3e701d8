"""Path safety: nothing outside a virtual directory's physical path is ever
served. The URL is decoded and normalised once by the worker, and files are
opened beneath the virtual directory root: "..", %2e%2e, %2f and %5c,
backslashes, NUL, overlong UTF-8, double escaping, and symbolic links that
leave the root are each refused; staticContent's allowSymbolicLinksOutsideRoot
(set in applicationHost.config, here for one <location>) lets links leave
it, and the same switch in a web.config is ignored."""
import os
import wasptest
from wasptest import check, parse_status

SECRET = b"TOP SECRET\n"


def put(root, rel, data, mode=0o644):
    path = os.path.join(root, rel)
    d = os.path.dirname(path)
    if not os.path.isdir(d):
        os.makedirs(d)
        os.chmod(d, 0o755)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def test(t):
    srv = t.server(pools={"A": {}})
    root = srv.content_dir("A")
    host = srv.host("A").encode()
    # outside the content directory, readable by the pool's identity
    put(t.dir, "secret.txt", SECRET)
    put(t.dir, "outdir/o.txt", SECRET)
    put(root, "a.txt", b"inside\n")
    put(root, "sub/s.txt", b"sub\n")
    put(root, "%2e%2e/x.txt", b"a directory literally named %2e%2e\n")
    # links: out of the root (absolute, relative, to a directory), inside it
    os.symlink(os.path.join(t.dir, "secret.txt"), os.path.join(root, "escape.txt"))
    os.symlink("../../secret.txt", os.path.join(root, "sub", "rel.txt"))
    os.symlink("..", os.path.join(root, "updir"))
    os.symlink(os.path.join(t.dir, "outdir"), os.path.join(root, "outlink"))
    os.symlink("a.txt", os.path.join(root, "inlink.txt"))
    os.symlink("sub", os.path.join(root, "subln"))
    os.symlink(os.path.join(root, "a.txt"), os.path.join(root, "absinlink.txt"))
    os.symlink(os.path.join(root, "sub"), os.path.join(root, "absinsub"))
    os.symlink(os.path.join(root, "..", "secret.txt"), os.path.join(root, "absout.txt"))
    # where applicationHost.config allows links out, and a web.config that tries
    os.makedirs(os.path.join(root, "open"))
    os.chmod(os.path.join(root, "open"), 0o755)
    os.symlink(os.path.join(t.dir, "secret.txt"), os.path.join(root, "open", "escape.txt"))
    os.symlink(os.path.join(t.dir, "outdir"), os.path.join(root, "open", "outlink"))
    put(root, "tenant/web.config", b"""<configuration><system.webServer>
  <staticContent allowSymbolicLinksOutsideRoot="true" />
</system.webServer></configuration>""")
    os.symlink(os.path.join(t.dir, "secret.txt"), os.path.join(root, "tenant", "escape.txt"))
    srv.config_text = srv.config_text.replace(
        "</configuration>",
        "  <location path=\"A/open\">\n    <system.webServer>\n"
        "      <staticContent allowSymbolicLinksOutsideRoot=\"true\" />\n"
        "    </system.webServer>\n  </location>\n</configuration>")
    srv.start()

    def raw(target):
        data = srv.raw(b"GET " + target + b" HTTP/1.1\r\nHost: " + host +
                       b"\r\nConnection: close\r\n\r\n")
        check(SECRET not in data, "%r served the secret: %r" % (target, data))
        return parse_status(data), data

    check(raw(b"/a.txt")[0] == 200, "a plain file")
    # dot segments inside the root resolve; above the root they are refused
    st, data = raw(b"/sub/../a.txt")
    check(st == 200 and data.endswith(b"inside\n"), "dot segments inside %r" % data)
    for target in (b"/../secret.txt", b"/sub/../../secret.txt", b"/./../secret.txt",
                   b"/%2e%2e/secret.txt", b"/sub/%2E%2E/%2e%2e/secret.txt",
                   b"/.%2e/secret.txt",
                   b"/sub%2f..%2f..%2fsecret.txt", b"/..%2fsecret.txt",
                   b"/sub%5c..%5c..%5csecret.txt", b"/..%5csecret.txt",
                   b"/sub\\..\\..\\secret.txt", b"/..\\secret.txt",
                   b"/a.txt%00.html", b"/a.txt%00", b"/%00/../secret.txt",
                   b"/%c0%ae%c0%ae/secret.txt", b"/%c0%af..%c0%afsecret.txt",
                   b"/%e0%80%ae%e0%80%ae/secret.txt", b"/%c1%9c..%c1%9csecret.txt"):
        st, data = raw(target)
        check(st == 400, "%r: %r" % (target, data[:120]))
    # a raw NUL in the request line
    data = srv.raw(b"GET /a.txt\x00/../../secret.txt HTTP/1.1\r\nHost: " + host +
                   b"\r\nConnection: close\r\n\r\n")
    check(parse_status(data) == 400 and SECRET not in data, "raw NUL %r" % data[:120])
    # double escaping decodes once: %252e%252e is the literal name "%2e%2e"
    for target in (b"/%252e%252e/secret.txt", b"/sub/%252e%252e/%252e%252e/secret.txt",
                   b"/%252e%252e%252fsecret.txt", b"/%255c..%255csecret.txt"):
        st, data = raw(target)
        check(st in (400, 404), "%r: %r" % (target, data[:120]))
    # ... which is inside the root: served, or refused by requestFiltering
    # (allowDoubleEscaping="false": 404.11), never a way out
    st, data = raw(b"/%252e%252e/x.txt")
    check(st in (200, 404), "double-escaped literal name %r" % data[:80])

    # symbolic links that leave the root: as if missing
    for target in (b"/escape.txt", b"/sub/rel.txt", b"/updir/secret.txt",
                   b"/updir/outdir/o.txt", b"/outlink/o.txt", b"/outlink/",
                   b"/tenant/escape.txt", b"/absout.txt"):
        st, data = raw(target)
        check(st == 404, "%r: %r" % (target, data[:120]))
    # links that stay inside are followed
    st, data = raw(b"/inlink.txt")
    check(st == 200 and data.endswith(b"inside\n"), "link inside %r" % data)
    st, data = raw(b"/subln/s.txt")
    check(st == 200 and data.endswith(b"sub\n"), "directory link inside %r" % data)
    # ...absolute ones too
    st, data = raw(b"/absinlink.txt")
    check(st == 200 and data.endswith(b"inside\n"), "absolute link inside %r" % data)
    st, data = raw(b"/absinsub/s.txt")
    check(st == 200 and data.endswith(b"sub\n"), "absolute directory link inside %r" % data)

    # the switch, from applicationHost.config's <location>
    r = srv.get("/open/escape.txt")
    check(r.status == 200 and r.body == SECRET, "allowed link out %r" % r)
    r = srv.get("/open/outlink/o.txt")
    check(r.status == 200 and r.body == SECRET, "allowed directory link out %r" % r)
    # ... still no ".." out of the root
    st, _ = raw(b"/open/../../secret.txt")
    check(st == 400, "dot segments where links may leave")
    # ... and only there
    r = srv.get("/escape.txt")
    check(r.status == 404, "outside the <location> %r" % r)


wasptest.main(test)
