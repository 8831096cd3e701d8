"""Resource limits of wasp-http. Out of file descriptors (EMFILE): it
pauses accepting (a timer, no busy loop), the clients that connect
meanwhile wait in the kernel's backlog, and once descriptors are free again
they are all served. At --max-connections it closes the oldest connection
still reading its head to take a new one (clients that never finish a head
cannot lock the others out), and stops accepting only when none is left to
close."""
import socket
import sys
import time

import wasptest
from wasptest import check, wait_until, TIME_SCALE
import lsnfake

MAX_FDS = 32


def test(t):
    # --max-connections over the descriptor limit: EMFILE is what stops it.
    for fn, kw in ((run, {"max_fds": MAX_FDS, "args": ["--max-connections", "1000"]}),
                   (run_fd_limit, {"max_fds": MAX_FDS}),
                   (run_max_conns, {"args": ["--max-connections", "4"]})):
        act = lsnfake.FakeActivator(t, **kw)
        try:
            fn(t, act)
        except BaseException:
            sys.stderr.write("----- adapter log -----\n%s----- end -----\n"
                             % act.read_log()[-20000:])
            raise


def send_table(act):
    act.send_table({
        "sockets": [{"id": 0, "protocol": "http", "address": "127.0.0.1", "port": act.port}],
        "pools": [{"id": 0, "name": "A"}],
        "sites": [{"id": 1, "name": "a", "bindings": [
            {"protocol": "http", "address": "*", "port": act.port, "host": "a.test"}],
            "apps": [{"path": "/", "pool": 0}]}]})


def run_fd_limit(t, act):
    """Without --max-connections the adapter keeps its connections under
    the descriptor limit by itself (and never runs out)."""
    act.handshake()
    send_table(act)
    wait_until(lambda: "descriptor limit %d: holding at most" % MAX_FDS in act.read_log(),
               what="the adapter to fit max connections to the descriptor limit")
    holders = []
    for _ in range(MAX_FDS):
        s = socket.create_connection(("127.0.0.1", act.port), timeout=10 * TIME_SCALE)
        s.sendall(b"GET / HTTP/1.1\r\n")
        holders.append(s)
    wait_until(lambda: "closing the oldest unfinished request heads" in act.read_log(), 10,
               what="the adapter to shed unfinished heads at its limit")
    check("pausing" not in act.read_log(), "ran out of descriptors")
    for h in holders:
        h.close()
    act.close()
    act.proc.wait(10 * TIME_SCALE)


def run_max_conns(t, act):
    port = act.port
    act.handshake()
    send_table(act)
    holders = []
    for _ in range(4):
        s = socket.create_connection(("127.0.0.1", port), timeout=10 * TIME_SCALE)
        s.sendall(b"GET / HTTP/1.1\r\n")
        holders.append(s)
    # At the limit with four unfinished heads: a new client is served, and
    # the oldest unfinished head makes room for it (closed, unanswered).
    s = socket.create_connection(("127.0.0.1", port), timeout=10 * TIME_SCALE)
    s.sendall(b"GET / HTTP/1.1\r\nHost: nobody.test\r\n\r\n")
    raw = s.recv(65536)
    check(wasptest.parse_status(raw) == 400, "a new client at the limit: %r" % raw[:100])
    s.close()
    check(holders[0].recv(100) == b"", "the oldest unfinished head was not closed")
    check("closing the oldest unfinished request heads" in act.read_log(), "not logged")
    for h in holders[1:]:
        h.setblocking(False)
        try:
            check(h.recv(100) != b"", "a newer head was closed")
        except BlockingIOError:
            pass
    # Connections that are no heads (queued for a worker) are not shed:
    # with four of them the adapter stops accepting.
    for h in holders:
        h.close()
    queued = []
    for _ in range(4):
        q = socket.create_connection(("127.0.0.1", port), timeout=10 * TIME_SCALE)
        q.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        queued.append(q)
    wait_until(lambda: "not accepting until" in act.read_log(), 10,
               what="the adapter to stop accepting with four queued connections")
    for q in queued:
        q.close()
    act.close()
    act.proc.wait(10 * TIME_SCALE)


def run(t, act):
    port = act.port
    act.handshake()
    send_table(act)
    # Incomplete heads hold a descriptor each until the adapter runs out.
    holders = []
    for _ in range(MAX_FDS):
        s = socket.create_connection(("127.0.0.1", port), timeout=10 * TIME_SCALE)
        s.sendall(b"GET / HTTP/1.1\r\n")
        holders.append(s)
    wait_until(lambda: "pausing" in act.read_log(), 10, what="the adapter to pause accepting")
    # These wait in the backlog.
    waiting = []
    for _ in range(5):
        s = socket.create_connection(("127.0.0.1", port), timeout=10 * TIME_SCALE)
        s.sendall(b"GET / HTTP/1.1\r\nHost: nobody.test\r\n\r\n")
        waiting.append(s)
    # No busy loop while paused.
    c0 = act.cpu_seconds()
    time.sleep(1.0)  # measuring CPU over a fixed window, not synchronising
    used = act.cpu_seconds() - c0
    check(used < 0.3, "adapter used %.2fs CPU in 1s while out of descriptors" % used)
    for s in holders:
        s.close()
    for s in waiting:
        raw = s.recv(65536)
        check(wasptest.parse_status(raw) == 400, "after EMFILE: %r" % raw[:100])
        s.close()
    act.close()
    act.proc.wait(10 * TIME_SCALE)


wasptest.main(test)
