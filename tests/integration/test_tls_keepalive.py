"""Keep-alive through the TLS relay: responses the relay writes as more
than one TLS record (a file over its 16 KiB buffer) follow each other
without waiting for the client's delayed ACK (the relay's TCP socket has
TCP_NODELAY: with Nagle, each took 40 ms). 30 requests of a 20 KiB file
on one connection take well under 30 x 40 ms."""
import os
import time

import tlstest
import wasptest
from wasptest import check

N = 30
SIZE = 20000


def test(t):
    tlstest.require_openssl()
    srv = tlstest.https_server(t)
    body = os.urandom(SIZE)
    path = os.path.join(srv.content_dir("A"), "20k.bin")
    with open(path, "wb") as f:
        f.write(body)
    os.chmod(path, 0o644)
    srv.start()
    with tlstest.connect(srv.port, sni="s.test") as s:
        st, _, b = tlstest.request(s, "/20k.bin", "s.test", close=False)  # the worker starts
        check(st == 200 and b == body, "first: %d, %d bytes" % (st, len(b)))
        t0 = time.monotonic()
        for i in range(N):
            st, _, b = tlstest.request(s, "/20k.bin", "s.test", close=False)
            check(st == 200 and b == body, "request %d: %d, %d bytes" % (i, st, len(b)))
        took = time.monotonic() - t0
    wasptest.log("%d keep-alive requests of %d bytes over TLS: %.0f ms" % (N, SIZE, took * 1000))
    check(took < N * 0.040 / 2, "%d requests took %.0f ms (Nagle against delayed ACKs?)"
          % (N, took * 1000))


wasptest.main(test)
