"""A web garden of a tcp pool (maxProcesses 2): a second connection while the
first is open makes wasp-tcp ask for a second worker, and later connections
go to the least busy worker, so both hold connections. Each connection runs
the exec handler's `echo $PPID; cat`, whose first line names the worker that
took it; both workers are in `waspctl list wp`."""
import socket
import wasptest
from wasptest import check, wait_until
from test_tcp_lifecycle import echo, read_line, tcp_server

LOCATION = """  <location path="%s">
    <system.webServer>
      <streamHandlers>
        <add protocol="tcp" handler="exec" />
      </streamHandlers>
      <streamExec path="/bin/sh" arguments='-c "echo $PPID; exec cat"' maxProcesses="16" />
    </system.webServer>
  </location>
"""
CONNS = 8


def worker_of(c):
    """The pid the connection's program printed first: its worker."""
    return int(read_line(c))


def test(t):
    tport = wasptest.free_port()
    srv = tcp_server(t, tport, {"processModel": {"maxProcesses": 2}}, LOCATION)
    check(srv.worker_pids("T") == [], "T's worker started before a connection")

    conns, seen = [], {}
    try:
        # the first connection starts one worker; the second, handed to it,
        # asks for another
        for _ in range(2):
            c = socket.create_connection(("127.0.0.1", tport), timeout=10)
            conns.append(c)
            pid = worker_of(c)
            seen[pid] = seen.get(pid, 0) + 1
        wait_until(lambda: len(srv.worker_pids("T", state="Ready")) == 2, timeout=20,
                   what="T's second worker")
        for _ in range(CONNS - 2):
            c = socket.create_connection(("127.0.0.1", tport), timeout=10)
            conns.append(c)
            pid = worker_of(c)
            seen[pid] = seen.get(pid, 0) + 1
        workers = srv.worker_pids("T")
        wasptest.log("connections per worker: %r, workers %r" % (seen, workers))
        check(len(workers) == 2, "T's workers: %r" % workers)
        check(set(seen) == set(workers), "connections went to %r, workers %r"
              % (seen, workers))
        # least busy first: with every connection open, an even spread
        check(min(seen.values()) >= CONNS // 2 - 1, "uneven spread %r" % seen)
        for i, c in enumerate(conns):
            data = b"conn %d\n" % i
            check(echo(c, data) == data, "echo on connection %d" % i)
        r = srv.get("/index.html", host="h.test")
        check(r.status == 200 and r.body == b"pool H\n", "HTTP pool H: %r" % r)
        check(len(srv.worker_pids("H")) == 1, "H's workers %r" % srv.worker_pids("H"))
    finally:
        for c in conns:
            c.close()


wasptest.main(test)
