"""Two pools' PHP kept apart, as root: pools A and B (ApplicationPoolIdentity,
each its own uid) each run php-cgi for a site of their own. Each pool's
php-cgi (found in `waspctl list wp`) runs under its pool's uid and gid, as
/proc shows, and is the child of its pool's worker; a file readable only by
its own pool's uid is read by its PHP, while the other pool's such file
is refused to it ("Permission denied" seen by PHP). Skipped when not
root."""
import json
import os

import fcgitest
import wasptest
from wasptest import check, skip

READ = """<?php
$f = $_GET['f'];
$data = @file_get_contents($f);
$err = error_get_last();
echo json_encode(['uid' => posix_geteuid(), 'gid' => posix_getegid(),
                  'pid' => getmypid(), 'ok' => $data !== false, 'data' => $data,
                  'error' => $err ? $err['message'] : null]);
"""


def status_ids(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return [int(x) for x in line.split()[1:]]
    return []


def ppid(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def test(t):
    if os.geteuid() != 0:
        skip("needs root: pools run under uids of their own only as root")
    php = fcgitest.php_cgi()
    srv = t.server(pools={"A": {}, "B": {}}, web_server_xml=fcgitest.web_server_xml(php))
    for p in ("A", "B"):
        fcgitest.write_php(srv, p, "read.php", READ)
    srv.start()
    uids = {p: srv.pools()[p]["uid"] for p in ("A", "B")}
    check(uids["A"] != uids["B"] and 0 not in uids.values(), "pool uids %r" % uids)
    secret = {}
    for p in ("A", "B"):
        secret[p] = os.path.join(srv.content_dir(p), "secret-%s.txt" % p)
        wasptest.write_content(secret[p], "only %s\n" % p)
        os.chown(secret[p], uids[p], uids[p])
        os.chmod(secret[p], 0o600)

    for p, other in (("A", "B"), ("B", "A")):
        r = srv.get("/read.php?f=" + secret[p], pool=p)
        check(r.status == 200, "%s reads its own: %r %r" % (p, r, r.body))
        d = json.loads(r.body)
        check(d["ok"] and d["data"] == "only %s\n" % p, "%s's own file: %r" % (p, d))
        check(d["uid"] == uids[p] and d["gid"] == uids[p], "%s's PHP ids %r" % (p, d))

        r = srv.get("/read.php?f=" + secret[other], pool=p)
        check(r.status == 200, "%s reads %s's: %r %r" % (p, other, r, r.body))
        d = json.loads(r.body)
        check(not d["ok"] and "Permission denied" in (d["error"] or ""),
              "%s's PHP read %s's file: %r" % (p, other, d))

        # the php-cgi waspd lists under the pool's worker, as /proc sees it
        # (the worker reports its processes once a second)
        def listed():
            ws = srv.workers(p)
            check(len(ws) == 1, "%s workers %r" % (p, ws))
            pcs = [a["pid"] for a in ws[0]["applications"] if a["kind"] == "fastcgi"]
            return (ws, pcs) if d["pid"] in pcs else None
        ws, pcs = wasptest.wait_until(listed, what="%s's php-cgi %d listed" % (p, d["pid"]))
        for pid in pcs:
            check(status_ids(pid, "Uid") == [uids[p]] * 4,
                  "%s's php-cgi %d uids %r" % (p, pid, status_ids(pid, "Uid")))
            check(status_ids(pid, "Gid") == [uids[p]] * 4,
                  "%s's php-cgi %d gids %r" % (p, pid, status_ids(pid, "Gid")))
            check(ppid(pid) == ws[0]["pid"], "%s's php-cgi %d is not its worker's child"
                  % (p, pid))


if __name__ == "__main__":
    wasptest.main(test)
