"""StaticFileModule: the staticContent mimeMap (404.3 for an extension it
does not list; merged per path through web.config), validators (ETag and
Last-Modified) and conditional requests (If-None-Match wins over
If-Modified-Since; If-Match / If-Unmodified-Since -> 412), byte ranges (one
range -> 206, several -> multipart/byteranges, none satisfiable -> 416 with
Content-Range: bytes */len, If-Range), HEAD, and clientCache
(Cache-Control / Expires, setEtag)."""
import email.utils
import os
import re
import wasptest
from wasptest import check

MIME = """
    <staticContent>
      <clientCache cacheControlMode="UseMaxAge" cacheControlMaxAge="01:00:00" />
      <mimeMap fileExtension=".txt" mimeType="text/plain" />
      <mimeMap fileExtension=".html" mimeType="text/html" />
      <mimeMap fileExtension=".bin" mimeType="application/octet-stream" />
      <mimeMap fileExtension="." mimeType="text/x-noext" />
    </staticContent>
"""

BODY = bytes(range(256)) * 40  # 10240 bytes


def put(root, rel, data, mode=0o644):
    path = os.path.join(root, rel)
    d = os.path.dirname(path)
    if not os.path.isdir(d):
        os.makedirs(d)
        os.chmod(d, 0o755)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    os.chmod(path, mode)


def parse_multipart(ctype, body):
    m = re.match(r"multipart/byteranges; boundary=(\S+)$", ctype or "")
    check(m, "multipart Content-Type %r" % ctype)
    b = ("--" + m.group(1)).encode()
    parts = []
    check(body.endswith(b + b"--\r\n"), "multipart end %r" % body[-60:])
    for chunk in body.split(b)[1:-1]:
        check(chunk.startswith(b"\r\n") and chunk.endswith(b"\r\n"), "part framing %r" % chunk[:80])
        head, _, data = chunk[2:-2].partition(b"\r\n\r\n")
        hdrs = dict(line.split(b": ", 1) for line in head.split(b"\r\n"))
        parts.append((hdrs[b"Content-Range"].decode(), hdrs[b"Content-Type"].decode(), data))
    return parts


def test(t):
    srv = t.server(pools={"A": {}}, web_server_xml=MIME)
    root = srv.content_dir("A")
    put(root, "f.bin", BODY)
    put(root, "a.txt", "hello\n")
    put(root, "page.xyz", "unmapped\n")
    put(root, "README", "no extension\n")
    # a web.config below adds .xyz, removes .txt, and turns caching off
    put(root, "sub/page.xyz", "mapped here\n")
    put(root, "sub/a.txt", "removed here\n")
    put(root, "sub/web.config", """<configuration><system.webServer><staticContent>
  <clientCache cacheControlMode="DisableCache" setEtag="false" />
  <mimeMap fileExtension=".xyz" mimeType="application/x-xyz" />
  <remove fileExtension=".txt" />
</staticContent></system.webServer></configuration>""")
    put(root, "exp/e.txt", "expires\n")
    put(root, "exp/web.config", """<configuration><system.webServer><staticContent>
  <clientCache cacheControlMode="UseExpires" httpExpires="Tue, 19 Jan 2038 03:14:07 GMT"
               cacheControlCustom="public" />
</staticContent></system.webServer></configuration>""")
    put(root, "nc/n.txt", "nocontrol\n")
    put(root, "nc/web.config", """<configuration><system.webServer><staticContent>
  <clientCache cacheControlMode="NoControl" />
</staticContent></system.webServer></configuration>""")
    srv.start()

    # ---- types, 404.3, per-path mimeMap
    r = srv.get("/a.txt")
    check(r.status == 200 and r.body == b"hello\n", "a.txt %r" % r)
    check(r.header("Content-Type") == "text/plain", "type %r" % r.headers)
    check(r.header("Accept-Ranges") == "bytes", "Accept-Ranges %r" % r.headers)
    r = srv.get("/page.xyz")
    check(r.status == 404 and b"unmapped" not in r.body and r.header("X-Wasp-Substatus") == "3",
          "unmapped extension: 404.3 %r %r" % (r, r.headers))
    r = srv.get("/README")
    check(r.status == 200 and r.header("Content-Type") == "text/x-noext",
          "'.' maps a name without extension %r %r" % (r, r.headers))
    r = srv.get("/sub/page.xyz")
    check(r.status == 200 and r.header("Content-Type") == "application/x-xyz",
          "web.config adds .xyz %r %r" % (r, r.headers))
    r = srv.get("/sub/a.txt")
    check(r.status == 404 and b"removed" not in r.body and r.header("X-Wasp-Substatus") == "3",
          "web.config removes .txt %r" % r)
    r = srv.get("/missing.txt")
    check(r.status == 404 and r.header("X-Wasp-Substatus") is None, "plain 404 %r" % r.headers)
    r = srv.get("/f.bin")
    check(r.status == 200 and r.body == BODY, "f.bin %r" % r)

    # ---- validators
    etag = r.header("ETag")
    lm = r.header("Last-Modified")
    check(etag and re.match(r'^"[0-9a-f]+:[0-9a-f]+:[0-9a-f]+"$', etag), "ETag %r" % etag)
    mtime = os.stat(os.path.join(root, "f.bin")).st_mtime
    check(lm and email.utils.parsedate_to_datetime(lm).timestamp() == int(mtime),
          "Last-Modified %r" % lm)
    check(r.header("Cache-Control") == "max-age=3600", "UseMaxAge %r" % r.headers)
    # the ETag names its file: another file of the same size and mtime (the
    # section keeps the last one formatted) has its own
    put(root, "g.bin", BODY)
    st = os.stat(os.path.join(root, "f.bin"))
    os.utime(os.path.join(root, "g.bin"), ns=(st.st_atime_ns, st.st_mtime_ns))
    g = srv.get("/g.bin")
    check(g.status == 200 and g.header("ETag") not in (None, etag),
          "g.bin's ETag %r, f.bin's %r" % (g.header("ETag"), etag))
    check(srv.get("/f.bin").header("ETag") == etag, "f.bin's ETag again")

    # ---- conditional GET
    r = srv.get("/f.bin", headers={"If-None-Match": etag})
    check(r.status == 304 and r.body == b"", "If-None-Match %r" % r)
    check(r.header("ETag") == etag and r.header("Content-Length") is None,
          "304 headers %r" % r.headers)
    r = srv.get("/f.bin", headers={"If-None-Match": '"x", W/%s' % etag})
    check(r.status == 304, "weak comparison in a list %r" % r)
    r = srv.get("/f.bin", headers={"If-None-Match": "*"})
    check(r.status == 304, "If-None-Match * %r" % r)
    r = srv.get("/f.bin", headers={"If-Modified-Since": lm})
    check(r.status == 304, "If-Modified-Since %r" % r)
    r = srv.get("/f.bin", headers={"If-Modified-Since": "Thu, 01 Jan 1998 00:00:00 GMT"})
    check(r.status == 200 and r.body == BODY, "older If-Modified-Since %r" % r)
    # If-None-Match wins: a mismatching tag means 200 whatever the date says
    r = srv.get("/f.bin", headers={"If-None-Match": '"other"', "If-Modified-Since": lm})
    check(r.status == 200 and r.body == BODY, "If-None-Match wins %r" % r)
    r = srv.get("/f.bin", headers={"If-Match": '"other"'})
    check(r.status == 412, "If-Match mismatch %r" % r)
    r = srv.get("/f.bin", headers={"If-Match": etag})
    check(r.status == 200, "If-Match match %r" % r)
    r = srv.get("/f.bin", headers={"If-Unmodified-Since": "Thu, 01 Jan 1998 00:00:00 GMT"})
    check(r.status == 412, "If-Unmodified-Since %r" % r)

    # ---- ranges
    r = srv.get("/f.bin", headers={"Range": "bytes=10-19"})
    check(r.status == 206 and r.body == BODY[10:20], "single range %r" % r)
    check(r.header("Content-Range") == "bytes 10-19/%d" % len(BODY), "Content-Range %r" % r.headers)
    check(r.header("Content-Length") == "10", "206 length %r" % r.headers)
    r = srv.get("/f.bin", headers={"Range": "bytes=-5"})
    check(r.status == 206 and r.body == BODY[-5:], "suffix range %r" % r)
    r = srv.get("/f.bin", headers={"Range": "bytes=10000-"})
    check(r.status == 206 and r.body == BODY[10000:], "open range %r" % r)
    r = srv.get("/f.bin", headers={"Range": "bytes=10200-99999"})
    check(r.status == 206 and r.body == BODY[10200:] and
          r.header("Content-Range") == "bytes 10200-10239/10240", "clamped range %r" % r)
    r = srv.get("/f.bin", headers={"Range": "bytes=0-1, 100-104,-3"})
    check(r.status == 206, "multiple ranges %r" % r)
    parts = parse_multipart(r.header("Content-Type"), r.body)
    check(parts == [("bytes 0-1/10240", "application/octet-stream", BODY[0:2]),
                    ("bytes 100-104/10240", "application/octet-stream", BODY[100:105]),
                    ("bytes 10237-10239/10240", "application/octet-stream", BODY[-3:])],
          "multipart parts %r" % (parts,))
    check(int(r.header("Content-Length")) == len(r.body), "multipart length")
    r = srv.get("/f.bin", headers={"Range": "bytes=20000-"})
    check(r.status == 416 and r.header("Content-Range") == "bytes */10240",
          "unsatisfiable %r %r" % (r, r.headers))
    r = srv.get("/f.bin", headers={"Range": "bytes=5-1"})
    check(r.status == 200 and r.body == BODY, "invalid range ignored %r" % r)
    r = srv.get("/f.bin", headers={"Range": "items=0-1"})
    check(r.status == 200 and r.body == BODY, "unknown unit ignored %r" % r)
    r = srv.get("/f.bin", headers={"Range": "bytes=0-0", "If-Range": etag})
    check(r.status == 206 and r.body == BODY[:1], "If-Range with the ETag %r" % r)
    r = srv.get("/f.bin", headers={"Range": "bytes=0-0", "If-Range": '"stale"'})
    check(r.status == 200 and r.body == BODY, "If-Range stale ETag %r" % r)
    r = srv.get("/f.bin", headers={"Range": "bytes=0-0", "If-Range": lm})
    check(r.status == 206 and r.body == BODY[:1], "If-Range with the date %r" % r)
    r = srv.get("/f.bin", headers={"Range": "bytes=0-0",
                                   "If-Range": "Thu, 01 Jan 1998 00:00:00 GMT"})
    check(r.status == 200, "If-Range old date %r" % r)

    # ---- HEAD
    r = srv.get("/f.bin", method="HEAD")
    check(r.status == 200 and r.body == b"" and r.header("Content-Length") == "10240" and
          r.header("ETag") == etag, "HEAD %r %r" % (r, r.headers))

    # ---- clientCache per path
    r = srv.get("/sub/page.xyz")
    check(r.header("Cache-Control") == "no-cache", "DisableCache %r" % r.headers)
    check(r.header("ETag") is None and r.header("Last-Modified"), "setEtag=false %r" % r.headers)
    r = srv.get("/exp/e.txt")
    check(r.header("Expires") == "Tue, 19 Jan 2038 03:14:07 GMT", "UseExpires %r" % r.headers)
    check(r.header("Cache-Control") == "public", "cacheControlCustom %r" % r.headers)
    r = srv.get("/nc/n.txt")
    check(r.status == 200 and r.header("Cache-Control") is None and r.header("Expires") is None,
          "NoControl %r" % r.headers)

    # ---- keep-alive: 304 and 206 keep the connection usable
    with srv.keepalive(pool="A") as ka:
        for _ in range(3):
            r = ka.get("/f.bin", headers={"If-None-Match": etag})
            check(r.status == 304, "keep-alive 304 %r" % r)
            r = ka.get("/f.bin", headers={"Range": "bytes=1-2"})
            check(r.status == 206 and r.body == BODY[1:3], "keep-alive 206 %r" % r)
            r = ka.get("/a.txt")
            check(r.status == 200 and r.body == b"hello\n", "keep-alive 200 %r" % r)

    # ---- a changed file gets a new validator (the cache revalidates within 1 s)
    put(root, "a.txt", "hello, changed\n")
    os.utime(os.path.join(root, "a.txt"), (1000000000, 1000000000))
    r = wasptest.wait_until(lambda: (lambda x: x if x.body == b"hello, changed\n" else None)(
        srv.get("/a.txt")), what="the changed file")
    check(r.header("Last-Modified") == "Sun, 09 Sep 2001 01:46:40 GMT", "new date %r" % r.headers)


wasptest.main(test)
