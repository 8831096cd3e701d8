"""A WebSocket client for the tests of proxied WebSockets (httpPlatform,
ARR): the handshake, masked frames out, frames in, an echo and a close."""
import base64
import hashlib
import os
import socket

from wasptest import check

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        x = s.recv(n - len(b))
        check(x, "the connection ended after %d of %d bytes" % (len(b), n))
        b += x
    return b


def handshake(port, host, path="/ws"):
    """A WebSocket client connection: (socket, the 101 head)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
               % (path, host, key)).encode())
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        head += recv_exact(s, 1)
    accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest())
    check(head.startswith(b"HTTP/1.1 101 "), "not switched: %r" % head)
    check(b"Sec-WebSocket-Accept: " + accept in head, "the accept key %r" % head)
    low = head.lower()
    check(b"upgrade: websocket" in low and b"connection: upgrade" in low, "head %r" % head)
    check(b"content-length" not in low and b"transfer-encoding" not in low, "framed %r" % head)
    return s, head


def send_frame(s, opcode, data):
    mask = os.urandom(4)
    n = len(data)
    if n < 126:
        head = bytes([0x80 | opcode, 0x80 | n])
    elif n < 65536:
        head = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
    s.sendall(head + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(data)))


def recv_frame(s):
    b0, b1 = recv_exact(s, 2)
    n = b1 & 0x7F
    if n == 126:
        n = int.from_bytes(recv_exact(s, 2), "big")
    elif n == 127:
        n = int.from_bytes(recv_exact(s, 8), "big")
    check(not b1 & 0x80, "a masked frame from the server")
    return b0 & 0x0F, recv_exact(s, n)


def echo(s, data, opcode=1):
    send_frame(s, opcode, data)
    op, got = recv_frame(s)
    check(op == opcode and got == data, "echo %r -> %r %r" % (data[:40], op, got[:40]))


def close(s):
    send_frame(s, 8, b"\x03\xe8")
    op, _ = recv_frame(s)
    check(op == 8, "no close answer")
    check(s.recv(1) == b"", "the connection stayed open after the close")
    s.close()
