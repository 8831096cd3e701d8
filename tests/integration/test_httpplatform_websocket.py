"""WebSockets through httpPlatform: an Upgrade: websocket request reaches
the backend as one, its 101 switches the client's connection to a tunnel
that carries messages both ways (a 1 MiB one through the bounded buffers)
until the close; a pool recycled meanwhile leaves the open tunnel on its
old worker, still working, until it closes; with webSocket enabled="false"
the backend sees a plain request."""
import os
import socket

import hptest
import wasptest
from wasptest import check
from wstest import close, echo, handshake


def test(t):
    py, app = hptest.python_backend(t)
    xml = hptest.web_server_xml("httpPlatform", py, app)
    srv = wasptest.Server(t, pools={"A": {}, "B": {}}, web_server_xml=xml)
    wasptest.write_content(os.path.join(srv.content_dir("B"), "web.config"), """
<configuration><system.webServer><webSocket enabled="false" /></system.webServer></configuration>
""")
    srv.start()
    host = srv.host("A")

    s, _ = handshake(srv.port, host)
    echo(s, b"hello")
    big = os.urandom(1 << 20)
    echo(s, big, opcode=2)
    close(s)

    # a recycle leaves an open tunnel on the old worker
    s, _ = handshake(srv.port, host)
    echo(s, b"before")
    old = srv.worker_pids("A")
    srv.waspctl("recycle", "apppool", "A")
    r = wasptest.wait_until(lambda: (lambda r: r.status == 200 and r.pid not in old and r)(
        srv.get("/", pool="A")), what="a request served by A's new worker")
    check(set(old) <= set(srv.worker_pids("A")), "the old worker went with a tunnel open")
    echo(s, b"after the recycle")
    close(s)
    wasptest.wait_until(lambda: not set(old) & set(srv.worker_pids("A")),
                        what="the old worker to go once its tunnel closed")

    # webSocket enabled="false": no Upgrade reaches the backend
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    s.sendall(("GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\nSec-WebSocket-Version: 13\r\n"
               "\r\n" % srv.host("B")).encode())
    data = b""
    while not data.endswith(b"no upgrade"):
        x = s.recv(65536)
        check(x, "ended: %r" % data)
        data += x
    check(data.startswith(b"HTTP/1.1 200"), "disabled %r" % data)
    s.close()


wasptest.main(test)
