"""A 20 MiB upload goes to a CGI script's stdin as it arrives, and its 20
MiB response streams to the client as the script
writes it (chunked, no length), the worker reading its stdout only while
the client takes the bytes: the worker's peak resident memory grows by a
few MiB at most, and a client that stops reading holds the script back. A
client that goes away mid-response ends the process."""
import hashlib
import os
import re
import socket
import time

import cgitest
import wasptest
from wasptest import check

MIB = 1 << 20
SIZE = 20 * MIB
DOWN_PY = r"""import os, sys
sys.stdout.buffer.write(b"Content-Type: application/octet-stream\r\n\r\n")
b = bytes([65 + int(os.environ.get("QUERY_STRING") or 0)]) * 65536
for i in range(%d):
    sys.stdout.buffer.write(b)
sys.stdout.buffer.flush()
""" % (SIZE // 65536)
# it outlives its stdout's end: only being ended ends it
ENDLESS_PY = r"""import os, sys, time
sys.stdout.buffer.write(b"Content-Type: text/plain\r\n\r\n")
sys.stderr.write("endless pid %d\n" % os.getpid())
sys.stderr.flush()
try:
    while True:
        sys.stdout.buffer.write(b"x" * 65536)
except OSError:
    pass
while True:
    time.sleep(1)
"""


def read_chunked(f):
    md5, n = hashlib.md5(), 0
    while True:
        size = int(f.readline().strip(), 16)
        if size == 0:
            f.readline()
            return n, md5.hexdigest()
        left = size
        while left:
            b = f.read(min(left, MIB))
            check(b, "the body ended early")
            md5.update(b)
            n += len(b)
            left -= len(b)
        f.readline()


def test(t):
    py = cgitest.python3()
    srv = wasptest.Server(t, pools={"A": {}}, web_server_xml=cgitest.web_server_xml(py))
    cgitest.write_script(t, srv, "A", "down.py", DOWN_PY)
    cgitest.write_script(t, srv, "A", "endless.py", ENDLESS_PY)
    cgitest.write_script(t, srv, "A", "up.py", cgitest.UPLOAD_PY)
    srv.start()
    host = srv.host("A")
    r = srv.get("/index.html", pool="A")
    check(r.status == 200, "%r" % r)
    wpid = srv.worker_pids("A")[0]
    base = wasptest.peak_rss_kb(wpid)

    # a client that lags at first, then reads it all
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=60)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.sendall(("GET /down.py?2 HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
               % host).encode())
    time.sleep(0.5)  # noqa: not synchronisation: a client that lags
    check(wasptest.peak_rss_kb(wpid) - base < 8192, "a stalled client grew the worker: %d -> %d kB"
          % (base, wasptest.peak_rss_kb(wpid)))
    f = s.makefile("rb")
    status, headers = wasptest.read_response_head(f)
    check(b" 200 " in status and headers.get("transfer-encoding") == "chunked",
          "%r %r" % (status, headers))
    n, digest = read_chunked(f)
    s.close()
    check(n == SIZE and digest == hashlib.md5(b"C" * SIZE).hexdigest(), "body: %d bytes" % n)

    # a 20 MiB upload goes to stdin as it arrives
    data, digest = wasptest.post_upload(srv.port, "/up.py", host, SIZE)
    check(data.startswith(b"HTTP/1.1 200")
          and b"%d %s %d" % (SIZE, digest.encode(), SIZE) in data, "upload %r" % data[-200:])

    grown = wasptest.peak_rss_kb(wpid) - base
    wasptest.log("worker peak RSS grew by %d kB over a 20 MiB CGI response and upload"
                 % grown)
    check(grown < 8192, "the worker grew by %d kB" % grown)

    # a client that goes away mid-response: the process is ended
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    s.sendall(("GET /endless.py HTTP/1.1\r\nHost: %s\r\n\r\n" % host).encode())
    check(s.recv(65536).startswith(b"HTTP/1.1 200"), "endless: no head")
    found = lambda: re.search(r"endless pid (\d+)", srv.read_log())  # noqa: E731
    wasptest.wait_until(found, what="the script's pid in the log")
    pid = int(found().group(1))
    check(os.path.exists("/proc/%d" % pid), "the script is not running")
    s.close()
    wasptest.wait_until(lambda: not os.path.exists("/proc/%d" % pid), timeout=10,
                        what="CGI process %d ended after its client went away" % pid)
    r = srv.get("/index.html", pool="A")
    check(r.status == 200, "%r" % r)


wasptest.main(test)
