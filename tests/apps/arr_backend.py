"""A backend for the ARR tests: an HTTP/1.1 server on ADDRESS:PORT
(argv[3], 127.0.0.1 by default; argv[1]) answering as NAME (argv[2]).

  /echo...      200, JSON: name, method, the request-target, the fields
  /redirect     302 to http://<Host>/landed (Location and Content-Location)
  /hang         never answers
  /hold         answers once /release was asked (counts in /stats meanwhile)
  /release      lets every /hold answer
  /stats        JSON: requests held now
  /big?n=N      N bytes (a repeating pattern), Content-Length
  /bighead?n=N  200 with N bytes of X-Big-<i> fields (at most 50000 each)
  /upload       POST: the body's md5 and length
  /health       200 "healthy NAME"
  /ws           a WebSocket echo (text and binary frames, close answered)
  anything else 200 NAME
"""
import base64
import hashlib
import json
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
NAME = sys.argv[2]
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
released = threading.Event()
held = [0]
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, status, body, ctype="text/plain", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        md5, got = hashlib.md5(), 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b""):
                        pass
                    break
                while size:
                    b = self.rfile.read(min(size, 1 << 16))
                    md5.update(b)
                    got += len(b)
                    size -= len(b)
                self.rfile.readline()
            return md5.hexdigest(), got
        while got < n:
            b = self.rfile.read(min(n - got, 1 << 16))
            if not b:
                break
            md5.update(b)
            got += len(b)
        return md5.hexdigest(), got

    def do_GET(self):
        p = self.path
        if p.startswith("/echo"):
            self.body()
            d = {"name": NAME, "method": self.command, "target": p,
                 "headers": [[k, v] for k, v in self.headers.items()]}
            self.send(200, json.dumps(d).encode(), "application/json")
        elif p == "/redirect":
            url = "http://%s/landed" % self.headers.get("Host", "")
            self.send(302, b"", extra=(("Location", url), ("Content-Location", url)))
        elif p == "/hang":
            released.wait(3600)
            self.close_connection = True
        elif p == "/hold":
            with lock:
                held[0] += 1
            released.wait(60)
            with lock:
                held[0] -= 1
            self.send(200, ("held %s" % NAME).encode())
        elif p == "/release":
            released.set()
            self.send(200, b"released")
        elif p == "/stats":
            with lock:
                self.send(200, json.dumps({"held": held[0]}).encode(), "application/json")
        elif p.startswith("/big?n="):
            n = int(p[7:])
            self.send_response(200)
            self.send_header("Content-Length", str(n))
            self.end_headers()
            chunk = bytes(range(256)) * 256
            while n > 0:
                self.wfile.write(chunk[:min(n, len(chunk))])
                n -= len(chunk)
        elif p.startswith("/bighead?n="):
            n = int(p[11:])
            self.send(200, b"big head", extra=[("X-Big-%d" % i, "x" * min(n - i, 50000))
                                               for i in range(0, n, 50000)])
        elif p == "/upload":
            md5, n = self.body()
            self.send(200, ("%s %d" % (md5, n)).encode())
        elif p == "/health":
            self.send(200, ("healthy %s" % NAME).encode())
        elif p == "/ws":
            self.websocket()
        else:
            self.body()
            self.send(200, NAME.encode())

    do_POST = do_GET
    do_PUT = do_GET

    def websocket(self):
        key = self.headers.get("Sec-WebSocket-Key", "")
        if self.headers.get("Upgrade", "").lower() != "websocket":
            self.send(200, b"no upgrade")
            return
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        r = self.rfile
        while True:
            h = r.read(2)
            if len(h) < 2:
                return
            op, n = h[0] & 0x0F, h[1] & 0x7F
            if n == 126:
                n = int.from_bytes(r.read(2), "big")
            elif n == 127:
                n = int.from_bytes(r.read(8), "big")
            mask = r.read(4) if h[1] & 0x80 else b"\0\0\0\0"
            data = bytes(c ^ mask[i % 4] for i, c in enumerate(r.read(n)))
            if n < 126:
                head = bytes([0x80 | op, n])
            elif n < 65536:
                head = bytes([0x80 | op, 126]) + n.to_bytes(2, "big")
            else:
                head = bytes([0x80 | op, 127]) + n.to_bytes(8, "big")
            self.wfile.write(head + data)
            self.wfile.flush()
            if op == 8:
                self.connection.shutdown(socket.SHUT_WR)
                return


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


Server((sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1", PORT), Handler).serve_forever()
