"""HttpLoggingModule: each site's W3C extended log, read back with a small
W3C parser as a log analyser would: <directory>/W3SVC<id>/u_exYYMMDD.log
(UTC), the #Software/#Version/#Date/#Fields header block before the first
entry, the fields logExtFileFlags selects in IIS's order, '+' for spaces,
'-' for empty values, sc-substatus (404.8 from a hidden segment, 404.3
from an extension without a MIME type), exact
sc-bytes and cs-bytes, time-taken; httpLogging dontLog and
selectiveLogging per URL (<location>); logFile enabled="false"; no field
selected; a directory that cannot be created is a warning, not a failure; lines
still buffered when the server stops reach the file."""
import calendar
import glob
import os
import socket
import time
import wasptest
from wasptest import check, wait_until, read_text

ALL_FLAGS = ("Date, Time, ClientIP, UserName, SiteName, ComputerName, ServerIP, "
             "Method, UriStem, UriQuery, HttpStatus, Win32Status, BytesSent, "
             "BytesRecv, TimeTaken, ServerPort, UserAgent, Cookie, Referer, "
             "ProtocolVersion, Host, HttpSubStatus")
IIS_ORDER = ["date", "time", "s-sitename", "s-computername", "s-ip", "cs-method",
             "cs-uri-stem", "cs-uri-query", "s-port", "cs-username", "c-ip",
             "cs-version", "cs(User-Agent)", "cs(Cookie)", "cs(Referer)", "cs-host",
             "sc-status", "sc-substatus", "sc-win32-status", "sc-bytes", "cs-bytes",
             "time-taken"]


def parse_w3c(text):
    """(directives, entries): entries are dicts by the #Fields in effect.
    Fails on an entry before any #Fields or with the wrong column count."""
    directives = []
    entries = []
    fields = None
    for line in text.split("\n"):
        if not line:
            continue
        if line.startswith("#"):
            name, _, value = line[1:].partition(": ")
            directives.append((name, value))
            if name == "Fields":
                fields = value.split(" ")
            continue
        check(fields is not None, "entry before #Fields: %r" % line)
        cols = line.split(" ")
        check(len(cols) == len(fields), "%d columns for %d fields: %r"
              % (len(cols), len(fields), line))
        entries.append(dict(zip(fields, cols)))
    return directives, entries


def test(t):
    logdir = os.path.join(t.dir, "logs")
    os.makedirs(logdir)
    os.chmod(logdir, 0o755)  # root's when run as root: waspd gives W3SVC<id> to the pool
    notadir = os.path.join(t.dir, "plainfile")
    with open(notadir, "w") as f:
        f.write("x\n")

    srv = t.server(pools={"A": {}, "B": {}, "C": {}, "D": {}})
    content = srv.content_dir("A")
    for sub in ("quiet", "errs"):
        os.makedirs(os.path.join(content, sub))
        os.chmod(os.path.join(content, sub), 0o755)
        with open(os.path.join(content, sub, "index.html"), "w") as f:
            f.write("x\n")
        os.chmod(os.path.join(content, sub, "index.html"), 0o644)
    with open(os.path.join(content, "a b.txt"), "w") as f:
        f.write("spaced\n")
    os.chmod(os.path.join(content, "a b.txt"), 0o644)
    srv.content_dir("B")
    srv.content_dir("C")
    srv.content_dir("D")
    cfg = srv.config_text
    # site A logs every field; B has logging off; C cannot create its
    # directory; D selects no field
    cfg = cfg.replace("    </sites>",
                      "      <siteDefaults>\n        <logFile directory=%s logExtFileFlags=\"%s\" />\n"
                      "      </siteDefaults>\n    </sites>" % (wasptest.quoteattr(logdir), ALL_FLAGS))
    parts = cfg.split("</bindings>\n")
    check(len(parts) == 5, "four sites expected")
    cfg = (parts[0] + "</bindings>\n" +
           parts[1] + "</bindings>\n        <logFile enabled=\"false\" />\n" +
           parts[2] + "</bindings>\n        <logFile directory=%s />\n"
           % wasptest.quoteattr(os.path.join(notadir, "logs")) +
           parts[3] + "</bindings>\n        <logFile logExtFileFlags=\"\" />\n" + parts[4])
    cfg = cfg.replace("</configuration>",
                      "  <location path=\"A/quiet\">\n    <system.webServer>\n"
                      "      <httpLogging dontLog=\"true\" />\n    </system.webServer>\n"
                      "  </location>\n"
                      "  <location path=\"A/errs\">\n    <system.webServer>\n"
                      "      <httpLogging selectiveLogging=\"LogError\" />\n"
                      "    </system.webServer>\n  </location>\n</configuration>")
    srv.config_text = cfg
    srv.start()
    host = srv.host("A")
    before = int(time.time())

    # one request whose bytes both ways we count exactly
    req = (b"GET /index.html?a=1&b=two%%20words HTTP/1.1\r\nHost: %s\r\n"
           b"User-Agent: Test Agent/1.0\r\nReferer: http://ref.test/p q\r\n"
           b"Cookie: k=v; k2=v2\r\nConnection: close\r\n\r\n" % host.encode())
    resp = srv.raw(req)
    check(resp.startswith(b"HTTP/1.1 200"), "index: %r" % resp[:100])
    r = srv.get("/nope.html", pool="A")
    check(r.status == 404, "nope %r" % r)
    r = srv.get("/web.config", pool="A")
    check(r.status == 404, "web.config %r" % r)
    with open(os.path.join(content, "data.nomimetype"), "w") as f:
        f.write("x\n")
    os.chmod(os.path.join(content, "data.nomimetype"), 0o644)
    r = srv.get("/data.nomimetype", pool="A")
    check(r.status == 404, "no mime type %r" % r)
    r = srv.get("/a%20b.txt", pool="A")
    check(r.status == 200 and r.body == b"spaced\n", "space %r" % r)
    r = srv.get("/__wasp_test/sleep?ms=300", pool="A")
    r = srv.get("/index.html", pool="A", method="POST", body=b"x" * 1000)
    check(r.status == 405, "POST %r" % r)
    # not logged: dontLog, and a success where only errors are logged
    check(srv.get("/quiet/index.html", pool="A").status == 200, "quiet")
    check(srv.get("/errs/index.html", pool="A").status == 200, "errs ok")
    check(srv.get("/errs/missing.html", pool="A").status == 404, "errs 404")
    # the last one, so that every line before it is in once it is
    check(srv.get("/index.html?marker", pool="A").status == 200, "marker")
    for p in ("B", "C", "D"):
        check(srv.get("/index.html", pool=p).status == 200, "site %s" % p)

    site_dir = os.path.join(logdir, "W3SVC1")
    # The worker writes within a second of the request; wait for the
    # marker (no sleeping).
    def logged():
        files = glob.glob(os.path.join(site_dir, "u_ex*.log"))
        return files if any("marker" in read_text(f) for f in files) else None
    files = wait_until(logged, 10, what="the marker request in site 1's log")
    after = int(time.time())
    names = sorted(os.path.basename(f) for f in files)
    expected = sorted({time.strftime("u_ex%y%m%d.log", time.gmtime(s))
                       for s in range(before, after + 1)})
    check(names == expected or set(names) <= set(expected),
          "log file names %r, expected %r (UTC days)" % (names, expected))
    text = "".join(read_text(os.path.join(site_dir, n)) for n in names)
    directives, entries = parse_w3c(text)
    for f in names:  # every file begins with its header block
        lines = read_text(os.path.join(site_dir, f)).split("\n")
        check(lines[0].startswith("#Software: ") and lines[1] == "#Version: 1.0" and
              lines[2].startswith("#Date: ") and lines[3].startswith("#Fields: "),
              "%s starts with %r" % (f, lines[:4]))
        time.strptime(lines[2][len("#Date: "):], "%Y-%m-%d %H:%M:%S")
    fields = [v for k, v in directives if k == "Fields"][-1].split(" ")
    check(fields == IIS_ORDER, "#Fields %r" % fields)

    by_stem = {}
    for e in entries:
        by_stem.setdefault((e["cs-uri-stem"], e["cs-uri-query"]), []).append(e)
    stems = [(e["cs-uri-stem"], e["cs-uri-query"]) for e in entries]
    check(("/quiet/index.html", "-") not in stems, "dontLog was logged: %r" % stems)
    check(("/errs/index.html", "-") not in stems, "LogError logged a 200: %r" % stems)
    check(("/errs/missing.html", "-") in stems, "LogError missed a 404: %r" % stems)
    check(stems[-1] == ("/index.html", "marker"), "marker not last: %r" % stems)

    e = by_stem[("/index.html", "a=1&b=two%20words")][0]
    check(e["s-sitename"] == "W3SVC1", "s-sitename %r" % e)
    check(e["s-computername"] == socket.gethostname().replace(" ", "+"), "computer %r" % e)
    check(e["s-ip"] == "127.0.0.1" and e["c-ip"] == "127.0.0.1", "ips %r" % e)
    check(e["s-port"] == str(srv.port), "port %r" % e)
    check(e["cs-method"] == "GET" and e["cs-version"] == "HTTP/1.1", "method %r" % e)
    check(e["cs-username"] == "-", "username %r" % e)
    check(e["cs(User-Agent)"] == "Test+Agent/1.0", "UA %r" % e)
    check(e["cs(Referer)"] == "http://ref.test/p+q", "referer %r" % e)
    check(e["cs(Cookie)"] == "k=v;+k2=v2", "cookie %r" % e)
    check(e["cs-host"] == host, "host %r" % e)
    check(e["sc-status"] == "200" and e["sc-substatus"] == "0" and
          e["sc-win32-status"] == "0", "status %r" % e)
    check(e["sc-bytes"] == str(len(resp)), "sc-bytes %s, client got %d" % (e["sc-bytes"], len(resp)))
    check(e["cs-bytes"] == str(len(req)), "cs-bytes %s, client sent %d" % (e["cs-bytes"], len(req)))
    stamp = calendar.timegm(time.strptime(e["date"] + " " + e["time"], "%Y-%m-%d %H:%M:%S"))
    check(before - 1 <= stamp <= after + 1, "date/time %s %s not UTC now" % (e["date"], e["time"]))
    check(e["time-taken"].isdigit(), "time-taken %r" % e)

    e = by_stem[("/nope.html", "-")][0]
    check((e["sc-status"], e["sc-substatus"]) == ("404", "0"), "404.0 %r" % e)
    e = by_stem[("/web.config", "-")][0]
    check((e["sc-status"], e["sc-substatus"]) == ("404", "8"), "404.8 %r" % e)
    e = by_stem[("/data.nomimetype", "-")][0]
    check((e["sc-status"], e["sc-substatus"]) == ("404", "3"), "404.3 %r" % e)
    check(by_stem[("/a+b.txt", "-")][0]["sc-status"] == "200", "space in the stem")
    e = by_stem[("/__wasp_test/sleep", "ms=300")][0]
    check(int(e["time-taken"]) >= 300, "time-taken %s for a 300 ms request" % e["time-taken"])
    e = [x for x in by_stem[("/index.html", "-")] if x["cs-method"] == "POST"][0]
    # the body counts (read by a module or discarded before the response)
    check(e["sc-status"] == "405" and int(e["cs-bytes"]) > 1000, "POST %r" % e)

    # site C: its directory cannot be created; a warning, requests fine
    srv.wait_log("W3SVC3")
    srv.wait_log("site 4: logExtFileFlags selects no field")
    # a last line still in the buffer when the server stops reaches the file
    check(srv.get("/index.html?at-stop", pool="A").status == 200, "at-stop")
    check(srv.stop() == 0, "waspd exit status")
    check(any("at-stop" in read_text(os.path.join(site_dir, n))
              for n in os.listdir(site_dir)), "the last line was lost at stop")
    # site B: logFile enabled="false"
    check(not os.path.exists(os.path.join(logdir, "W3SVC2")), "site 2 logged")
    check(not os.path.exists(os.path.join(logdir, "W3SVC4")), "site 4 logged")


wasptest.main(test)
