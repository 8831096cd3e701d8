"""systemd integration: READY=1 once serving, WATCHDOG=1 at half of
WATCHDOG_USEC from the event loop, STOPPING=1 on SIGTERM; only waspd
itself talks to the notify socket (children do not inherit it)."""
import os
import signal
import socket
import struct
import wasptest
from wasptest import check, wait_until


def test(t):
    path = os.path.join(t.dir, "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    os.chmod(path, 0o777)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    sock.settimeout(0.05)
    msgs = []

    def drain():
        while True:
            try:
                data, anc, _, _ = sock.recvmsg(4096, socket.CMSG_SPACE(12))
            except (socket.timeout, BlockingIOError):
                return
            pid = None
            for level, typ, payload in anc:
                if level == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("iII", payload[:12])[0]
            msgs.append((pid, data.decode()))

    def seen(text):
        drain()
        return [m for m in msgs if text in m[1]]

    srv = t.server(pools={"A": {"startMode": "AlwaysRunning"}},
                   env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"}).start()
    wait_until(lambda: seen("READY=1"), what="READY=1")
    wait_until(lambda: len(seen("WATCHDOG=1")) >= 3, what="three WATCHDOG=1 pings")
    check(srv.get(pool="A").status == 200, "serving")
    srv.proc.send_signal(signal.SIGTERM)
    wait_until(lambda: seen("STOPPING=1"), what="STOPPING=1")
    check(srv.proc.wait(30) == 0, "exit status")
    drain()
    senders = {pid for pid, _ in msgs}
    check(senders == {srv.proc.pid}, "notify messages from %r, waspd is %d"
          % (senders, srv.proc.pid))


wasptest.main(test)
