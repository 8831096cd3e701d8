"""sc-win32-status in the W3C log, as IIS fills it: 0 for a response sent
whole; 64 (ERROR_NETNAME_DELETED) when the client goes away in the middle
of a response (here: it resets the connection after reading a little of a
large file); 1236 (ERROR_CONNECTION_ABORTED) when the worker gives up on a
client that stopped reading (the site's connectionTimeout, short here).
The cut requests are logged with the bytes actually sent."""
import glob
import os
import socket
import struct

import wasptest
from wasptest import check, wait_until, TIME_SCALE, read_text

FLAGS = "Method, UriStem, UriQuery, HttpStatus, Win32Status, BytesSent"
BIG = 32 << 20


def entries(site_dir):
    out = []
    fields = None
    for f in sorted(glob.glob(os.path.join(site_dir, "u_ex*.log"))):
        for line in read_text(f).split("\n"):
            if line.startswith("#Fields: "):
                fields = line[len("#Fields: "):].split(" ")
            elif line and not line.startswith("#") and fields:
                out.append(dict(zip(fields, line.split(" "))))
    return out


def logged(site_dir, query):
    return [e for e in entries(site_dir) if e.get("cs-uri-query") == query]


def start_big(port, host, query):
    s = socket.create_connection(("127.0.0.1", port), timeout=10 * TIME_SCALE)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"GET /big.txt?%s HTTP/1.1\r\nHost: %s\r\n\r\n" % (query, host))
    got = s.recv(4096)
    check(got.startswith(b"HTTP/1.1 200"), "big file: %r" % got[:100])
    return s


def test(t):
    logdir = os.path.join(t.dir, "logs")
    os.makedirs(logdir)
    os.chmod(logdir, 0o755)
    srv = t.server(pools={"A": {}})
    content = srv.content_dir("A")
    with open(os.path.join(content, "big.txt"), "wb") as f:
        f.truncate(BIG)
    os.chmod(os.path.join(content, "big.txt"), 0o644)
    srv.config_text = srv.config_text.replace(
        "    </sites>",
        "      <siteDefaults>\n        <logFile directory=%s logExtFileFlags=\"%s\" />\n"
        "        <limits connectionTimeout=\"00:00:02\" />\n"
        "      </siteDefaults>\n    </sites>" % (wasptest.quoteattr(logdir), FLAGS))
    srv.start()
    host = srv.host("A").encode()
    site_dir = os.path.join(logdir, "W3SVC1")

    # The client resets the connection in the middle of the response.
    s = start_big(srv.port, host, b"reset")
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    # The client stops reading and keeps the connection open.
    stalled = start_big(srv.port, host, b"stalled")
    try:
        r = srv.get("/index.html?whole", pool="A")
        check(r.status == 200, "whole: %r" % r)
        e = wait_until(lambda: logged(site_dir, "reset"), 10, what="the reset request logged")[0]
        check(e["sc-status"] == "200" and e["sc-win32-status"] == "64",
              "client gone mid-response: %r" % e)
        check(0 < int(e["sc-bytes"]) < BIG, "bytes sent of a cut response: %r" % e)
        e = wait_until(lambda: logged(site_dir, "whole"), 10, what="the whole request logged")[0]
        check(e["sc-win32-status"] == "0", "a whole response: %r" % e)
        e = wait_until(lambda: logged(site_dir, "stalled"), 20,
                       what="the stalled request logged")[0]
        check(e["sc-status"] == "200" and e["sc-win32-status"] == "1236",
              "client that stopped reading: %r" % e)
        check(0 < int(e["sc-bytes"]) < BIG, "bytes sent of a cut response: %r" % e)
    finally:
        stalled.close()
    # the worker is still there and serving
    check(srv.get("/index.html", pool="A").status == 200, "served after the cuts")


wasptest.main(test)
