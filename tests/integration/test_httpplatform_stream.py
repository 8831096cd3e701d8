"""Streaming through httpPlatform: a long-polling response reaches the
client piece by piece (the first piece before the backend produced the
last); 100 MiB up and 100 MiB down pass with the worker's peak resident
memory grown by a few MiB at most, a client that stops reading holding the
backend back; stdoutLogEnabled writes the backend's output to
stdoutLogFile_<date>_<pid>.log."""
import glob
import hashlib
import os
import socket

import fcgitest
import hptest
import wasptest
from wasptest import check

MIB = 1 << 20
SIZE = 100 * MIB


def test(t):
    py, app = hptest.python_backend(t)
    logs = os.path.join(t.dir, "logs")
    os.makedirs(logs)
    os.chmod(logs, 0o777)
    xml = hptest.web_server_xml("httpPlatform", py, app, attrs={
        "stdoutLogEnabled": "true", "stdoutLogFile": os.path.join(logs, "out")})
    srv = wasptest.Server(t, pools={"A": {}}, web_server_xml=xml)
    srv.start()
    host = srv.host("A")
    r = srv.get("/", pool="A")
    check(r.status == 200, "%r %r" % (r, r.body[:300]))
    pid = srv.worker_pids("A")[0]

    # stdoutLogFile: the backend's output
    files = wasptest.wait_until(lambda: glob.glob(os.path.join(logs, "out_*_%d.log" % pid)),
                                what="the stdout log file")
    wasptest.wait_until(lambda: b"listening on" in open(files[0], "rb").read(),
                        what="the backend's output in %s" % files[0])

    # long polling: "first" arrives while the backend waits for our mark
    mark = os.path.join(t.dir, "mark")
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    s.sendall(("GET /poll?mark=%s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
               % (mark, host)).encode())
    f = s.makefile("rb")
    status, headers = wasptest.read_response_head(f)
    check(b" 200 " in status and headers.get("transfer-encoding") == "chunked",
          "poll head %r %r" % (status, headers))
    size = int(f.readline().strip(), 16)
    check(f.read(size) == b"first", "the first piece")
    with open(mark, "w"):
        pass
    rest = f.read()
    check(b"last" in rest and rest.endswith(b"0\r\n\r\n"), "the rest %r" % rest)
    s.close()

    base = wasptest.peak_rss_kb(pid)
    # download, the client reading slowly at first
    s, f, status, headers = wasptest.stalled_download(srv.port, "/download?n=%d" % SIZE, host,
                                                      pid, base)
    check(b" 200 " in status and headers.get("content-length") == str(SIZE),
          "download %r %r" % (status, headers))
    n, md5 = 0, hashlib.md5()
    while True:
        b = f.read(1 << 20)
        if not b:
            break
        n += len(b)
        md5.update(b)
    s.close()
    check(n == SIZE and md5.hexdigest() == hashlib.md5(b"x" * SIZE).hexdigest(),
          "download body %d" % n)

    # upload
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=60)
    s.sendall(("POST /upload HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
               "Content-Length: %d\r\n\r\n" % (host, SIZE)).encode())
    chunk = bytes(range(256)) * 4096
    md5 = hashlib.md5()
    for _ in range(SIZE // len(chunk)):
        s.sendall(chunk)
        md5.update(chunk)
    data = fcgitest.read_to_eof(s)
    check(data.startswith(b"HTTP/1.1 200") and
          data.endswith(b"%d %s" % (SIZE, md5.hexdigest().encode())), "upload %r" % data[-300:])

    grown = wasptest.peak_rss_kb(pid) - base
    wasptest.log("worker peak RSS grew by %d kB over 200 MiB proxied" % grown)
    check(grown < 8192, "the worker grew by %d kB" % grown)


wasptest.main(test)
