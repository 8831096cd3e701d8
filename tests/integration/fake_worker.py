"""A fake wasp-worker that breaks the activator protocol on purpose, for
test_peer_protocol.py (run through waspd's --test-hooks switch
WASP_TEST_WORKER_PROGRAM=POOL:PATH). The mode comes from argv[1] (the
wrapper script the test writes passes it):
  garbage   3 bytes that are no message
  badtype   a correct HELLO, then a message of an unknown type
  badlen    a correct HELLO, then WORKER_STATS with a wrong payload size
  badver    a HELLO with the wrong protocol version
  fdspam    a correct HELLO, then READY carrying an fd it must not carry
  register2 (as an adapter) a correct HELLO and ADAPTER_REGISTER, twice
  olddemand (as an adapter, well-behaved) registers, and once the ROUTE_TABLE
            of generation 2 (a reload) has come, sends POOL_DEMAND for pool id 1
            of generation 1: as if sent just before the new table arrived
  chanlost  (well-behaved) gets ready, then reports HANDOFF_CHANNEL_LOST for its
            handoff channel and closes it; it serves what comes on the new
            channel waspd pairs it with ("channel N" as the body)
argv[2] "adapter" makes it say it is an adapter in its HELLO.
Then it waits for waspd to close the channel or kill it."""
import os
import select
import socket
import struct
import sys

HDR = struct.Struct("=IHBBII")  # len, type, version, flags, seq, pid
VERSION = 5
HELLO, READY, STATS = 1, 301, 304
ROLE_WORKER = 3
ROLE_ADAPTER = 2
REGISTER, ROUTE_TABLE, POOL_DEMAND = 200, 201, 203
PING, PONG, DRAIN, HANDOFF_CHANNEL, CHANNEL_LOST = 302, 303, 305, 306, 307
HANDOFF, HANDOFF_ACK = 400, 401
ROLE = ROLE_ADAPTER if len(sys.argv) > 2 and sys.argv[2] == "adapter" else ROLE_WORKER


def msg(mtype, payload=b"", version=VERSION, flags=0):
    return HDR.pack(HDR.size + len(payload), mtype, version, flags, 0, os.getpid()) + payload


def hello(version=VERSION):
    return msg(HELLO, struct.pack("=IIII", version, ROLE, os.getpid(), 0), version=version)


def recv_msg(sock):
    """(type, payload, fd or None), or None at EOF."""
    data, anc, _, _ = sock.recvmsg(65536, socket.CMSG_SPACE(struct.calcsize("i")))
    fd = None
    for level, kind, fds in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fd = struct.unpack("i", fds[:4])[0]
    if not data:
        return None
    _, mtype, _, _, _, _ = HDR.unpack_from(data)
    return mtype, data[HDR.size:], fd


def chanlost(s):
    """A worker whose first handoff channel breaks: report it, serve on the next."""
    s.setblocking(True)
    s.send(hello())
    chans = {}  # socket -> its number
    n = 0
    ready = False
    while True:
        r, _, _ = select.select([s] + list(chans), [], [])
        for sock in r:
            m = recv_msg(sock)
            if sock is s:
                if m is None:
                    return
                mtype, payload, fd = m
                if mtype == HANDOFF_CHANNEL:
                    n += 1
                    h = socket.socket(fileno=fd)
                    h.setblocking(True)
                    h.send(hello())
                    chans[h] = n
                    adapter_id = struct.unpack_from("=I", payload)[0]
                elif fd is not None:
                    os.close(fd)
                if not ready and n == 1:
                    s.send(msg(READY))
                    ready = True
                    first = next(iter(chans))
                    s.send(msg(CHANNEL_LOST, struct.pack("=II", adapter_id, 0)))
                    del chans[first]
                    first.close()
                elif mtype == PING:
                    s.send(msg(PONG, payload))
                elif mtype == DRAIN:
                    return
                continue
            if m is None:
                del chans[sock]
                sock.close()
                continue
            mtype, payload, fd = m
            if mtype != HANDOFF or fd is None:
                continue
            conn_id = struct.unpack_from("=I", payload)[0]
            sock.send(msg(HANDOFF_ACK, struct.pack("=II", conn_id, 0)))
            c = socket.socket(fileno=fd)
            body = b"channel %d\n" % chans[sock]
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                      % (len(body), body))
            c.close()


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "garbage"
    fd = int(os.environ.get("WASP_CHANNEL_FD", "3"))
    s = socket.socket(fileno=fd)
    if mode == "chanlost":
        chanlost(s)
        return
    if mode == "garbage":
        s.send(b"\x01\x02\x03")
    elif mode == "badtype":
        s.send(hello())
        s.send(msg(9999, b"x" * 8))
    elif mode == "badlen":
        s.send(hello())
        s.send(msg(STATS, b"\0" * 5))
    elif mode == "badver":
        s.send(hello(version=VERSION + 100))
    elif mode == "fdspam":
        s.send(hello())
        r, w = os.pipe()
        s.sendmsg([msg(READY, flags=0x01)], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                               struct.pack("i", r))])
    elif mode == "olddemand":
        s.setblocking(True)
        s.send(hello())
        s.send(msg(REGISTER, b"http".ljust(32, b"\0")))
        fd_size = socket.CMSG_SPACE(struct.calcsize("i"))
        while True:
            data, anc, _, _ = s.recvmsg(65536, fd_size)
            for level, kind, fds in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    os.close(struct.unpack("i", fds[:4])[0])
            if not data:
                return
            _, mtype, _, _, _, _ = HDR.unpack_from(data)
            if mtype == ROUTE_TABLE and struct.unpack_from("=I", data, HDR.size)[0] == 2:
                s.send(msg(POOL_DEMAND, struct.pack("=II", 1, 1)))
                break
    elif mode == "register2":
        s.send(hello())
        s.send(msg(REGISTER, b"http".ljust(32, b"\0")))
        s.send(msg(REGISTER, b"http".ljust(32, b"\0")))
    # Wait until waspd cuts us off (EOF) or kills us.
    try:
        while s.recv(65536):
            pass
    except OSError:
        pass


main()
