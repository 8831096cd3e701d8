"""Streaming through ARR: 50 MiB up and 50 MiB down pass through a rewrite
to a backend with the worker's peak resident memory grown by a few MiB at
most (the proxy engine's bounded buffers, each side's pace reaching the
other), a client that stops reading holding the backend back."""
import hashlib
import os

import arrtest
import wasptest
from wasptest import check

MIB = 1 << 20
SIZE = 50 * MIB


def test(t):
    be = arrtest.Backend(t, "one")
    srv = t.server(pools={"A": {}}, web_server_xml="""<proxy enabled="true" />
    <security><requestFiltering><requestLimits maxAllowedContentLength="100000000" />
    </requestFiltering></security>""")
    wasptest.write_content(os.path.join(srv.content_dir("A"), "web.config"),
                           arrtest.rule_xml("http://127.0.0.1:%d/{R:1}" % be.port))
    srv.start()
    host = srv.host("A")
    r = srv.get("/who", pool="A")
    check(r.status == 200 and r.body == b"one", "%r %r" % (r, r.body[:300]))
    pid = srv.worker_pids("A")[0]
    base = wasptest.peak_rss_kb(pid)

    # download, the client reading nothing at first
    s, f, status, headers = wasptest.stalled_download(srv.port, "/big?n=%d" % SIZE, host, pid,
                                                      base)
    check(b" 200 " in status and headers.get("content-length") == str(SIZE),
          "download %r %r" % (status, headers))
    n, md5, want = 0, hashlib.md5(), hashlib.md5()
    chunk = bytes(range(256)) * 256
    for _ in range(SIZE // len(chunk)):
        want.update(chunk)
    while True:
        b = f.read(MIB)
        if not b:
            break
        n += len(b)
        md5.update(b)
    s.close()
    check(n == SIZE and md5.hexdigest() == want.hexdigest(), "download body %d" % n)

    # upload
    data, digest = wasptest.post_upload(srv.port, "/upload", host, SIZE)
    check(data.startswith(b"HTTP/1.1 200") and data.endswith(b"%s %d" % (digest.encode(), SIZE)),
          "upload %r" % data[-300:])

    grown = wasptest.peak_rss_kb(pid) - base
    wasptest.log("worker peak RSS grew by %d kB over 100 MiB proxied" % grown)
    check(grown < 8192, "the worker grew by %d kB" % grown)


wasptest.main(test)
