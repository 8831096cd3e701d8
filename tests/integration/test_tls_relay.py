"""The TLS relay: a 100 MiB download and a 100 MiB upload (to a CGI
script, which sees HTTPS=on) through the listener, whose peak resident
memory stays within a few MiB (one buffer per direction, backpressure
both ways); the W3C log's s-port is the TLS port; garbage instead of a
ClientHello and a handshake that stalls are closed (the stall within
the header timeout), and the server keeps serving."""
import os
import socket
import time

import cgitest
import tlstest
import wasptest
from wasptest import check

MIB = 1 << 20
SIZE = 100 * MIB
RSS_LIMIT_KB = 8192


def download(port, path):
    with tlstest.connect(port, sni="s.test", timeout=60) as s:
        s.sendall(("GET %s HTTP/1.1\r\nHost: s.test\r\nConnection: close\r\n\r\n"
                   % path).encode())
        f = s.makefile("rb")
        status, headers = wasptest.read_response_head(f)
        n = 0
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            n += len(b)
        return status, headers, n


def closed_within(port, data, limit):
    """Send data (maybe nothing) on a plain TCP connection and wait for the
    server to close it: the seconds it took (fails past limit)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=limit)
    t0 = time.monotonic()
    if data:
        s.sendall(data)
    try:
        while s.recv(4096):
            pass
    except socket.timeout:
        check(False, "not closed within %.0f s after %r" % (limit, data[:16]))
    except OSError:
        pass
    s.close()
    return time.monotonic() - t0


def test(t):
    tlstest.require_openssl()
    py = cgitest.python3()
    srv = tlstest.https_server(
        t, web_server_xml=cgitest.web_server_xml(py),
        apphost_xml='    <webLimits headerWaitTimeout="00:00:02" />\n')
    cgitest.write_script(t, srv, "A", "up.py", cgitest.UPLOAD_PY)
    with open(os.path.join(srv.content_dir("A"), "big100.bin"), "wb") as f:
        f.truncate(SIZE)
    os.chmod(os.path.join(srv.content_dir("A"), "big100.bin"), 0o644)
    srv.start()
    port = srv.port

    st, _, body, _ = tlstest.get(port, "/index.html", "s.test", sni="s.test")
    check(st == 200 and body == b"pool A\n", "%d %r" % (st, body))
    lpid = srv.listener_pids()[0]
    base = wasptest.peak_rss_kb(lpid)

    status, headers, n = download(port, "/big100.bin")
    check(b" 200 " in status and n == SIZE, "download: %r %d bytes" % (status, n))
    data, digest = wasptest.post_upload(
        port, "/up.py", "s.test", SIZE,
        connect=lambda: tlstest.connect(port, sni="s.test", timeout=60))
    check(data.startswith(b"HTTP/1.1 200") and
          b"%d %s %d HTTPS=on" % (SIZE, digest.encode(), SIZE) in data, "upload: %r" % data[-200:])
    grown = wasptest.peak_rss_kb(lpid) - base
    wasptest.log("listener peak RSS %d kB before, grew by %d kB over 100 MiB each way"
                 % (base, grown))
    check(grown < RSS_LIMIT_KB, "the listener grew by %d kB" % grown)

    # garbage instead of a ClientHello: closed at once
    took = closed_within(port, b"GET / HTTP/1.1\r\nHost: s.test\r\n\r\n", 10)
    check(took < 1.5, "garbage closed after %.1f s" % took)
    took = closed_within(port, os.urandom(4096), 10)
    check(took < 1.5, "random bytes closed after %.1f s" % took)
    # a handshake that stalls (nothing, or half a record): the header timeout (2 s)
    for data in (b"", b"\x16\x03\x01\x02\x00\x01"):
        took = closed_within(port, data, 15)
        check(1.5 < took < 8, "a stalled handshake (%r) closed after %.1f s" % (data, took))
    st, _, _, _ = tlstest.get(port, "/index.html", "s.test", sni="s.test")
    check(st == 200, "after the bad clients: %d" % st)
    srv.wait_log("TLS handshake failed: Timer_SslHandshake")

    # the W3C log: s-port is the TLS port
    def logged():
        d = os.path.join(t.dir, "logs", "LogFiles", "W3SVC1")
        for name in os.listdir(d) if os.path.isdir(d) else ():
            text = open(os.path.join(d, name)).read()
            if "/big100.bin" in text:
                return text
        return None
    text = wasptest.wait_until(logged, what="the W3C log line of the download")
    fields = [ln for ln in text.splitlines() if ln.startswith("#Fields:")][-1].split()[1:]
    line = [ln for ln in text.splitlines() if "/big100.bin" in ln][-1].split()
    check(line[fields.index("s-port")] == str(port), "s-port %r" % line[fields.index("s-port")])


wasptest.main(test)
