"""webLimits connectionTimeout applies to a site that sets no limits
connectionTimeout of its own (HTTP.sys's server-wide timer): here 2 s, with
minBytesPerSecond 0 so that only the timeout acts. An idle keep-alive
connection is closed after it, and so is a request body that stalls (the
EntityBody timer: each arrival of body bytes gives another interval)."""
import socket
import time

import wasptest
from wasptest import check, TIME_SCALE


def closed_after(s, limit):
    """Seconds until the server closed s (EOF or reset); fails after limit."""
    t0 = time.monotonic()
    s.settimeout(limit * TIME_SCALE)
    try:
        while s.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except socket.timeout:
        check(False, "still open after %.1f s" % limit)
    return time.monotonic() - t0


def test(t):
    srv = t.server(pools={"A": {}})
    srv.config_text = srv.config_text.replace(
        "  </system.applicationHost>",
        '    <webLimits connectionTimeout="00:00:02" minBytesPerSecond="0" />\n'
        "  </system.applicationHost>")
    srv.start()
    host = srv.host("A").encode()

    # an idle keep-alive connection
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10 * TIME_SCALE)
    s.sendall(b"GET /index.html HTTP/1.1\r\nHost: %s\r\n\r\n" % host)
    check(b"200 OK" in s.recv(65536), "first response")
    el = closed_after(s, 20)
    check(1.5 <= el <= 6, "idle connection closed after %.1f s" % el)
    s.close()

    # a body that stops: some bytes, then a second, more bytes, then nothing
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10 * TIME_SCALE)
    s.sendall(b"POST /index.html HTTP/1.1\r\nHost: %s\r\nContent-Length: 1000\r\n\r\n%s"
              % (host, b"x" * 10))
    time.sleep(1.0)  # the client's pace: a pause shorter than the timeout
    s.sendall(b"x" * 10)
    t0 = time.monotonic()
    el = closed_after(s, 20)
    check(1.5 <= el <= 6, "stalled body closed %.1f s after its last bytes" % el)
    check(time.monotonic() - t0 >= 1.5, "closed too early")
    s.close()
    check(srv.alive(), "waspd died")


wasptest.main(test)
