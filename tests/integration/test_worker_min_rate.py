"""webLimits minBytesPerSecond (here 100,000 bytes a second, so the test is
quick): a client that sends a request body, or reads a response, slower than
that is cut off after a grace second, even though it never stalls for
connectionTimeout; clients above the rate are served whole. The rate is
checked once a second, not per byte."""
import os
import socket
import time

import wasptest
from wasptest import check, wait_until, TIME_SCALE

MIN_RATE = 100000
HUGE = 12 << 20  # more than the kernel buffers (a send buffer grows to 4 MiB)


def connect(port, small=True):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if small:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10 * TIME_SCALE)
    s.connect(("127.0.0.1", port))
    return s


def read_until_closed(s, deadline):
    """Bytes read until EOF or a reset, quickly; None if still open at deadline."""
    got = 0
    s.settimeout(0.5)
    while time.monotonic() < deadline:
        try:
            b = s.recv(1 << 20)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return got
        if not b:
            return got
        got += len(b)
    return None


def test(t):
    srv = t.server(pools={"A": {}})
    srv.config_text = srv.config_text.replace(
        "  </system.applicationHost>",
        '    <webLimits minBytesPerSecond="%d" />\n  </system.applicationHost>' % MIN_RATE)
    d = srv.content_dir("A")
    with open(os.path.join(d, "huge.bin"), "wb") as f:
        f.write(os.urandom(HUGE))
    os.chmod(os.path.join(d, "huge.bin"), 0o644)
    srv.start()
    host = srv.host("A")

    # A slow reader: 10 KB a second.
    s = connect(srv.port)
    s.sendall(b"GET /huge.bin HTTP/1.1\r\nHost: %s\r\n\r\n" % host.encode())
    t0 = time.monotonic()
    cut = False
    while time.monotonic() - t0 < 15 * TIME_SCALE:
        s.recv(1000)
        if "connection too slow" in srv.read_log():
            cut = True
            break
        time.sleep(0.1)  # the client's reading pace, not synchronisation
    check(cut, "a reader at 10 KB/s was not cut off")
    got = read_until_closed(s, time.monotonic() + 10 * TIME_SCALE)
    check(got is not None and got < HUGE, "the slow reader's connection: %r bytes after" % got)
    s.close()

    # A slow body: 1 KB a second of a 1 MB body.
    s = connect(srv.port)
    s.sendall(b"POST /index.html HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n"
              % (host.encode(), 1 << 20))
    t0 = time.monotonic()
    closed = False
    s.settimeout(0.1)
    while time.monotonic() - t0 < 15 * TIME_SCALE:
        try:
            s.sendall(b"x" * 100)
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        try:
            if s.recv(65536) == b"":
                closed = True
                break
        except socket.timeout:
            pass
        except ConnectionResetError:
            closed = True
            break
    el = time.monotonic() - t0
    check(closed, "a body trickling at 1 KB/s was not cut off")
    check(el >= 1.0, "cut off after %.1f s, within the grace second" % el)
    s.close()

    # Clients above the rate are served whole: a reader that pauses 50 ms
    # after each read (the server waits for it: the file is larger than the
    # buffers) ...
    s = connect(srv.port, small=False)
    s.sendall(b"GET /huge.bin HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
              % host.encode())
    got, head = 0, b""
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        if not head:
            head = b[:100]
        got += len(b)
        time.sleep(0.05)  # the client's reading pace
    check(got > HUGE and b"200 OK" in head, "a reader above the rate: %d bytes" % got)
    s.close()
    # ... and a body at about 500 KB/s.
    s = connect(srv.port)
    body = 1 << 20
    s.sendall(b"POST /index.html HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n"
              b"Connection: close\r\n\r\n" % (host.encode(), body))
    for _ in range(body // 50000):
        s.sendall(b"x" * 50000)
        time.sleep(0.1)  # the client's sending pace
    s.sendall(b"x" * (body % 50000))
    raw = read_until_closed(s, time.monotonic() + 10 * TIME_SCALE)
    check(raw is not None and raw > 0, "a body at the rate got no answer")
    s.close()
    check(srv.alive(), "waspd died")


wasptest.main(test)
