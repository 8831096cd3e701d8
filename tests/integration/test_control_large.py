"""`waspctl list apppool` with more pools than one reply line holds: the
reply (about 17 MiB of JSON for 28,000 pools with 200-byte names, over the
16 MiB that was its limit) comes in lines of at most 1,000 entries, each
but the last with "more": true, and waspctl puts them together, in order."""
import json
import os
import socket

import wasptest
from wasptest import check

N_POOLS = 28000
# long names: fewer pools to cross the limit (a faster test)
PAD = "x" * 194


def pool_name(i):
    return "P%05d%s" % (i, PAD)
CLIENT_LINE_MAX = 16 * 1024 * 1024


def raw_lines(srv, request):
    """The reply's lines as waspd writes them."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60 * wasptest.TIME_SCALE)
    s.connect(os.path.join(srv.runtime_dir, "control.sock"))
    s.sendall((json.dumps(request) + "\n").encode())
    f = s.makefile("rb")
    lines = []
    while True:
        line = f.readline()
        check(line.endswith(b"\n"), "a reply line without its end: %r" % line[:200])
        lines.append(json.loads(line))
        if not lines[-1].get("more"):
            break
    s.close()
    return lines


def test(t):
    pools = {pool_name(i): {} for i in range(N_POOLS)}
    sites = [{"name": "S", "id": 1, "bindings": ["127.0.0.1:{port}:"],
              "apps": [{"path": "/", "pool": pool_name(0), "physicalPath": t.dir}]}]
    # as root every pool gets a uid of its own
    srv = t.server(pools=pools, sites=sites,
                   args=("--pool-uid-range", "100000-199999"))
    srv.start(wait=False)
    srv.wait_ready(timeout=120)  # 28,000 pools to load, and to list

    lines = raw_lines(srv, {"verb": "list", "object": "apppool"})
    check(len(lines) == N_POOLS // 1000, "%d lines" % len(lines))
    for line in lines:
        check(line["ok"] is True and len(line["apppools"]) <= 1000, "a line: %r" %
              {k: v for k, v in line.items() if k != "apppools"})
    total = sum(len(json.dumps(x["apppools"], separators=(",", ":"))) for x in lines)
    check(total > CLIENT_LINE_MAX, "the listing is only %d bytes" % total)

    r = srv.waspctl("list", "apppool", timeout=120)
    names = [p["name"] for p in r["apppools"]]
    check(names == [pool_name(i) for i in range(N_POOLS)],
          "%d pools listed, first %r" % (len(names), names[:3]))
    check("more" not in r, "'more' left in the reply")
    text = srv.waspctl("list", "apppool", json_output=False, timeout=120)
    check(text.count("\n") >= N_POOLS and pool_name(N_POOLS - 1) in text, "table of %d lines" %
          text.count("\n"))


wasptest.main(test)
