"""What an operator sees of the processes: a worker shows its pool in ps
("wasp-worker: Alpha", as w3wp shows -ap "Alpha"), its comm stays
wasp-worker (pgrep, top); waspd's log lines, written to a file here (not a
terminal, not the journal), start with a timestamp."""
import re

import wasptest
from wasptest import check

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4} (waspd|wasp-http|wasp-worker)(/[^[]+)?\[\d+\]: (error|warning|notice|info|debug): ")


def test(t):
    srv = t.server(pools={"Alpha": {}, "Beta": {}}).start()
    ra = srv.get(pool="Alpha")
    rb = srv.get(pool="Beta")
    check(ra.status == 200 and rb.status == 200, "requests %r %r" % (ra, rb))
    for r, name in ((ra, "Alpha"), (rb, "Beta")):
        with open("/proc/%d/cmdline" % r.pid, "rb") as f:
            cmd = f.read()
        check(cmd == b"wasp-worker: " + name.encode() + b"\0", "pid %d cmdline %r" % (r.pid, cmd))
        with open("/proc/%d/comm" % r.pid) as f:
            comm = f.read().strip()
        check(comm == "wasp-worker", "pid %d comm %r" % (r.pid, comm))
    lines = [ln for ln in srv.read_log().splitlines() if ln.strip()]
    check(lines, "no log")
    bad = [ln for ln in lines if not STAMP.match(ln)]
    check(not bad, "log lines without a timestamp: %r" % bad[:5])


wasptest.main(test)
