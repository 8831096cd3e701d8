"""queueLength: connections for a pool whose worker never becomes ready
(test hook WASP_TEST_HANG_STARTUP) wait in the pool's queue; those over
queueLength get 503 with Retry-After at once, the others keep waiting. The
metrics show the queue's length and the 503s as queue full."""
import select
import socket
import time

import wasptest
from wasptest import check, wait_until, TIME_SCALE
from metricstest import metrics, value

QUEUE = 10
EXTRA = 5


def test(t):
    srv = t.server(pools={
        "A": {"queueLength": QUEUE, "processModel": {"startupTimeLimit": "00:01:00"}},
        "B": {},
    }, env={"WASP_TEST_HANG_STARTUP": "A"}).start()
    req = b"GET /index.html HTTP/1.1\r\nHost: %s\r\n\r\n" % srv.host("A").encode()
    socks = []
    try:
        for _ in range(QUEUE + EXTRA):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10 * TIME_SCALE)
            s.sendall(req)
            socks.append(s)
        answered = {}

        def poll():
            r, _, _ = select.select([s for s in socks if s not in answered], [], [], 0.1)
            for s in r:
                try:
                    answered[s] = s.recv(65536)
                except ConnectionResetError:
                    answered[s] = b"<RST>"
            return len(answered) >= EXTRA
        wait_until(poll, 10, what="%d connections answered" % EXTRA)
        # Give a wrong extra answer the time to show up, bounded.
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            poll()
        check(len(answered) == EXTRA, "%d answered, expected %d" % (len(answered), EXTRA))
        for s, raw in answered.items():
            check(wasptest.parse_status(raw) == 503, "over queueLength: %r" % raw[:200])
            check(b"Retry-After:" in raw, "503 without Retry-After: %r" % raw[:300])
        # The other pool is not affected.
        r = srv.get(pool="B")
        check(r.status == 200 and r.pool == "B", "pool B %r" % r)
        wait_until(lambda: value(metrics(srv), "wasp_pool_queue_length", pool="A") == QUEUE
                   and value(metrics(srv), "wasp_listener_rejected_total",
                             reason="503_queue_full") == EXTRA,
                   what="the queue's length and the queue-full 503s in the metrics")
        m = metrics(srv)
        check(value(m, "wasp_pool_unavailable_total", pool="A") == EXTRA, "A's 503s")
        check(value(m, "wasp_pool_queue_length", pool="B") == 0, "B's queue")
    finally:
        for s in socks:
            s.close()


wasptest.main(test)
