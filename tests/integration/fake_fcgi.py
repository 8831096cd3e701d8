#!/usr/bin/env python3
"""A FastCGI application that misbehaves on purpose, for
test_fastcgi_bad_app: started by FastCgiModule with its listening socket as
fd 0, it answers each request by the last segment of SCRIPT_NAME (its extension
aside):
ok.fcgi (a proper response), garbage.fcgi (bytes that are no record),
badtype.fcgi (a record type a Responder never sends), bighead.fcgi (a head
that never ends), cut.fcgi (a head and 4 MiB of a body, then the process
exits), stderr.fcgi (text on FCGI_STDERR, then a response), pid.fcgi (its
pid as the body), local.fcgi (a local redirect to /index.html), env.fcgi (its FAKE_FCGI_MARKS environment variable). With
FAKE_FCGI_MARKS set to a directory, SIGTERM writes "term.PID" there and is
otherwise ignored (signalBeforeTerminateSeconds must follow with SIGKILL)."""
import os
import signal
import socket
import struct
import sys


def record(t, content, rid=1):
    return struct.pack(">BBHHBB", 1, t, rid, len(content), 0, 0) + content


def read_exact(c, n):
    b = b""
    while len(b) < n:
        x = c.recv(n - len(b))
        if not x:
            raise EOFError
        b += x
    return b


def nv(data):
    out, i = {}, 0
    while i < len(data):
        lens = []
        for _ in range(2):
            if data[i] < 128:
                lens.append(data[i])
                i += 1
            else:
                lens.append(struct.unpack(">I", data[i:i + 4])[0] & 0x7fffffff)
                i += 4
        out[data[i:i + lens[0]].decode()] = data[i + lens[0]:i + lens[0] + lens[1]].decode()
        i += lens[0] + lens[1]
    return out


def stdout(c, data):
    for k in range(0, len(data), 65535):
        c.sendall(record(6, data[k:k + 65535]))


def end(c):
    c.sendall(record(6, b"") + record(3, b"\0" * 8))


def serve(c):
    params, stdin_done = b"", False
    while not stdin_done:
        _, t, _, n, pad, _ = struct.unpack(">BBHHBB", read_exact(c, 8))
        body = read_exact(c, n) if n else b""
        if pad:
            read_exact(c, pad)
        if t == 4:
            params += body
        elif t == 5 and n == 0:
            stdin_done = True
    name = os.path.splitext(os.path.basename(nv(params).get("SCRIPT_NAME", "")))[0]
    if name == "garbage":
        c.sendall(b"\xff" * 16)
    elif name == "badtype":
        c.sendall(record(10, b"\0" * 8))
    elif name == "bighead":
        stdout(c, b"X-Big: " + b"a" * 70000)
    elif name == "cut":
        # more than the worker takes before the head is out, so the end
        # comes after it
        stdout(c, b"Content-Type: text/plain\r\n\r\n" + b"x" * (4 << 20))
        os._exit(0)
    elif name == "stderr":
        c.sendall(record(7, b"oops from stderr\n"))
        stdout(c, b"Content-Type: text/plain\r\n\r\nbody")
        end(c)
    elif name == "local":
        # a CGI local redirect: a Location path and no Status
        stdout(c, b"Location: /index.html\r\n\r\n")
        end(c)
    elif name == "env":
        stdout(c, b"Content-Type: text/plain\r\n\r\n" +
               os.environ.get("FAKE_FCGI_MARKS", "").encode())
        end(c)
    elif name == "pid":
        stdout(c, b"Content-Type: text/plain\r\n\r\n%d" % os.getpid())
        end(c)
    else:
        stdout(c, b"Content-Type: text/plain\r\nX-Fake: 1\r\n\r\nok")
        end(c)


def on_term(signum, frame):
    marks = os.environ.get("FAKE_FCGI_MARKS")
    if marks:
        with open(os.path.join(marks, "term.%d" % os.getpid()), "w"):
            pass


def main():
    signal.signal(signal.SIGTERM, on_term)
    ls = socket.socket(fileno=0)
    while True:
        c, _ = ls.accept()
        try:
            while True:
                serve(c)
        except (EOFError, ConnectionError):
            c.close()


if __name__ == "__main__":
    sys.exit(main())
