"""The exec stream handler (StreamExecModule): the program of
system.webServer/streamExec runs for each tcp connection with the connection
as its stdin and stdout, as the pool's identity; timeLimit ends it (the
connection closes); over maxProcesses a connection is closed at once."""
import os
import socket
import time
import wasptest
from wasptest import check, wait_until
from test_tcp_lifecycle import content, read_back, read_line, recv_or_eof

LOCATION = """  <location path="%s">
    <system.webServer>
      <streamHandlers>
        <add protocol="tcp" handler="exec" />
      </streamHandlers>
      <streamExec path="/bin/sh" arguments='-c "%s"' timeLimit="%s" maxProcesses="1" />
    </system.webServer>
  </location>
"""


def test(t):
    xport, sport = wasptest.free_port(), wasptest.free_port()
    srv = t.server(
        pools={"X": {}, "S": {}},
        sites=[{"name": "X", "id": 1, "bindings": ["tcp/127.0.0.1:%d:" % xport,
                                                   "127.0.0.1:{port}:x.test"],
                "apps": [{"path": "/", "pool": "X", "physicalPath": content(t, "X"),
                          "attrs": {"enabledProtocols": "tcp"}}]},
               {"name": "S", "id": 2, "bindings": ["tcp/127.0.0.1:%d:" % sport],
                "apps": [{"path": "/", "pool": "S", "physicalPath": content(t, "S"),
                          "attrs": {"enabledProtocols": "tcp"}}]}])
    loc = (LOCATION % ("X", "id -u; read l; echo got $l", "00:01:00")
           + LOCATION % ("S", "exec sleep 60", "00:00:01"))
    srv.config_text = srv.config_text.replace("</configuration>", loc + "</configuration>")
    srv.start()
    wait_until(lambda: srv.children("wasp-tcp"), what="wasp-tcp to start")

    with socket.create_connection(("127.0.0.1", xport), timeout=10) as c:
        line = read_line(c)
        pids = srv.worker_pids("X")
        check(len(pids) == 1, "X's workers %r" % pids)
        uid = os.stat("/proc/%d" % pids[0]).st_uid
        check(int(line) == uid, "the program ran as uid %s, the worker as %d" % (line, uid))
        # maxProcesses 1: a second connection is closed at once
        with socket.create_connection(("127.0.0.1", xport), timeout=10) as c2:
            c2.settimeout(10)
            got = recv_or_eof(c2)
            check(got == b"", "over maxProcesses: %r" % got)
        srv.wait_log("maxProcesses")
        c.sendall(b"hello\n")
        check(read_back(c, 10) == b"got hello\n", "the program's answer")
        check(c.recv(16) == b"", "not closed when the program exited")

    # timeLimit: the program is killed, the connection closed
    with socket.create_connection(("127.0.0.1", sport), timeout=10) as c:
        c.settimeout(20)
        t0 = time.monotonic()
        got = recv_or_eof(c)
        check(got == b"", "sleep wrote %r" % got)
        check(time.monotonic() - t0 < 15, "closed only after %.1fs" % (time.monotonic() - t0))
    srv.wait_log("timeLimit")


wasptest.main(test)
