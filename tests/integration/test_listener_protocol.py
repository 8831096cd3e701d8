"""wasp-http against a fake activator and fake workers (no waspd): the
adapter protocol of docs/adapter-protocol.md, message by message.

Routing (400 for no binding), HANDOFF contents (site, application path, the
bytes read, the fd), 503 for a stopped pool and a full queue, a reset for a
TcpLevel pool, POOL_DEMAND once until a worker arrives, the queue drained to
a new worker, an unacknowledged handoff routed again when its worker's
channel closes, HANDBACK routed again without reading more, WORKER_GONE,
POOL_STATE, startupTimeLimitMs, a new generation, and exit when the
activator channel closes."""
import os
import socket
import struct
import sys
import time

import wasptest
from wasptest import check, wait_until, TIME_SCALE
import lsnfake
from lsnfake import STARTED, STOPPED


def table(port, **over):
    pools = [
        {"id": 0, "name": "A", "state": "Started", "queueLength": 2,
         "startupTimeLimitMs": 60000},
        {"id": 1, "name": "B", "state": "Started", "maxProcesses": 2},
        {"id": 2, "name": "C", "state": "Stopped"},
        {"id": 3, "name": "D", "state": "Stopped", "loadBalancerCapabilities": "TcpLevel"},
        {"id": 4, "name": "E", "state": "Started", "startupTimeLimitMs": 1000},
        {"id": 5, "name": "F", "state": "Started"},
    ]
    sites = [
        {"id": 1, "name": "a", "bindings": [{"protocol": "http", "address": "127.0.0.1",
                                             "port": port, "host": "a.test"}],
         "apps": [{"path": "/", "pool": 0}, {"path": "/b", "pool": 1}]},
        {"id": 2, "name": "c", "bindings": [{"protocol": "http", "address": "*",
                                             "port": port, "host": "c.test"}],
         "apps": [{"path": "/", "pool": 2}]},
        {"id": 3, "name": "d", "bindings": [{"protocol": "http", "address": "*",
                                             "port": port, "host": "d.test"}],
         "apps": [{"path": "/", "pool": 3}]},
        {"id": 4, "name": "e", "bindings": [{"protocol": "http", "address": "*",
                                             "port": port, "host": "e.test"}],
         "apps": [{"path": "/", "pool": 4}]},
        {"id": 6, "name": "f", "bindings": [{"protocol": "http", "address": "*",
                                             "port": port, "host": "f.test"}],
         "apps": [{"path": "/", "pool": 5}], "maxConnections": 1},
    ]
    t = {"sockets": [{"id": 0, "protocol": "http", "address": "127.0.0.1", "port": port}],
         "pools": pools, "sites": sites}
    t.update(over)
    return t


def req(host, path="/", extra=b""):
    return b"GET %s HTTP/1.1\r\nHost: %s\r\n\r\n%s" % (path.encode(), host.encode(), extra)


def client(port, data):
    s = socket.create_connection(("127.0.0.1", port), timeout=10 * TIME_SCALE)
    s.sendall(data)
    return s


def read_all(s):
    chunks = []
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    except ConnectionResetError:
        chunks.append(b"<RST>")
    s.close()
    return b"".join(chunks)


def wait_log(act, text):
    """The adapter handles its activator channel and its listening socket
    in the same loop, in whatever order epoll reports them: before a
    client connects to test the effect of a message, wait until the
    adapter logged that it handled it."""
    wait_until(lambda: text in act.read_log(), what="adapter log %r" % text)


def status_of(raw):
    return wasptest.parse_status(raw)


def run(t, act):
    port = act.port
    act.handshake()
    act.send_table(table(port))

    # No binding for the Host: 400 (HTTP.sys's "Invalid Hostname").
    raw = read_all(client(port, req("nothing.test")))
    check(status_of(raw) == 400 and b"Invalid Hostname" in raw, "no binding: %r" % raw[:200])
    # Malformed request: 400 from the parser.
    raw = read_all(client(port, b"GET / HTTP/1.1\r\nHost: a.test\r\nBad Header\r\n\r\n"))
    check(status_of(raw) == 400, "malformed: %r" % raw[:200])
    # Stopped pool (HttpLevel): 503 with Retry-After.
    raw = read_all(client(port, req("c.test")))
    check(status_of(raw) == 503 and b"Retry-After:" in raw, "stopped pool: %r" % raw[:300])
    # HEAD: the same head, no body.
    raw = read_all(client(port, b"HEAD / HTTP/1.1\r\nHost: c.test\r\n\r\n"))
    check(status_of(raw) == 503 and raw.endswith(b"\r\n\r\n") and b"Content-Length" in raw,
          "HEAD to a stopped pool: %r" % raw[:300])
    # Stopped pool (TcpLevel): reset, no response.
    raw = read_all(client(port, req("d.test")))
    check(raw in (b"", b"<RST>"), "TcpLevel stopped pool answered %r" % raw[:200])

    # Pool A has no worker: the first connection waits and the adapter asks
    # for a worker once; the queue holds 2, the third gets 503.
    c1 = client(port, req("a.test", "/one"))
    act.wait_demand(0)
    # A client that gives up while queued (a reset) leaves the queue; one
    # that only shuts down its sending side waits for its answer
    # (test_half_close).
    x = client(port, req("a.test", "/gone"))
    x.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    x.close()
    wait_until(lambda: "closed by the client while queued" in act.read_log(),
               what="the adapter to notice a queued client leaving")
    c2 = client(port, req("a.test", "/two"))
    raw = read_all(client(port, req("a.test", "/three")))
    check(status_of(raw) == 503, "over queueLength: %r" % raw[:200])
    act.poll(0.3)
    check(len([d for d in act.demands if d[0] == 0]) == 1,
          "POOL_DEMAND sent %d times" % len(act.demands))
    # A head in two parts (the second after a while) is read to the end.
    c3 = client(port, b"GET /x HTTP/1.1\r\nHo")

    # A worker arrives: the queue drains to it, oldest first.
    w1 = act.add_worker(0)
    h1 = w1.handoff()
    check(h1["site_id"] == 1 and h1["app_path"] == "/" and h1["data"] == req("a.test", "/one"),
          "first handoff %r" % h1)
    h2 = w1.handoff()
    check(h2["data"] == req("a.test", "/two"), "second handoff %r" % h2)
    w1.ack(h1)
    w1.ack(h2)
    lsnfake.respond(h1, b"one")
    lsnfake.respond(h2, b"two")
    check(read_all(c1).endswith(b"one"), "c1")
    check(read_all(c2).endswith(b"two"), "c2")
    c3.sendall(b"st: a.test\r\n\r\n")
    h3 = w1.handoff()
    check(h3["data"] == b"GET /x HTTP/1.1\r\nHost: a.test\r\n\r\n", "split head %r" % h3)
    w1.ack(h3)
    lsnfake.respond(h3, b"three")
    check(read_all(c3).endswith(b"three"), "c3")

    # Longest application path: /b/... goes to pool B (no worker: demand).
    c4 = client(port, req("a.test", "/b/page"))
    act.wait_demand(1)
    wb = act.add_worker(1)
    h4 = wb.handoff()
    check(h4["app_path"] == "/b" and h4["site_id"] == 1, "app /b %r" % h4)
    wb.ack(h4)
    # maxProcesses 2 and one worker: the next connection is handed to it at
    # once, and the adapter asks for a second worker (web garden).
    c4b = client(port, req("a.test", "/b/two"))
    h4b = wb.handoff()
    wb.ack(h4b)
    lsnfake.respond(h4b, b"b2")
    check(read_all(c4b).endswith(b"b2"), "c4b")
    act.wait_demand(1, count=2)

    # HANDBACK with a complete request for another pool: routed at once
    # (nothing more is read), to pool A's worker with exactly those bytes.
    wb.handback(h4["sock"], req("a.test", "/back"))
    h4["sock"].close()
    h5 = w1.handoff()
    check(h5["data"] == req("a.test", "/back") and h5["app_path"] == "/", "handback %r" % h5)
    w1.ack(h5)
    lsnfake.respond(h5, b"back")
    check(read_all(c4).endswith(b"back"), "c4 after handback")

    # A handoff the worker never acknowledged is routed again when its
    # channel closes: to the next worker of the pool.
    # w1 closed what it served (WORKER_ROOM): the load is what a worker
    # holds; ties go to the one chosen longest ago, and an unacknowledged
    # handoff counts: c5 to w1, c5b to w2.
    w1.room(released=100)
    w2 = act.add_worker(0)
    c5 = client(port, req("a.test", "/five"))
    h6 = w1.handoff()
    check(h6["data"] == req("a.test", "/five"), "first of two %r" % h6)
    c5b = client(port, req("a.test", "/five-b"))
    h6b = w2.handoff()
    check(h6b["data"] == req("a.test", "/five-b"), "least busy worker %r" % h6b)
    h6b["sock"].close()
    w2.close()  # dies without ACK
    h7 = w1.handoff()
    check(h7["data"] == req("a.test", "/five-b"), "re-routed %r" % h7)
    # One HANDOFF_ACK may acknowledge several connections: the adapter
    # keeps the channel and routes neither of them again.
    check(h6["flags"] & lsnfake.HANDOFF_F_ACK_MANY and h7["flags"] & lsnfake.HANDOFF_F_ACK_MANY,
          "HANDOFF flags %#x %#x" % (h6["flags"], h7["flags"]))
    w1.ack(h6, h7)
    w1.expect_nothing()
    lsnfake.respond(h6, b"five")
    lsnfake.respond(h7, b"five-b")
    check(read_all(c5).endswith(b"five"), "c5")
    check(read_all(c5b).endswith(b"five-b"), "c5b after re-route")

    # WORKER_GONE: no new connections to it; the pool needs a new worker.
    act.worker_gone(w1, 0)
    wait_log(act, "worker %d (pid %d) of 'A': no new connections" % (w1.worker_id, os.getpid()))
    act.demands.clear()
    c6 = client(port, req("a.test", "/six"))
    act.wait_demand(0)
    w1.expect_nothing()
    w3 = act.add_worker(0)
    h8 = w3.handoff()
    w3.ack(h8)
    lsnfake.respond(h8, b"six")
    check(read_all(c6).endswith(b"six"), "c6")
    w3.room(released=1)  # it closed c6
    # An ACK that is not a whole number of refs is a protocol error: that
    # worker's channel closes, and what it had not acknowledged is routed
    # again (to w3, the pool's other worker, which is busier: an
    # unacknowledged handoff).
    w4 = act.add_worker(0)
    c6w = client(port, req("a.test", "/six-w"))
    h8w = w3.handoff()
    c6x = client(port, req("a.test", "/six-x"))
    h8x = w4.handoff()
    check(h8x["data"] == req("a.test", "/six-x"), "to the new worker %r" % h8x)
    h8x["sock"].close()
    lsnfake.send(w4.sock, lsnfake.HANDOFF_ACK, struct.pack("=III", h8x["conn_id"], 0, 0))
    h8y = w3.handoff()
    check(h8y["data"] == req("a.test", "/six-x"), "re-routed after a bad ACK %r" % h8y)
    w3.ack(h8w, h8y)
    lsnfake.respond(h8w, b"six-w")
    lsnfake.respond(h8y, b"six-x")
    check(read_all(c6w).endswith(b"six-w"), "c6w")
    check(read_all(c6x).endswith(b"six-x"), "c6x")
    check(lsnfake.recv(w4.sock) is None, "the channel of a worker that sent a bad ACK stays open")
    w4.close()

    # A worker hands back a connection it had not acknowledged (draining):
    # the adapter drops its own copy and routes the returned one.
    c6b = client(port, req("a.test", "/six-b"))
    h8b = w3.handoff()
    w3.handback(h8b["sock"], h8b["data"], conn_id=h8b["conn_id"])
    h8b["sock"].close()
    h8c = w3.handoff()
    check(h8c["data"] == req("a.test", "/six-b"), "unacknowledged handback %r" % h8c)
    w3.ack(h8c)
    lsnfake.respond(h8c, b"six-b")
    check(read_all(c6b).endswith(b"six-b"), "c6b")

    # HANDOFF_REFUSED (the worker is at its limit, or the fd did not reach
    # it): the adapter still holds the connection and routes it again; with
    # no other worker and a pool that cannot grow, 503 at once. The next
    # WORKER_ROOM makes the worker usable again; a capacity it gives is
    # respected (one connection: the second one gets 503 meanwhile).
    c6r = client(port, req("a.test", "/six-r"))
    h8r = w3.handoff()
    h8r["sock"].close()
    w3.refuse(h8r)
    raw = read_all(c6r)
    check(status_of(raw) == 503, "refused by the only worker: %r" % raw[:200])
    w3.room(capacity=1, released=100)
    c6s = client(port, req("a.test", "/six-s"))
    h8s = w3.handoff()
    w3.ack(h8s)
    raw = read_all(client(port, req("a.test", "/six-t")))
    check(status_of(raw) == 503, "over the worker's capacity: %r" % raw[:200])
    lsnfake.respond(h8s, b"six-s")
    check(read_all(c6s).endswith(b"six-s"), "c6s after WORKER_ROOM")
    w3.room(capacity=0, released=1)

    # A site's maxConnections counts the connections the adapter holds.
    f1 = client(port, req("f.test"))
    act.wait_demand(5)
    raw = read_all(client(port, req("f.test")))
    check(status_of(raw) == 503, "over the site's maxConnections: %r" % raw[:200])

    # POOL_STATE Stopped: queued connections and new ones get 503.
    act.pool_state(5, STOPPED, 1)
    raw = read_all(f1)
    check(status_of(raw) == 503, "queued connection of a stopped pool: %r" % raw[:200])

    # POOL_STATE Stopped: 503 at once; Started again: served.
    act.pool_state(1, STOPPED, 1)
    wait_log(act, "application pool 'B': Stopped")
    raw = read_all(client(port, req("a.test", "/b/")))
    check(status_of(raw) == 503, "stopped pool B: %r" % raw[:200])
    act.pool_state(1, STARTED)
    wait_log(act, "application pool 'B': Started")
    c7 = client(port, req("a.test", "/b/"))
    h9 = wb.handoff()
    wb.ack(h9)
    lsnfake.respond(h9, b"b")
    check(read_all(c7).endswith(b"b"), "c7")

    # startupTimeLimitMs: a queued connection gets 503 when it passed.
    t0 = time.monotonic()
    raw = read_all(client(port, req("e.test")))
    el = time.monotonic() - t0
    check(status_of(raw) == 503, "startup time limit: %r" % raw[:200])
    check(el >= 0.9, "503 after %.2fs, before startupTimeLimitMs" % el)

    # A new generation (same socket, no LISTEN_SOCKET): pool ids change,
    # the workers stay with their pool (by name).
    tb = table(port)
    n = len(tb["pools"])
    tb["pools"] = [dict(p, id=(p["id"] + 1) % n) for p in tb["pools"]]
    tb["pools"].sort(key=lambda p: p["id"])
    for s in tb["sites"]:
        for a in s["apps"]:
            a["pool"] = (a["pool"] + 1) % n
    tb["sites"].append({"id": 9, "name": "new", "bindings": [
        {"protocol": "http", "address": "*", "port": port, "host": "new.test"}],
        "apps": [{"path": "/", "pool": 1}]})
    act.send_table(tb, sockets=False)
    wait_log(act, "routing table %d:" % act.generation)
    c8 = client(port, req("new.test"))
    h10 = w3.handoff()
    check(h10["site_id"] == 9 and h10["generation"] == act.generation, "new generation %r" % h10)
    w3.ack(h10)
    lsnfake.respond(h10, b"new")
    check(read_all(c8).endswith(b"new"), "c8")

    # Header timeout (--header-timeout while the table sets none): counted
    # from accept, not from the last byte; a started head is answered 408.
    t0 = time.monotonic()
    s = client(port, b"GET / HTTP/1.1\r\n")
    s.sendall(b"Host: a")
    raw = read_all(s)
    el = time.monotonic() - t0
    check(status_of(raw) == 408 and 1.2 <= el <= 5 * TIME_SCALE,
          "header timeout: %r after %.2fs" % (raw[:100], el))
    # The routing table's headerWaitTimeoutMs (webLimits) overrides it.
    tb["headerWaitTimeoutMs"] = 400
    act.send_table(tb, sockets=False)
    wait_log(act, "routing table %d:" % act.generation)
    t0 = time.monotonic()
    raw = read_all(client(port, b"GET / HTTP/1.1\r\nHost: a"))
    el = time.monotonic() - t0
    check(status_of(raw) == 408 and 0.3 <= el < 1.2,
          "headerWaitTimeoutMs 400: %r after %.2fs" % (raw[:100], el))
    del tb["headerWaitTimeoutMs"]
    act.send_table(tb, sockets=False)
    wait_log(act, "routing table %d:" % act.generation)
    # A head over 16 KiB: 431.
    raw = read_all(client(port, b"GET / HTTP/1.1\r\nHost: a.test\r\nX: " + b"x" * 17000))
    check(status_of(raw) == 431, "huge head: %r" % raw[:100])

    # The activator goes away: the adapter exits.
    act.close()
    try:
        act.proc.wait(10 * TIME_SCALE)
    except Exception:  # noqa: BLE001
        check(False, "adapter did not exit when the activator channel closed")
    check(act.proc.returncode == 0, "adapter exit status %s" % act.proc.returncode)


def test(t):
    act = lsnfake.FakeActivator(t, args=["--header-timeout", "1500"])
    try:
        run(t, act)
    except BaseException:
        sys.stderr.write("----- adapter log -----\n%s----- end -----\n" % act.read_log()[-20000:])
        raise


wasptest.main(test)
