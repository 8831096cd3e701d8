"""webLimits maxConnectionsPerClient: one client address cannot hold more
than that many connections in the listener (here 5 unfinished request
heads from 127.0.0.1: the sixth is closed unanswered), while another
address (127.0.0.2) is still served; once one of the first address's
connections goes, that address is served again. Connections a worker
serves are not counted: keep-alive clients beyond the limit are fine."""
import os
import socket

import wasptest
from wasptest import check, wait_until, TIME_SCALE

LIMIT = 5


def connect(port, source):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(10 * TIME_SCALE)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def get(port, source):
    s = connect(port, source)
    s.sendall(b"GET /index.html HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
    chunks = []
    while True:
        b = s.recv(65536)
        if not b:
            break
        chunks.append(b)
    s.close()
    return wasptest.parse_status(b"".join(chunks))


def test(t):
    try:
        s = socket.socket()
        s.bind(("127.0.0.2", 0))
        s.close()
    except OSError:
        wasptest.skip("127.0.0.2 is not a loopback address here")
    content = os.path.join(t.dir, "content-a")
    os.makedirs(content)
    os.chmod(content, 0o755)
    with open(os.path.join(content, "index.html"), "w") as f:
        f.write("pool A\n")
    os.chmod(os.path.join(content, "index.html"), 0o644)
    srv = t.server(pools={"A": {}},
                   sites=[{"name": "a", "id": 1, "bindings": ["*:{port}:a.test"],
                           "apps": [{"path": "/", "pool": "A", "physicalPath": content}]}])
    srv.config_text = srv.config_text.replace(
        "  </system.applicationHost>",
        '    <webLimits maxConnectionsPerClient="%d" />\n  </system.applicationHost>' % LIMIT)
    srv.start()
    port = srv.port
    check(get(port, "127.0.0.1") == 200, "first request")

    # Keep-alive connections a worker serves do not count.
    kas = [srv.keepalive(pool="A") for _ in range(LIMIT + 3)]
    for k in kas:
        r = k.get("/index.html", host="a.test")
        check(r.status == 200, "keep-alive client %r" % r)

    holders = []
    for _ in range(LIMIT):
        h = connect(port, "127.0.0.1")
        h.sendall(b"GET /index.html HTTP/1.1\r\n")
        holders.append(h)
    # The next one from that address is closed without an answer; the
    # first LIMIT may take a moment to be accepted, so try until one is cut.
    def cut():
        s = connect(port, "127.0.0.1")
        s.sendall(b"GET /index.html HTTP/1.1\r\n")
        s.settimeout(0.5 * TIME_SCALE)
        try:
            return s.recv(100) == b""
        except socket.timeout:
            holders.append(s)
            return False
        except ConnectionResetError:
            return True
        finally:
            if s not in holders:
                s.close()
    wait_until(cut, 10, what="a connection over maxConnectionsPerClient closed")
    check(len(holders) == LIMIT, "%d connections held before the limit" % len(holders))
    srv.wait_log("holds maxConnectionsPerClient (%d) connections already" % LIMIT)

    # Another address is served.
    check(get(port, "127.0.0.2") == 200, "127.0.0.2 while 127.0.0.1 is at its limit")
    # The first one again, once one of its connections went.
    holders.pop(0).close()
    wait_until(lambda: get(port, "127.0.0.1") == 200, 10,
               what="127.0.0.1 served after one of its connections closed")
    for h in holders:
        h.close()
    for k in kas:
        k.close()


wasptest.main(test)
