"""logFile period="MaxSize" with truncateSize at IIS's minimum (1 MiB): the
site's W3C log goes to u_extend1.log, u_extend2.log, ... (IIS's names for
MaxSize), none larger than truncateSize, every request logged once and no
date-named file (localTimeRollover, which only concerns dated files, set
too: it changes nothing)."""
import glob
import os

import wasptest
from wasptest import check, wait_until, read_text

TRUNCATE = 1048576
REQUESTS = 120
AGENT = "a" * 12000  # a 12 KB log line per request: 120 of them make ~1.4 MiB


def test(t):
    logdir = os.path.join(t.dir, "logs")
    os.makedirs(logdir)
    os.chmod(logdir, 0o755)
    srv = t.server(pools={"A": {}})
    srv.config_text = srv.config_text.replace(
        "    </sites>",
        "      <siteDefaults>\n        <logFile directory=%s period=\"MaxSize\" "
        "truncateSize=\"%d\" logExtFileFlags=\"UriStem, UriQuery, UserAgent\" "
        "localTimeRollover=\"true\" />\n"
        "      </siteDefaults>\n    </sites>" % (wasptest.quoteattr(logdir), TRUNCATE))
    srv.start()
    with srv.keepalive(pool="A") as ka:
        for i in range(REQUESTS):
            r = ka.get("/index.html?n=%d" % i, headers={"User-Agent": AGENT})
            check(r.status == 200, "request %d: %r" % (i, r))
        r = ka.get("/index.html?marker")
        check(r.status == 200, "marker: %r" % r)
    site_dir = os.path.join(logdir, "W3SVC1")

    def marker():
        files = glob.glob(os.path.join(site_dir, "u_extend*.log"))
        return files if any("marker" in read_text(f) for f in files) else None
    files = wait_until(marker, 10, what="the marker request in the log")
    names = sorted(os.path.basename(f) for f in files)
    check(names == ["u_extend1.log", "u_extend2.log"], "files %r" % names)
    check(not glob.glob(os.path.join(site_dir, "u_ex[0-9]*.log")), "a date-named file")
    queries = []
    for n in names:
        path = os.path.join(site_dir, n)
        size = os.path.getsize(path)
        check(size <= TRUNCATE, "%s is %d bytes, over truncateSize" % (n, size))
        text = read_text(path)
        check(text.startswith("#Software: "), "%s starts with %r" % (n, text[:40]))
        queries += [line.split(" ")[1] for line in text.split("\n")
                    if line and not line.startswith("#")]
    check(queries == ["n=%d" % i for i in range(REQUESTS)] + ["marker"],
          "logged %d lines, not every request once in order" % len(queries))


wasptest.main(test)
