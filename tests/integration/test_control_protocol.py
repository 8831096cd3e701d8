"""The control socket survives whatever a client sends: malformed JSON,
wrong types, unknown fields and verbs, an endless line, a client that
vanishes mid-request; each error is a JSON message naming the problem, and
waspd keeps serving. A client that is neither root nor waspd's user is
refused."""
import json
import os
import socket
import subprocess
import wasptest
from wasptest import check


def call(sock, f, line):
    sock.sendall(line if isinstance(line, bytes) else line.encode())
    reply = f.readline()
    check(reply.endswith(b"\n"), "no reply line to %r" % (line,))
    return json.loads(reply)


def test(t):
    srv = t.server(pools={"A": {}}).start()
    path = os.path.join(srv.runtime_dir, "control.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    f = s.makefile("rb")
    cases = [
        (b"this is not json\n", "malformed JSON"),
        (b"[1, 2]\n", "one JSON object"),
        (b'{"verb": 1, "object": "apppool"}\n', "must be a string"),
        (b'{"verb": "list", "object": "apppool", "extra": "x"}\n', "unknown field 'extra'"),
        (b'{"verb": "list"}\n', "missing field 'object'"),
        (b'{"object": "apppool"}\n', "missing field 'verb'"),
        (b'{"verb": "explode", "object": "apppool"}\n', "unknown verb 'explode'"),
        (b'{"verb": "list", "object": "galaxy"}\n', "cannot list 'galaxy'"),
        (b'{"verb": "stop", "object": "apppool"}\n', "needs the pool's name"),
        (b'{"verb": "stop", "object": "apppool", "name": "Nope"}\n', "no application pool named 'Nope'"),
        (b'{"verb": "list", "object": "apppool", "verb": "stop"}\n', "malformed JSON"),
        (b'{"verb": "start", "object": "apppool", "name": "A"}\n', "already started"),
    ]
    for line, want in cases:
        r = call(s, f, line)
        check(r.get("ok") is False, "%r accepted: %r" % (line, r))
        check(want in r.get("error", ""), "%r: error %r lacks %r" % (line, r.get("error"), want))
    # The same connection still works.
    r = call(s, f, b'{"verb": "list", "object": "apppool"}\n')
    check(r.get("ok") is True and r["apppools"][0]["name"] == "A", "%r" % r)
    s.close()

    # An endless line: an error, then the connection is closed.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    try:
        s.sendall(b"x" * 200000)
    except (BrokenPipeError, ConnectionResetError):
        pass
    data = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    except ConnectionResetError:
        pass
    s.close()
    check(b"longer than" in data, "no error for an endless line: %r" % data[:200])

    # A client that goes away mid-request.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(b'{"verb": "li')
    s.close()

    check(srv.alive(), "waspd died")
    check(srv.pool_state("A") == "Started", "state")
    check(srv.get(pool="A").status == 200, "serving")

    if os.geteuid() == 0:
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            wasptest.program("activator/waspctl"), "-r", srv.runtime_dir,
                            "list", "apppool"], capture_output=True, timeout=10)
        check(p.returncode != 0, "an unprivileged user controlled waspd")
        check(b"permission denied" in p.stderr.lower(), "message: %r" % p.stderr)


wasptest.main(test)
