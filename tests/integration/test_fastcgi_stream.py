"""A 100 MiB upload and a 100 MiB download through FastCgiModule stream
both ways with flow control: the body goes to php-cgi as it arrives and
the response to the client as PHP writes it (chunked, with no length), and
the worker's peak resident memory grows by a few MiB at most. A client
that stops reading holds PHP back rather than growing the worker. A client
that leaves mid-download does not cost a PHP process: the rest of its
answer is drained and the process serves the next request."""
import hashlib
import socket
import time

import fcgitest
import wasptest
from wasptest import check

MIB = 1 << 20
SIZE = 100 * MIB
UPLOAD = """<?php
$h = fopen('php://input', 'r'); $n = 0; $ctx = hash_init('md5');
while (!feof($h)) { $b = fread($h, 65536); $n += strlen($b); hash_update($ctx, $b); }
echo $n, ' ', hash_final($ctx);
"""
DOWNLOAD = """<?php
$b = str_repeat(chr(65 + (int)($_GET['c'] ?? 0)), 65536);
for ($i = 0; $i < %d; $i++) echo $b;
""" % (SIZE // 65536)


def read_response(sock):
    """Status, headers, and the body decoded (chunked) as it streams."""
    f = sock.makefile("rb")
    status, headers = wasptest.read_response_head(f)
    md5, n = hashlib.md5(), 0
    check(headers.get("transfer-encoding") == "chunked", "not chunked: %r" % headers)
    while True:
        size = int(f.readline().strip(), 16)
        if size == 0:
            f.readline()
            break
        left = size
        while left:
            b = f.read(min(left, 1 << 20))
            check(b, "the body ended early")
            md5.update(b)
            n += len(b)
            left -= len(b)
        f.readline()
    return status, headers, n, md5.hexdigest()


def test(t):
    php = fcgitest.php_cgi()
    args = "-d enable_post_data_reading=0 -d post_max_size=0 -d output_buffering=0"
    xml = fcgitest.web_server_xml(php, app_attrs={"maxInstances": 1}, arguments=args)
    srv = wasptest.Server(t, pools={"A": {}}, web_server_xml=xml)
    fcgitest.write_php(srv, "A", "up.php", UPLOAD)
    fcgitest.write_php(srv, "A", "down.php", DOWNLOAD)
    srv.start()
    host = srv.host("A")
    r = srv.get("/index.html", pool="A")  # the worker, before any FastCGI request
    check(r.status == 200, "%r" % r)
    pid = srv.worker_pids("A")[0]
    base = wasptest.peak_rss_kb(pid)
    r = wasptest.http_request(srv.port, "/down.php?c=1", host=host, timeout=60)
    check(r.status == 200 and len(r.body) == SIZE, "first %r %r" % (r, r.body[:900]))

    # download, read slowly at first: PHP must wait, not the worker buffer
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.sendall(("GET /down.php?c=2 HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
               % host).encode())
    time.sleep(0.5)  # noqa: not synchronisation: a client that lags
    check(wasptest.peak_rss_kb(pid) - base < 8192, "a stalled client grew the worker: %d -> %d kB"
          % (base, wasptest.peak_rss_kb(pid)))
    status, headers, n, digest = read_response(s)
    s.close()
    check(b"200" in status and n == SIZE, "download %r %d" % (status, n))
    check(digest == hashlib.md5(b"C" * SIZE).hexdigest(), "download body differs")

    # upload
    data, digest = wasptest.post_upload(srv.port, "/up.php", host, SIZE)
    check(b" 200 " in data.split(b"\r\n")[0], "upload %r" % data[:200])
    body = data.split(b"\r\n\r\n", 1)[1]
    check(b"%d %s" % (SIZE, digest.encode()) in body, "upload body %r" % body[:200])

    # a client that leaves mid-download: php-cgi's answer is drained and
    # the same process serves the next request
    fcgitest.write_php(srv, "A", "pid.php", "<?php echo getmypid();\n")
    php_pid = int(srv.get("/pid.php", pool="A").body)
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.sendall(("GET /down.php?c=3 HTTP/1.1\r\nHost: %s\r\n\r\n" % host).encode())
    check(len(s.recv(65536)) > 0, "no response")
    s.close()
    srv.wait_log("FastCGI process %d: the rest of an abandoned answer drained, the process "
                 "stays" % php_pid, timeout=30)
    check(int(srv.get("/pid.php", pool="A").body) == php_pid, "another php-cgi")

    grown = wasptest.peak_rss_kb(pid) - base
    wasptest.log("worker peak RSS grew by %d kB over 300 MiB streamed" % grown)
    check(grown < 8192, "the worker grew by %d kB" % grown)


wasptest.main(test)
