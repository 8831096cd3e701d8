"""wasp-worker serves static files over HTTP/1.1: GET and HEAD, keep-alive
with several requests on one connection, pipelining (several requests in
one write, answered in order), request bodies (Content-Length and chunked,
read and discarded), Expect: 100-continue, HTTP/1.0, directories, errors;
and path traversal never reaches a file outside the content directory."""
import os
import re
import socket
import wasptest
from wasptest import check, parse_status, TIME_SCALE


def statuses_of(data):
    """Status codes of the responses in a raw byte stream, in order."""
    return [int(m) for m in re.findall(rb"HTTP/1\.[01] (\d\d\d) ", data)]


def read_responses(sock, n, timeout=10.0):
    """Read n complete responses (Content-Length framed) from sock."""
    sock.settimeout(timeout * TIME_SCALE)
    buf = b""
    out = []
    while len(out) < n:
        while b"\r\n\r\n" not in buf:
            b = sock.recv(65536)
            check(b, "connection closed after %d responses: %r" % (len(out), buf[:200]))
            buf += b
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            headers[k.strip().lower().decode()] = v.strip().decode()
        length = int(headers.get("content-length", "0"))
        if status in (100, 204, 304):
            length = 0
        while len(rest) < length:
            b = sock.recv(65536)
            check(b, "connection closed inside a body")
            rest += b
        out.append((status, headers, rest[:length]))
        buf = rest[length:]
    return out, buf


def test(t):
    srv = t.server(pools={"A": {}})
    content = srv.content_dir("A")
    with open(os.path.join(content, "a.txt"), "w") as f:
        f.write("aaa\n")
    os.makedirs(os.path.join(content, "sub"))
    with open(os.path.join(content, "sub", "index.html"), "w") as f:
        f.write("sub index\n")
    os.makedirs(os.path.join(content, "empty"))
    with open(os.path.join(content, "web.config"), "w") as f:
        f.write("<configuration><!-- secret --></configuration>\n")
    os.makedirs(os.path.join(content, "bin"))
    with open(os.path.join(content, "bin", "app.dll"), "w") as f:
        f.write("MZ\n")
    secret = os.path.join(t.dir, "secret.txt")
    with open(secret, "w") as f:
        f.write("TOP SECRET\n")
    os.symlink(secret, os.path.join(content, "escape"))
    os.symlink("..", os.path.join(content, "updir"))
    for p in (content, os.path.join(content, "sub"), os.path.join(content, "empty"),
              os.path.join(content, "bin")):
        os.chmod(p, 0o755)
    for p in (os.path.join(content, "a.txt"), os.path.join(content, "sub", "index.html"),
              os.path.join(content, "web.config"), os.path.join(content, "bin", "app.dll")):
        os.chmod(p, 0o644)
    srv.start()
    host = srv.host("A")

    # never web.config or bin/ (IIS hiddenSegments), whatever the case
    for p in ("/web.config", "/Web.Config", "/bin/app.dll", "/BIN/"):
        r = srv.get(p, pool="A")
        check(r.status == 404 and b"<configuration" not in r.body and b"MZ" not in r.body,
              "%s: %r" % (p, r))

    # GET and HEAD
    r = srv.get("/index.html", pool="A")
    check(r.status == 200 and r.body == b"pool A\n", "GET %r" % r)
    check(r.header("Content-Type", "").startswith("text/html"), "type %r" % r.headers)
    check(r.header("Date") and r.header("Server"), "Date/Server %r" % r.headers)
    r = srv.get("/big.bin", pool="A")
    check(r.status == 200 and r.body == bytes(range(256)) * 256, "big.bin %r" % r)
    r = srv.get("/index.html", pool="A", method="HEAD")
    check(r.status == 200 and r.body == b"" and r.header("Content-Length") == "7",
          "HEAD %r %r" % (r, r.headers))
    r = srv.get("/nope.html", pool="A")
    check(r.status == 404, "missing file %r" % r)
    r = srv.get("/sub/", pool="A")
    check(r.status == 200 and r.body == b"sub index\n", "directory index %r" % r)
    r = srv.get("/sub", pool="A")
    check(r.status == 301 and r.header("Location") == "/sub/", "redirect %r %r" % (r, r.headers))
    r = srv.get("/empty/", pool="A")
    # DirectoryListingModule, browsing off (the default): 403.14 as IIS
    check(r.status == 403, "directory without index %r" % r)
    r = srv.get("/index.html", pool="A", method="DELETE")
    check(r.status == 405 and "GET" in r.header("Allow", ""), "DELETE %r" % r)

    # keep-alive: several requests, one connection, one worker
    with srv.keepalive(pool="A") as ka:
        pids = set()
        for i in range(10):
            r = ka.get("/a.txt" if i % 2 else "/index.html")
            check(r.status == 200, "keep-alive request %d: %r" % (i, r))
            pids.add(r.pid)
        r = ka.request("POST", "/a.txt", body=b"x" * 10000)
        check(r.status == 405, "POST with a body %r" % r)
        r = ka.get("/a.txt")
        check(r.status == 200 and r.body == b"aaa\n", "after a body %r" % r)
        check(len(pids) == 1, "one connection, several workers: %r" % pids)

    # pipelining: one write, responses in order
    reqs = b"".join(b"GET /%s HTTP/1.1\r\nHost: %s\r\n\r\n" % (p, host.encode())
                    for p in (b"a.txt", b"index.html", b"nope", b"a.txt"))
    reqs += b"HEAD /a.txt HTTP/1.1\r\nHost: %s\r\n\r\n" % host.encode()
    reqs += b"GET /index.html HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host.encode()
    data = srv.raw(reqs)
    statuses = statuses_of(data)
    check(statuses == [200, 200, 404, 200, 200, 200], "pipelined statuses %r" % statuses)
    # (the status line: "404" alone can stand in an ETag, which is hex)
    check(data.index(b"aaa\n") < data.index(b"pool A\n") < data.index(b"HTTP/1.1 404 "),
          "pipelined responses out of order: %r" % data)
    check(data.count(b"aaa\n") == 2, "HEAD sent a body, or a response is missing: %r" % data)

    # chunked request body, then the next request on the same connection
    body = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"
    data = srv.raw(b"POST /a.txt HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\n%s"
                   b"GET /a.txt HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                   % (host.encode(), body, host.encode()))
    check(data.startswith(b"HTTP/1.1 405") and data.rstrip().endswith(b"aaa"),
          "chunked body then GET: %r" % data)

    # Expect: 100-continue to a handler that does not read the body: the
    # final status at once, no 100 Continue, and the connection closes (the
    # 100 Continue for a module that reads it: test_module_api)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10 * TIME_SCALE) as s:
        s.sendall(b"PUT /a.txt HTTP/1.1\r\nHost: %s\r\nContent-Length: 4\r\n"
                  b"Expect: 100-continue\r\n\r\n" % host.encode())
        out, rest = read_responses(s, 1)
        check(out[0][0] == 405 and not rest, "PUT with 100-continue %r %r" % (out, rest))
        check(s.recv(4096) == b"", "the connection stays open after an unread body")

    # HTTP/1.0: one response, then close
    data = srv.raw(b"GET /a.txt HTTP/1.0\r\nHost: %s\r\n\r\nGET /a.txt HTTP/1.0\r\n\r\n"
                   % host.encode())
    check(parse_status(data) == 200 and data.count(b"aaa\n") == 1, "HTTP/1.0 %r" % data)

    # a malformed request: the parser's status, then close
    data = srv.raw(b"GET /a.txt HTTP/1.1\r\nHost: %s\r\n\r\n"
                   b"GET /a.txt HTTP/1.1\r\nHost: %s\r\nBad Header: x\r\n\r\n" % (host.encode(), host.encode()))
    check(data.startswith(b"HTTP/1.1 200") and b"HTTP/1.1 400" in data, "bad header %r" % data)

    # path traversal: 400 or 404, never the secret
    attempts = [b"/../secret.txt", b"/%2e%2e/secret.txt", b"/%2E%2E%2Fsecret.txt",
                b"/sub/..%2f..%2fsecret.txt", b"/..%5csecret.txt", b"/escape",
                b"/updir/secret.txt", b"/sub/../../secret.txt", b"/%c0%ae%c0%ae/secret.txt",
                b"/%252e%252e/secret.txt", b"/a.txt%00.html", b"/./../secret.txt"]
    for a in attempts:
        # on a connection already handed to the worker (the listener's own
        # checks do not see it)
        data = srv.raw(b"GET /a.txt HTTP/1.1\r\nHost: %s\r\n\r\nGET %s HTTP/1.1\r\nHost: %s\r\n"
                       b"Connection: close\r\n\r\n" % (host.encode(), a, host.encode()))
        statuses = statuses_of(data)
        check(b"TOP SECRET" not in data, "%r served the secret: %r" % (a, data))
        check(len(statuses) >= 1 and statuses[0] == 200, "%r: first request %r" % (a, data))
        check(len(statuses) < 2 or statuses[1] in (400, 404), "%r answered %r" % (a, statuses))


wasptest.main(test)
