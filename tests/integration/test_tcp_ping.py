"""Ping on a tcp pool: a worker that stops answering pings while it holds a
tcp connection is killed after pingInterval + pingResponseTime (its
connection closes with it) and the next connection gets a new worker."""
import os
import signal
import socket
import wasptest
from wasptest import check, stays, wait_until, pid_alive
from test_tcp_lifecycle import echo, recv_or_eof, tcp_server


def test(t):
    tport = wasptest.free_port()
    srv = tcp_server(t, tport, {"processModel": {
        "pingingEnabled": True, "pingInterval": "00:00:01", "pingResponseTime": "00:00:01"}})

    with socket.create_connection(("127.0.0.1", tport), timeout=10) as c:
        check(echo(c, b"one") == b"one", "first connection")
        old = srv.worker_pids("T")
        check(len(old) == 1, "T's workers %r" % old)
        # a worker that answers keeps its idle connection past the ping times
        stays(lambda: pid_alive(old[0]), 3, what="the answering worker")
        check(echo(c, b"still one") == b"still one", "the connection after pings")
        os.kill(old[0], signal.SIGSTOP)  # hung: neither pongs nor echoes
        wait_until(lambda: not pid_alive(old[0]), timeout=15, what="hung worker killed")
        srv.wait_log("did not answer a ping")
        c.settimeout(10)
        check(recv_or_eof(c) == b"", "the hung worker's connection stayed open")
    with socket.create_connection(("127.0.0.1", tport), timeout=10) as c:
        check(echo(c, b"two") == b"two", "a connection after the hung worker")
        new = srv.worker_pids("T")
        check(len(new) == 1 and new != old, "T's workers %r, the hung one %r" % (new, old))


wasptest.main(test)
