"""A NOTIFY_SOCKET the test owns, standing in for systemd: it keeps every
message waspd sends (sd_notify) with the sender's pid and the descriptors
passed with it (FDSTORE=1), and the helpers to start a waspd with stored
descriptors as systemd would pass them back (LISTEN_FDS, LISTEN_FDNAMES)."""
import array
import os
import socket
import struct
import sys

MAX_FDS = 64

# Run as a wrapper: put the descriptors named in WASP_PASS_FDS at 3...,
# say so in LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES, exec the rest.
_WRAPPER = r"""
import fcntl, os, sys
fds = [int(x) for x in os.environ.pop("WASP_PASS_FDS").split(",")]
names = os.environ.pop("WASP_PASS_FDNAMES")
tmp = [fcntl.fcntl(f, fcntl.F_DUPFD, 100) for f in fds]
for i, f in enumerate(tmp):
    os.dup2(f, 3 + i)
    os.close(f)
os.environ["LISTEN_FDS"] = str(len(fds))
os.environ["LISTEN_PID"] = str(os.getpid())
os.environ["LISTEN_FDNAMES"] = names
os.execv(sys.argv[1], sys.argv[1:])
"""


class Message:
    def __init__(self, pid, text, fds):
        self.pid = pid
        self.text = text
        self.fds = fds
        self.fields = {}
        for line in text.splitlines():
            k, _, v = line.partition("=")
            self.fields[k] = v

    def __repr__(self):
        return "<%s %r fds=%r>" % (self.pid, self.text, self.fds)


class NotifySocket:
    def __init__(self, directory):
        self.path = os.path.join(directory, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o777)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.settimeout(0.05)
        self.messages = []

    def drain(self):
        anc_size = socket.CMSG_SPACE(12) + socket.CMSG_SPACE(MAX_FDS * 4)
        while True:
            try:
                data, anc, _, _ = self.sock.recvmsg(4096, anc_size)
            except (socket.timeout, BlockingIOError):
                return self.messages
            pid, fds = None, []
            for level, typ, payload in anc:
                if level == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("iII", payload[:12])[0]
                elif level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                    a = array.array("i")
                    a.frombytes(payload[:len(payload) - len(payload) % 4])
                    fds.extend(a)
            self.messages.append(Message(pid, data.decode(), fds))

    def seen(self, field, value=None):
        """Messages with field (=value when given)."""
        self.drain()
        return [m for m in self.messages if field in m.fields and
                (value is None or m.fields[field] == value)]

    def close(self):
        for m in self.messages:
            for fd in m.fds:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.sock.close()


def wrapper(fds, names, env):
    """The command to put before waspd's so that it starts with fds passed
    under names; env gets what the wrapper reads."""
    env["WASP_PASS_FDS"] = ",".join(str(f) for f in fds)
    env["WASP_PASS_FDNAMES"] = ":".join(names)
    return [sys.executable, "-c", _WRAPPER]
