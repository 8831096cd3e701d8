"""A small HTTP/1.1 backend for the httpPlatform and aspNetCore tests. It
listens on 127.0.0.1 at the port in HTTP_PLATFORM_PORT or ASPNETCORE_PORT
(or --port N) and answers:

  /env            JSON: the variables the tests look at, argv, the pid, the
                  request's headers, the client port of the connection
  /crash          exits with status 3 before answering
  /sleep?s=N      answers after N seconds
  /poll?mark=F    a chunked response: "first", then, once file F exists,
                  "last"
  /upload         reads the body (Content-Length or chunked): "<n> <md5>"
  /download?n=N   N bytes of 'x' with a Content-Length
  /split-head     a head written in two pieces 50 ms apart, then "ok"
  /cut            a Content-Length of 1000, 10 bytes, then the connection ends
  /close          answers, then closes the connection without saying so
  /ws             a WebSocket echo (RFC 6455): every message comes back, a
                  close is answered with a close; without "Upgrade:
                  websocket" it answers "no upgrade"
  /drop-next      answers; the next request on that connection is read and
                  the connection closed without an answer (a kept connection
                  the backend let go just as the proxy reused it)

--never-listen: never opens the port (sleeps). With HP_TEST_MARKS set, a
SIGTERM leaves the file $HP_TEST_MARKS/term.<pid> before the process exits;
with HP_TEST_IGNORE_TERM set, SIGTERM is ignored."""
import base64
import hashlib
import json
import os
import signal
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

VARS = ("HTTP_PLATFORM_PORT", "ASPNETCORE_PORT", "ASPNETCORE_APPL_PATH", "ASPNETCORE_TOKEN",
        "HP_TEST_VAR", "HP_TEST_PORT_IN_VAR")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stdout.write("backend %d: %s\n" % (os.getpid(), fmt % args))
        sys.stdout.flush()

    def reply(self, body, status=200, ctype="text/plain"):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Backend", "hp_backend")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def body_chunks(self):
        te = self.headers.get("Transfer-Encoding", "")
        if te.lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return
                left = size
                while left:
                    b = self.rfile.read(min(left, 1 << 16))
                    if not b:
                        return
                    left -= len(b)
                    yield b
                self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length", "0"))
            while left:
                b = self.rfile.read(min(left, 1 << 16))
                if not b:
                    return
                left -= len(b)
                yield b

    def read_exact(self, n):
        b = b""
        while len(b) < n:
            x = self.rfile.read(n - len(b))
            if not x:
                raise EOFError
            b += x
        return b

    def websocket(self):
        if self.headers.get("Upgrade", "").lower() != "websocket":
            self.reply("no upgrade")
            return
        key = self.headers["Sec-WebSocket-Key"]
        accept = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        try:
            while True:
                b0, b1 = self.read_exact(2)
                n = b1 & 0x7F
                if n == 126:
                    n = int.from_bytes(self.read_exact(2), "big")
                elif n == 127:
                    n = int.from_bytes(self.read_exact(8), "big")
                mask = self.read_exact(4) if b1 & 0x80 else b"\0\0\0\0"
                data = bytes(c ^ mask[i % 4] for i, c in enumerate(self.read_exact(n)))
                if n < 126:
                    head = bytes([b0, n])
                elif n < 65536:
                    head = bytes([b0, 126]) + n.to_bytes(2, "big")
                else:
                    head = bytes([b0, 127]) + n.to_bytes(8, "big")
                self.wfile.write(head + data)
                self.wfile.flush()
                if b0 & 0x0F == 8:  # close: answered, then the end
                    return
        except (EOFError, OSError):
            return

    def do_POST(self):
        self.do_GET()

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        if getattr(self, "drop", False):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        u = urlparse(self.path)
        q = parse_qs(u.query)
        if u.path.endswith("/env"):
            self.reply(json.dumps({
                "env": {k: os.environ.get(k) for k in VARS},
                "argv": sys.argv[1:], "pid": os.getpid(),
                "headers": [[k, v] for k, v in self.headers.items()],
                "client_port": self.client_address[1], "path": self.path,
            }), ctype="application/json")
        elif u.path.endswith("/crash"):
            os._exit(3)
        elif u.path.endswith("/sleep"):
            time.sleep(float(q["s"][0]))
            self.reply("slept")
        elif u.path.endswith("/poll"):
            mark = q["mark"][0]
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"5\r\nfirst\r\n")
            self.wfile.flush()
            deadline = time.monotonic() + 30
            while not os.path.exists(mark) and time.monotonic() < deadline:
                time.sleep(0.01)
            self.wfile.write(b"4\r\nlast\r\n0\r\n\r\n")
        elif u.path.endswith("/upload"):
            md5, n = hashlib.md5(), 0
            for b in self.body_chunks():
                md5.update(b)
                n += len(b)
            self.reply("%d %s" % (n, md5.hexdigest()))
        elif u.path.endswith("/download"):
            n = int(q["n"][0])
            self.send_response(200)
            self.send_header("Content-Length", str(n))
            self.end_headers()
            block = b"x" * 65536
            while n:
                k = min(n, len(block))
                self.wfile.write(block[:k])
                n -= k
        elif u.path.endswith("/split-head"):
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-First: 1\r\n")
            self.wfile.flush()
            time.sleep(0.05)
            self.wfile.write(b"X-Second: 2\r\nContent-Length: 2\r\n\r\nok")
            self.wfile.flush()
        elif u.path.endswith("/many-fields"):
            # 40 fields (more than the proxy keeps from its first pass over
            # a head), the Connection field naming one last
            head = "".join("X-F%d: %d\r\n" % (i, i) for i in range(40))
            self.wfile.write(("HTTP/1.1 200 OK\r\n" + head + "Connection: keep-alive, X-Hop\r\n"
                              "X-Hop: 1\r\nContent-Length: 2\r\n\r\nok").encode())
            self.wfile.flush()
        elif u.path.endswith("/cut"):
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"0123456789")
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        elif u.path.endswith("/ws"):
            self.websocket()
        elif u.path.endswith("/drop-next"):
            self.drop = True
            self.reply("dropping the next")
        elif u.path.endswith("/close"):
            self.reply("closing")
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        else:
            self.reply("hello from %d\n" % os.getpid())


def on_term(signum, frame):
    marks = os.environ.get("HP_TEST_MARKS")
    if marks:
        with open(os.path.join(marks, "term.%d" % os.getpid()), "w"):
            pass
    os._exit(0)


def main():
    signal.signal(signal.SIGTERM, signal.SIG_IGN if os.environ.get("HP_TEST_IGNORE_TERM")
                  else on_term)
    args = sys.argv[1:]
    if "--never-listen" in args:
        time.sleep(3600)
        return
    port = os.environ.get("HTTP_PLATFORM_PORT") or os.environ.get("ASPNETCORE_PORT")
    if "--port" in args:
        port = args[args.index("--port") + 1]
    srv = ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
    srv.daemon_threads = True
    print("backend %d listening on %s" % (os.getpid(), port), flush=True)
    srv.serve_forever()


main()
