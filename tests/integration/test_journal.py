"""Under systemd (stderr is the stream JOURNAL_STREAM names) waspd, the
listener and the workers send their lines to journald's native socket (here
one the test owns, named by WASP_JOURNAL_SOCKET), each entry with PRIORITY,
SYSLOG_IDENTIFIER of the process kind, SYSLOG_PID and, for a worker,
WASP_POOL; configuration diagnostics keep their priority (a warning is 4)."""
import os
import socket
import struct
import threading

import wasptest
from wasptest import check, wait_until


def parse_entry(data):
    """The fields of one native-protocol datagram: {NAME: [values]}."""
    fields = {}
    i = 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            i = nl + 1
        else:  # binary form: NAME\n, le64 length, value, \n
            k = line
            (n,) = struct.unpack("<Q", data[nl + 1:nl + 9])
            v = data[nl + 9:nl + 9 + n]
            check(data[nl + 9 + n:nl + 10 + n] == b"\n", "binary field %r" % k)
            i = nl + 10 + n
        fields.setdefault(k.decode(), []).append(v.decode("utf-8", "replace"))
    return fields


def test(t):
    path = os.path.join(t.dir, "journal.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    os.chmod(path, 0o666)  # workers log as their pools' identities
    os.chmod(t.dir, 0o755)
    sock.settimeout(0.1)
    entries = []
    done = threading.Event()

    # read as journald does, all the time: a full queue sends lines to
    # stderr instead (the senders never block on the journal)
    def reader():
        while not done.is_set():
            try:
                entries.append(parse_entry(sock.recv(65536)))
            except socket.timeout:
                pass

    th = threading.Thread(target=reader, daemon=True)
    th.start()

    srv = t.server(pools={"A": {}})
    # an application in a pool that does not exist: a configuration warning
    srv.sites[0]["apps"].append({"path": "/gone", "pool": "NoSuchPool",
                                 "physicalPath": srv.content_dir("A")})
    srv.config_text = wasptest.config_xml([{"name": "A"}], srv.sites)
    # stderr is the log file: JOURNAL_STREAM names it, as systemd would
    with open(srv.log_path, "ab"):
        pass
    st = os.stat(srv.log_path)
    srv.env.update({"JOURNAL_STREAM": "%d:%d" % (st.st_dev, st.st_ino),
                    "WASP_JOURNAL_SOCKET": path})
    srv.start()
    r = srv.get(pool="A")
    check(r.status == 200, "request %r" % r)
    wpid = r.pid

    def seen(ident, pid=None, pool=None):
        for e in list(entries):
            if e.get("SYSLOG_IDENTIFIER") != [ident]:
                continue
            if pid is not None and e.get("SYSLOG_PID") != [str(pid)]:
                continue
            if pool is not None and e.get("WASP_POOL") != [pool]:
                continue
            return e
        return None

    wait_until(lambda: seen("waspd", srv.proc.pid), what="an entry of waspd")
    lpid = srv.listener_pids()[0]
    wait_until(lambda: seen("wasp-http", lpid), what="an entry of the listener")
    wait_until(lambda: seen("wasp-worker", wpid, "A"), what="an entry of pool A's worker")
    for e in list(entries):
        check(len(e.get("PRIORITY", [])) == 1 and e["PRIORITY"][0] in "01234567",
              "entry without a priority: %r" % e)
        check(len(e.get("MESSAGE", [])) == 1, "entry without a message: %r" % e)
        check(e["SYSLOG_IDENTIFIER"][0] in ("waspd", "wasp-http", "wasp-worker"),
              "identity %r" % e)
    warn = [e for e in entries if e["SYSLOG_IDENTIFIER"] == ["waspd"]
            and "no application pool 'NoSuchPool'" in e["MESSAGE"][0]]
    check(warn and warn[0]["PRIORITY"] == ["4"], "the configuration warning: %r" % warn)
    check("applicationHost.config:" in warn[0]["MESSAGE"][0], "its file: %r" % warn)
    srv.stop()
    done.set()
    th.join()
    sock.close()


if __name__ == "__main__":
    wasptest.main(test)
