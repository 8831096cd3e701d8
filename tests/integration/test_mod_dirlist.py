"""DirectoryListingModule: directoryBrowse enabled lists a directory that has
no default document (IIS's layout: [To Parent Directory], then the showFlags
columns and a link per entry); names HTML-escaped in the text and
percent-encoded in the hrefs; hidden names (dot files, hiddenSegments) and
symbolic links that leave the root are not listed; showFlags Date, Time,
Size, Extension, LongDate; disabled (the default, or by web.config) with no
default document: 403.14 (checked in the W3C log's sc-substatus); the
slash redirect."""
import glob
import os
import re
import time
import wasptest
from wasptest import check, wait_until

CONFIG = """
    <directoryBrowse enabled="true" />
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


def flags_config(flags):
    return ('<configuration><system.webServer><directoryBrowse showFlags="%s" />'
            '</system.webServer></configuration>' % flags)


def links(body):
    """[(href, text)] of the listing's links."""
    return re.findall(r'<A HREF="([^"]*)">([^<]*)</A>', body.decode())


def test(t):
    logdir = os.path.join(t.dir, "logs")
    os.makedirs(logdir)
    os.chmod(logdir, 0o1777)
    srv = t.server(pools={"A": {}}, web_server_xml=CONFIG)
    root = srv.content_dir("A")
    os.unlink(os.path.join(root, "index.html"))  # so that / is listed
    put(root, "list/b.txt", "bbbbb\n")
    put(root, "list/A.html", "<p>a</p>\n")
    put(root, "list/a&b<c>\"q'.txt", "odd\n")
    put(root, "list/caf\u00e9 bar.txt", "utf-8\n")
    put(root, "list/.hidden", "dot\n")
    put(root, "list/web.config", "<configuration />\n")
    mkdir(root, "list/bin")
    mkdir(root, "list/sub dir")
    put(root, "list/sub dir/x.txt", "x\n")
    secret = os.path.join(t.dir, "secret.txt")
    with open(secret, "w") as f:
        f.write("secret\n")
    os.symlink(secret, os.path.join(root, "list", "outside.txt"))
    os.symlink("b.txt", os.path.join(root, "list", "inside.txt"))
    put(root, "flags1/web.config", flags_config("Size"))
    put(root, "flags1/f.txt", "12345678\n")
    put(root, "flags2/web.config", flags_config("LongDate, Time, Extension"))
    put(root, "flags2/f.txt", "x\n")
    put(root, "flags3/web.config", flags_config("Date"))
    put(root, "flags3/f.txt", "x\n")
    put(root, "closed/web.config", """<configuration><system.webServer>
  <directoryBrowse enabled="false" /></system.webServer></configuration>""")
    put(root, "closed/f.txt", "x\n")
    os.utime(os.path.join(root, "flags2", "f.txt"), (1700000000, 1700000000))
    srv.config_text = srv.config_text.replace(
        "    </sites>",
        "      <siteDefaults>\n        <logFile directory=%s logExtFileFlags=\"UriStem, "
        "HttpStatus, HttpSubStatus\" />\n      </siteDefaults>\n    </sites>"
        % wasptest.quoteattr(logdir))
    srv.start()

    r = srv.get("/list/")
    check(r.status == 200 and r.header("Content-Type") == "text/html; charset=utf-8",
          "listing %r %r" % (r, r.headers))
    body = r.body.decode()
    check("<title>a.test - /list/</title>" in body, "title %r" % body[:200])
    got = links(r.body)
    check(got == [
        ("/", "[To Parent Directory]"),
        ("/list/a%26b%3Cc%3E%22q%27.txt", "a&amp;b&lt;c&gt;&quot;q&#39;.txt"),
        ("/list/A.html", "A.html"),
        ("/list/b.txt", "b.txt"),
        ("/list/caf%C3%A9%20bar.txt", "caf\u00e9 bar.txt"),
        ("/list/inside.txt", "inside.txt"),
        ("/list/sub%20dir/", "sub dir"),
    ], "entries %r" % (got,))
    for bad in (".hidden", "web.config", "bin", "outside", "<c>"):
        check(bad not in body, "%r must not be listed: %r" % (bad, body))
    # default showFlags: date, time, size (or <dir>), extension
    check(re.search(r'\d+/\d+/\d{4} +\d+:\d\d [AP]M +6 <A HREF="/list/b.txt">', body),
          "date time size columns %r" % body)
    check(re.search(r'[AP]M +&lt;dir&gt; <A HREF="/list/sub%20dir/">', body), "<dir> %r" % body)
    # the links work
    r = srv.get("/list/caf%C3%A9%20bar.txt")
    check(r.status == 200 and r.body == b"utf-8\n", "href of an encoded name %r" % r)
    r = srv.get("/list/sub%20dir/")
    check(r.status == 200 and links(r.body)[0] == ("/list/", "[To Parent Directory]") and
          ("/list/sub%20dir/x.txt", "x.txt") in links(r.body), "sub dir %r" % r.body)
    r = srv.get("/")
    check(r.status == 200 and ("/list/", "list") in links(r.body) and
          "[To Parent Directory]" not in r.body.decode(), "root listing %r" % r.body)

    # showFlags
    b1 = srv.get("/flags1/").body.decode()
    check(re.search(r'<br> +9 <A HREF="/flags1/f.txt">f</A>', b1) and "M " not in b1 and
          "/20" not in b1, "Size only, no extension: %r" % b1)
    b2 = srv.get("/flags2/").body.decode()
    day = time.strftime("%A, %B ", time.localtime(1700000000))
    check(day in b2 and re.search(r"\d:\d\d [AP]M", b2) and ">f.txt</A>" in b2,
          "LongDate, Time, Extension: %r" % b2)
    b3 = srv.get("/flags3/").body.decode()
    check(re.search(r'\d+/\d+/\d{4} <A HREF="/flags3/f.txt">f</A>', b3) and
          not re.search(r"[AP]M", b3), "Date only: %r" % b3)

    # the slash redirect, listing disabled: 403.14, HEAD
    r = srv.get("/list?q=1")
    check(r.status == 301 and r.header("Location") == "/list/?q=1", "redirect %r" % r.headers)
    r = srv.get("/closed/")
    check(r.status == 403 and b"f.txt" not in r.body, "disabled %r" % r)
    r = srv.get("/list/", method="HEAD")
    check(r.status == 200 and r.body == b"" and int(r.header("Content-Length")) > 100,
          "HEAD %r" % r)
    check(srv.get("/marker.txt").status == 404, "marker")

    def logged():
        for f in glob.glob(os.path.join(logdir, "W3SVC1", "u_ex*.log")):
            with open(f) as fh:
                text = fh.read()
            if "/marker.txt" in text:
                return text
        return None
    text = wait_until(logged, 10, what="the marker in the W3C log")
    check(re.search(r"^/closed/ 403 14$", text, re.M), "sc-substatus 14: %r" % text)


wasptest.main(test)
