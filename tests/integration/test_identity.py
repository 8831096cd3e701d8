"""Identities as root: the listener runs unprivileged; ApplicationPoolIdentity
pools get distinct dedicated uids, SpecificUser runs as processModel
userName, LocalSystem as root; every child has no_new_privs and only
fds 0-3 plus what it opened itself. As an ordinary user: everything runs as
that user, with one warning."""
import os
import pwd
import wasptest
from wasptest import check, skip


def status_field(pid, name):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split()[1:]
    return None


def uid(pid):
    return int(status_field(pid, "Uid")[0])


def test(t):
    if os.geteuid() != 0:
        srv = t.server(pools={"A": {}}).start()
        r = srv.get(pool="A")
        check(r.status == 200, "%r" % r)
        check(uid(r.pid) == os.geteuid(), "worker uid %d" % uid(r.pid))
        log = srv.read_log()
        check(log.count("not running as root") == 1, "expected one warning:\n" + log)
        return
    try:
        nobody = pwd.getpwnam("nobody").pw_uid
    except KeyError:
        skip("no user 'nobody'")
    srv = t.server(pools={
        "A": {},
        "B": {},
        "U": {"processModel": {"identityType": "SpecificUser", "userName": "nobody"}},
        "S": {"processModel": {"identityType": "LocalSystem"}},
    }).start()
    pids = {}
    for name in ("A", "B", "U", "S"):
        r = srv.get(pool=name)
        check(r.status == 200 and r.pool == name, "%s: %r" % (name, r))
        pids[name] = r.pid
    ua, ub = uid(pids["A"]), uid(pids["B"])
    # the default range, clear of systemd's (homed, DynamicUser, containers)
    check(65536 <= ua <= 99999 and 65536 <= ub <= 99999, "pool uids %d %d" % (ua, ub))
    check(ua != ub, "A and B share uid %d" % ua)
    check(uid(pids["U"]) == nobody, "SpecificUser uid %d" % uid(pids["U"]))
    check(uid(pids["S"]) == 0, "LocalSystem uid %d" % uid(pids["S"]))
    pools = srv.pools()
    check(pools["A"]["uid"] == ua, "waspctl uid %r vs %d" % (pools["A"]["uid"], ua))
    for lp in srv.listener_pids():
        check(uid(lp) != 0, "listener runs as root")
    for pid in list(pids.values()) + srv.listener_pids():
        check(status_field(pid, "NoNewPrivs") == ["1"], "pid %d without no_new_privs" % pid)
        if uid(pid) != 0:
            check(status_field(pid, "Groups") in ([], None) or
                  "0" not in status_field(pid, "Groups"), "pid %d in group root" % pid)

    # Restarting with the same pools keeps the same uids (hash of the name).
    srv.stop()
    srv2 = t.server(pools={"Z": {}, "B": {}, "A": {}}).start()
    r = srv2.get(pool="A")
    check(uid(r.pid) == ua, "pool A moved from uid %d to %d" % (ua, uid(r.pid)))


wasptest.main(test)
