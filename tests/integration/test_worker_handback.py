"""Keep-alive hand back across pools: one site whose applications /a and /b
run in pools A and B. Requests alternating between /a and /b on ONE client
connection are each answered by their own pool's worker (X-Wasp-Pool): a
worker that sees a request for another pool hands the connection back to
the listener with the unread bytes, and routing starts again. Also with the
requests pipelined in one write, and with a request body in between."""
import os
import re
import socket
import wasptest
from wasptest import check, TIME_SCALE


def test(t):
    da = os.path.join(t.dir, "content", "A")
    db = os.path.join(t.dir, "content", "B")
    sites = [{"name": "S", "id": 1, "bindings": ["127.0.0.1:{port}:"],
              "apps": [{"path": "/", "pool": "A", "physicalPath": da},
                       {"path": "/a", "pool": "A", "physicalPath": da},
                       {"path": "/b", "pool": "B", "physicalPath": db}]}]
    srv = t.server(pools={"A": {}, "B": {}}, sites=sites)
    srv.content_dir("A")
    srv.content_dir("B")
    srv.start()

    with srv.keepalive(host="s.test") as ka:
        pids = {}
        for i in range(12):
            pool = "A" if i % 2 == 0 else "B"
            r = ka.get("/%s/index.html" % pool.lower())
            check(r.status == 200, "request %d (%s): %r" % (i, pool, r))
            check(r.pool == pool, "request %d for /%s answered by pool %r"
                  % (i, pool.lower(), r.pool))
            check(r.body == ("pool %s\n" % pool).encode(), "request %d body %r" % (i, r.body))
            pids.setdefault(pool, set()).add(r.pid)
        # a body on the way does not confuse the hand back
        r = ka.request("POST", "/b/index.html", body=b"z" * 3000)
        check(r.status == 405 and r.pool == "B", "POST to B %r" % r)
        r = ka.get("/a/index.html")
        check(r.status == 200 and r.pool == "A", "A after POST %r" % r)
        check(len(pids["A"]) == 1 and len(pids["B"]) == 1 and not (pids["A"] & pids["B"]),
              "pids %r" % pids)

    # pipelined: all requests in one write; answers in order, each from its pool
    paths = ["/a/index.html", "/b/index.html", "/b/big.bin", "/a/index.html", "/index.html",
             "/b/index.html"]
    req = b"".join(b"GET %s HTTP/1.1\r\nHost: s.test\r\n\r\n" % p.encode() for p in paths)
    req += b"GET /a/index.html HTTP/1.1\r\nHost: s.test\r\nConnection: close\r\n\r\n"
    data = srv.raw(req, timeout=20)
    pools = [m.decode() for m in re.findall(rb"\r\nX-Wasp-Pool: (\w+)\r\n", data)]
    check(pools == ["A", "B", "B", "A", "A", "B", "A"], "pipelined pools %r" % pools)
    check(data.count(b"pool A\n") == 4 and data.count(b"pool B\n") == 2, "bodies %r" % data[:300])
    check(bytes(range(256)) * 256 in data, "big.bin missing from the pipelined answers")

    # the worker's connection survives the other pool's requests: with
    # Connection: close on a B request the client sees the close after it
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10 * TIME_SCALE) as s:
        s.sendall(b"GET /a/index.html HTTP/1.1\r\nHost: s.test\r\n\r\n"
                  b"GET /b/index.html HTTP/1.1\r\nHost: s.test\r\nConnection: close\r\n\r\n"
                  b"GET /a/index.html HTTP/1.1\r\nHost: s.test\r\n\r\n")
        got = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
    pools = [m.decode() for m in re.findall(rb"\r\nX-Wasp-Pool: (\w+)\r\n", got)]
    check(pools == ["A", "B"], "after Connection: close %r" % pools)


wasptest.main(test)
