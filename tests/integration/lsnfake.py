"""Fake peers for testing a protocol adapter (wasp-http) on its own: a fake
activator that starts the adapter with its channel, hands it listening
sockets and a routing table, and fake workers that take HANDOFFs.

It speaks the wire format of common/ipc.h and common/msg.h directly:
16-byte header (u32 len, u16 type, u8 version, u8 flags, u32 seq, u32 pid),
host byte order, at most one fd per message (SCM_RIGHTS)."""

import fcntl
import json
import os
import resource
import select
import socket
import struct
import subprocess
import time

import wasptest
from wasptest import check, Failure, TIME_SCALE

IPC_VERSION = 5
HDR = struct.Struct("=IHBBII")
F_HAS_FD = 0x01

ROLE_ACTIVATOR, ROLE_ADAPTER, ROLE_WORKER = 1, 2, 3

HELLO = 1
ADAPTER_REGISTER = 200
ROUTE_TABLE = 201
LISTEN_SOCKET = 202
POOL_DEMAND = 203
WORKER_CHANNEL = 204
WORKER_GONE = 205
POOL_STATE = 206
ADAPTER_STATS = 207
ADAPTER_METRICS = 260
ADAPTER_POOL_METRICS = 261
HANDOFF = 400
HANDOFF_ACK = 401
HANDBACK = 402
HANDOFF_REFUSED = 403
WORKER_ROOM = 404
HANDOFF_F_ACK_MANY = 0x1

NAMES = {v: k for k, v in globals().items() if isinstance(v, int) and k.isupper()
         and k not in ("IPC_VERSION", "F_HAS_FD", "HANDOFF_F_ACK_MANY")
         and not k.startswith("ROLE_")}

STARTING, STARTED, STOPPING, STOPPED = 0, 1, 2, 3


class Msg:
    def __init__(self, type_, seq, payload, fd):
        self.type = type_
        self.seq = seq
        self.payload = payload
        self.fd = fd

    def __repr__(self):
        return "<Msg %s seq=%d %d bytes fd=%s>" % (NAMES.get(self.type, self.type), self.seq,
                                                  len(self.payload), self.fd)


def send(sock, type_, payload=b"", fd=None, seq=0):
    flags = F_HAS_FD if fd is not None else 0
    data = HDR.pack(HDR.size + len(payload), type_, IPC_VERSION, flags, seq,
                    os.getpid()) + payload
    if fd is not None:
        socket.send_fds(sock, [data], [fd])
    else:
        sock.send(data)


def recv(sock, timeout=5.0):
    """One message, or Failure after timeout. None on EOF."""
    r, _, _ = select.select([sock], [], [], timeout * TIME_SCALE)
    if not r:
        raise Failure("no message within %.1fs" % (timeout * TIME_SCALE))
    data, fds, _flags, _addr = socket.recv_fds(sock, 65536, 1)
    if not data:
        return None
    length, type_, version, flags, seq, _pid = HDR.unpack_from(data)
    check(length == len(data), "length field %d, %d bytes" % (length, len(data)))
    check(version == IPC_VERSION, "version %d" % version)
    check(bool(flags & F_HAS_FD) == bool(fds), "HAS_FD flag and fds disagree")
    return Msg(type_, seq, data[HDR.size:], fds[0] if fds else None)


def hello(role):
    return struct.pack("=IIII", IPC_VERSION, role, os.getpid(), 0)


def sealed_memfd(data):
    fd = os.memfd_create("wasp-test-routes", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    os.write(fd, data)
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW
                | fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SEAL)
    return fd


class FakeWorker:
    """The worker end of a handoff channel."""

    def __init__(self, sock, worker_id):
        self.sock = sock
        self.worker_id = worker_id
        self.greeted = False

    def _greet(self):
        if self.greeted:
            return
        m = recv(self.sock)
        check(m is not None and m.type == HELLO, "first message on a handoff channel: %r" % m)
        ver, role, _pid, _ = struct.unpack("=IIII", m.payload)
        check(role == ROLE_ADAPTER, "adapter HELLO role %d" % role)
        send(self.sock, HELLO, hello(ROLE_WORKER))
        self.greeted = True

    def handoff(self, timeout=5.0):
        """The next HANDOFF: dict with conn_id, site_id, app_path, data, fd (a socket)."""
        self._greet()
        m = recv(self.sock, timeout)
        check(m is not None and m.type == HANDOFF, "expected HANDOFF, got %r" % m)
        check(m.fd is not None, "HANDOFF without an fd")
        conn_id, site_id, plen, dlen, gen, flags, protolen, tlslen = \
            struct.unpack_from("=IIIIIIII", m.payload)
        off = 72  # then the addresses (16 + 16 bytes, 2 ports, reserved)
        check(len(m.payload) == off + plen + protolen + tlslen + dlen, "HANDOFF length")
        app = m.payload[off:off + plen].decode()
        data = m.payload[off + plen + protolen + tlslen:]
        check(m.seq == conn_id, "HANDOFF seq %d, conn_id %d" % (m.seq, conn_id))
        return {"conn_id": conn_id, "site_id": site_id, "app_path": app, "data": data,
                "generation": gen, "flags": flags,
                "sock": socket.socket(fileno=m.fd)}

    def expect_nothing(self, timeout=0.3):
        self._greet()
        r, _, _ = select.select([self.sock], [], [], timeout)
        check(not r, "unexpected message on the handoff channel")

    def ack(self, *hs):
        """One HANDOFF_ACK for these handoffs (a worker acknowledges what it
        took on one wakeup at once)."""
        send(self.sock, HANDOFF_ACK, b"".join(struct.pack("=II", h["conn_id"], 0) for h in hs))

    def room(self, capacity=0, released=0):
        """WORKER_ROOM: our connection limit, and connections we closed."""
        self._greet()
        send(self.sock, WORKER_ROOM, struct.pack("=II", capacity, released))

    def refuse(self, *hs):
        """HANDOFF_REFUSED for these handoffs."""
        send(self.sock, HANDOFF_REFUSED,
             b"".join(struct.pack("=II", h["conn_id"], 0) for h in hs))

    def handback(self, conn_sock, data, conn_id=0):
        send(self.sock, HANDBACK, struct.pack("=III", conn_id, len(data), 0) + data,
             fd=conn_sock.fileno())

    def close(self):
        self.sock.close()


def respond(h, body=b"ok\n", status=200):
    """Answer the request a handoff carried (as a worker would) and close."""
    s = h["sock"]
    s.sendall(b"HTTP/1.1 %d X\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
              % (status, len(body), body))
    s.close()


class FakeActivator:
    """Starts the adapter program with one end of a SEQPACKET pair."""

    def __init__(self, test, program="protocols/http/wasp-http", args=(), max_fds=None):
        wasptest.require_programs(program)
        self.test = test
        self.port = wasptest.free_port()
        self.listen = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listen.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listen.bind(("127.0.0.1", self.port))
        self.listen.listen(128)
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        n = 0
        while os.path.exists(os.path.join(test.dir, "adapter-%d.log" % n)):
            n += 1
        self.log_path = os.path.join(test.dir, "adapter-%d.log" % n)
        self.logf = open(self.log_path, "ab")
        env = dict(os.environ)
        env.setdefault("WASP_LOG_LEVEL", "debug")
        env.pop("WASP_CHANNEL_FD", None)
        def limit():
            if max_fds:
                resource.setrlimit(resource.RLIMIT_NOFILE, (max_fds, max_fds))
        self.proc = subprocess.Popen(
            [wasptest.program(program), "--channel-fd", str(theirs.fileno())] + list(args),
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=self.logf,
            stderr=self.logf, env=env, start_new_session=True, preexec_fn=limit)
        test._register_group(self.proc.pid)
        theirs.close()
        self.generation = 0
        self.demands = []
        self.stats = []
        self.metrics = []  # (type, payload) of ADAPTER_METRICS, ADAPTER_POOL_METRICS
        self.next_worker = 1

    def handshake(self):
        m = recv(self.sock)
        check(m is not None and m.type == HELLO, "adapter's first message %r" % m)
        ver, role, _pid, _ = struct.unpack("=IIII", m.payload)
        check(ver == IPC_VERSION and role == ROLE_ADAPTER, "adapter HELLO %d %d" % (ver, role))
        send(self.sock, HELLO, hello(ROLE_ACTIVATOR))
        m = recv(self.sock)
        check(m is not None and m.type == ADAPTER_REGISTER, "expected REGISTER, got %r" % m)
        proto = m.payload.split(b"\0", 1)[0].decode()
        check(proto == "http", "registered protocol %r" % proto)

    def send_table(self, table, sockets=True):
        self.generation += 1
        table = dict(table, generation=self.generation)
        if sockets:
            send(self.sock, LISTEN_SOCKET, struct.pack("=II", self.generation, 0),
                 fd=self.listen.fileno())
        fd = sealed_memfd(json.dumps(table).encode())
        send(self.sock, ROUTE_TABLE, struct.pack("=I", self.generation), fd=fd)
        os.close(fd)

    def pool_state(self, pool_id, state, reason=0):
        send(self.sock, POOL_STATE, struct.pack("=IIII", pool_id, state, reason,
                                                self.generation))

    def add_worker(self, pool_id, pid=None):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        wid = self.next_worker
        self.next_worker += 1
        send(self.sock, WORKER_CHANNEL,
             struct.pack("=IIII", pool_id, wid, pid or os.getpid(), self.generation),
             fd=theirs.fileno())
        theirs.close()
        return FakeWorker(ours, wid)

    def worker_gone(self, w, pool_id):
        send(self.sock, WORKER_GONE, struct.pack("=IIII", pool_id, w.worker_id, 0,
                                                 self.generation))

    def poll(self, timeout=0.0):
        """Read what the adapter sent (demands, stats) for up to timeout s."""
        deadline = time.monotonic() + timeout * TIME_SCALE
        while True:
            left = max(0.0, deadline - time.monotonic())
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return
            m = recv(self.sock)
            if m is None:
                raise Failure("adapter closed its activator channel")
            if m.type == POOL_DEMAND:
                self.demands.append(struct.unpack("=II", m.payload))
            elif m.type == ADAPTER_STATS:
                self.stats.append(struct.unpack("=QQQQII", m.payload))
            elif m.type in (ADAPTER_METRICS, ADAPTER_POOL_METRICS):
                self.metrics.append((m.type, m.payload))
            else:
                raise Failure("unexpected message from the adapter: %r" % m)
            if m.fd is not None:
                os.close(m.fd)

    def wait_demand(self, pool_id, count=1, timeout=5.0):
        def have():
            self.poll(0.05)
            return len([d for d in self.demands if d[0] == pool_id]) >= count
        wasptest.wait_until(have, timeout, what="POOL_DEMAND for pool %d" % pool_id)

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            st = f.read()
        f = st[st.rindex(")") + 2:].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def close(self):
        self.sock.close()
