"""httpPlatform: the backend is started on the first request, a child of
the worker, with a free loopback port in HTTP_PLATFORM_PORT (and in
%HTTP_PLATFORM_PORT% of its arguments and environment); it sees the request
with the forwarding fields and without the hop-by-hop ones, over kept
connections (a kept one the backend drops as it is reused costs a retry,
not an error); its response comes back with its status and fields; a body
of unknown length goes on chunked; the worker's exit stops it with SIGTERM."""
import json
import os
import socket

import fcgitest
import hptest
import wasptest
from wasptest import check


def env_of(srv, path="/env", headers=None):
    r = srv.get(path, pool="A", headers=headers or {})
    check(r.status == 200, "%s: %r %r" % (path, r, r.body[:500]))
    return json.loads(r.body)


def test(t):
    py, app = hptest.python_backend(t)
    marks = os.path.join(t.dir, "marks")
    os.makedirs(marks)
    os.chmod(marks, 0o777)
    xml = hptest.web_server_xml(
        "httpPlatform", py, "%s --port %%HTTP_PLATFORM_PORT%%" % app,
        env={"HP_TEST_VAR": "hello", "HP_TEST_MARKS": marks, "HP_TEST_PORT_IN_VAR": "p=%HTTP_PLATFORM_PORT%"})
    srv = wasptest.Server(t, pools={"A": {}}, web_server_xml=xml)
    srv.start()
    host = srv.host("A")

    e = env_of(srv, "/env?x=1", headers={"X-Forwarded-For": "10.0.0.1",
                                        "Connection": "X-Secret", "X-Secret": "no",
                                        "Keep-Alive": "timeout=5"})
    port = e["env"]["HTTP_PLATFORM_PORT"]
    check(port and int(port) > 0, "HTTP_PLATFORM_PORT %r" % e)
    check(e["argv"] == ["--port", port], "%%HTTP_PLATFORM_PORT%% in arguments: %r" % e["argv"])
    check(e["env"]["HP_TEST_VAR"] == "hello", "environmentVariables: %r" % e["env"])
    check(e["env"]["HP_TEST_PORT_IN_VAR"] == "p=" + port, "port in a variable %r" % e["env"])
    check(e["path"] == "/env?x=1", "the target %r" % e["path"])
    h = {k.lower(): v for k, v in e["headers"]}
    check(h.get("host") == host, "Host %r" % h)
    check(h.get("x-forwarded-for", "").startswith("10.0.0.1, 127.0.0.1:"),
          "X-Forwarded-For %r" % h)
    check(h.get("x-forwarded-proto") == "http", "X-Forwarded-Proto %r" % h)
    for hop in ("x-secret", "keep-alive", "te", "upgrade"):
        check(hop not in h, "a hop-by-hop field went on: %s in %r" % (hop, h))
    pid = e["pid"]
    with open("/proc/%d/stat" % pid) as f:
        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
    check(ppid in srv.worker_pids("A"), "the backend %d is not the worker's child (%d)"
          % (pid, ppid))

    # the same backend, on a kept connection
    e2 = env_of(srv)
    e3 = env_of(srv)
    check(e2["pid"] == pid and e3["pid"] == pid, "one backend process %r" % [pid, e2, e3])
    check(e2["client_port"] == e3["client_port"], "the connection was not kept: %r %r"
          % (e2["client_port"], e3["client_port"]))

    # the backend closes its connection after a response: the next one still works
    r = srv.get("/close", pool="A")
    check(r.status == 200 and r.body == b"closing", "%r" % r)
    for _ in range(3):
        check(env_of(srv)["pid"] == pid, "after a close")

    # a kept connection the backend drops as it is reused: one retry on a
    # new connection, unseen by the client
    r = srv.get("/drop-next", pool="A")
    check(r.status == 200, "%r" % r)
    e4 = env_of(srv)
    check(e4["pid"] == pid and e4["client_port"] != e3["client_port"], "after a drop %r" % e4)

    # a head that arrives in two reads
    r = srv.get("/split-head", pool="A")
    check(r.status == 200 and r.body == b"ok" and r.header("X-First") == "1" and
          r.header("X-Second") == "2", "split head %r %r" % (r, r.body))

    # a head of more fields than the first pass keeps: all go on, but the
    # one the Connection field names
    r = srv.get("/many-fields", pool="A")
    check(r.status == 200 and r.body == b"ok" and r.header("X-Hop") is None and
          all(r.header("X-F%d" % i) == str(i) for i in range(40)), "many fields %r" % r)
    r = srv.get("/split-head", pool="A")  # fewer: as the first pass kept them
    check(r.status == 200 and r.header("X-First") == "1" and r.header("X-Second") == "2",
          "split head again %r" % r)

    # response status and fields
    r = srv.get("/missing-but-answered", pool="A")
    check(r.status == 200 and r.header("X-Backend") == "hp_backend", "%r" % r)

    # a chunked request body goes on chunked
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    s.sendall(("POST /upload HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n"
               "Connection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
               % host).encode())
    data = fcgitest.read_to_eof(s)
    check(data.startswith(b"HTTP/1.1 200") and
          data.endswith(b"11 5eb63bbbe01eeed093cb22bb8f5acdc3"), "chunked upload %r" % data)

    # the worker's exit stops its backend with SIGTERM
    srv.stop()
    check(os.path.exists(os.path.join(marks, "term.%d" % pid)), "no SIGTERM for the backend")
    check(not wasptest.pid_alive(pid), "the backend outlived its worker")


wasptest.main(test)
