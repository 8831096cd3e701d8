"""What a local process can reach of wasp's processes (as root only: as an
ordinary user everything runs as that user).

- The listener runs as a user of its own, never a pool's: LocalService and
  NetworkService pools get uids of their own too (it used to be the shared
  www-data for all three).
- The listener and the workers are not dumpable (/proc/PID's files are
  root's) and
  have an empty capability bounding set.
- So a process running as a pool's uid, or as the listener's, cannot take
  the listener's or a worker's descriptors with pidfd_getfd (EPERM)."""
import ctypes
import errno
import os
import subprocess
import sys

import wasptest
from wasptest import check, skip

SYS_pidfd_getfd = 438

# Run as UID: pidfd_open(PID) + pidfd_getfd(pidfd, FD); print the errno (0
# when a descriptor was taken).
PROBE = r"""
import ctypes, os, sys
uid, pid, fd = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
os.setgroups([])
os.setresgid(uid, uid, uid)
os.setresuid(uid, uid, uid)
libc = ctypes.CDLL(None, use_errno=True)
try:
    pfd = os.pidfd_open(pid)
except OSError as e:
    print(e.errno); sys.exit(0)
r = libc.syscall(%d, pfd, fd, 0)
print(0 if r >= 0 else ctypes.get_errno())
""" % SYS_pidfd_getfd


def status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def uid_of(pid):
    return int(status(pid)["Uid"].split()[0])


def probe(uid, pid, fd=3):
    p = subprocess.run([sys.executable, "-c", PROBE, str(uid), str(pid), str(fd)],
                       capture_output=True, text=True, timeout=30)
    check(p.returncode == 0, "probe failed: %r" % p.stderr)
    return int(p.stdout.strip())


def test(t):
    if os.geteuid() != 0:
        skip("needs root (as an ordinary user everything runs as that user)")
    if not hasattr(os, "pidfd_open"):
        skip("python has no os.pidfd_open")
    srv = t.server(pools={
        "A": {},
        "L": {"processModel": {"identityType": "LocalService"}},
        "L2": {"processModel": {"identityType": "LocalService"}},
        "N": {"processModel": {"identityType": "NetworkService"}},
    }).start()
    pids = {}
    for name in ("A", "L", "L2", "N"):
        r = srv.get(pool=name)
        check(r.status == 200, "%s %r" % (name, r))
        pids[name] = r.pid
    lsn = srv.listener_pids()[0]
    uids = {n: uid_of(p) for n, p in pids.items()}
    luid = uid_of(lsn)
    check(luid != 0, "the listener runs as root")
    check(luid not in uids.values(), "a pool shares the listener's uid %d: %r" % (luid, uids))
    check(uids["L"] == uids["L2"], "LocalService pools differ: %r" % uids)
    check(len({uids["A"], uids["L"], uids["N"]}) == 3, "identities %r" % uids)
    check(0 not in uids.values(), "a pool runs as root: %r" % uids)

    for name, pid in [("listener", lsn)] + list(pids.items()):
        st = status(pid)
        check(int(st["CapBnd"], 16) == 0, "%s CapBnd %s" % (name, st["CapBnd"]))
        check(int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0,
              "%s has capabilities %r" % (name, st))
        # Not dumpable: the kernel gives the files of /proc/PID to root (the
        # directory itself keeps the process' uid).
        for f in ("environ", "fd", "mem"):
            owner = os.stat("/proc/%d/%s" % (pid, f)).st_uid
            check(owner == 0, "%s (pid %d): /proc/PID/%s owned by %d, so it is dumpable"
                  % (name, pid, f, owner))

    # Every pairing of a local uid and a target: EPERM, including the
    # target's own uid (a LocalService pool's code against its sibling
    # pool's worker and the listener's uid against the listener).
    for who, uid in (("LocalService pool", uids["L"]), ("listener user", luid),
                     ("ApplicationPoolIdentity pool", uids["A"])):
        for target, pid in (("listener", lsn), ("worker A", pids["A"]),
                            ("worker L2", pids["L2"]), ("worker N", pids["N"])):
            e = probe(uid, pid)
            check(e == errno.EPERM, "%s (uid %d) on the %s (pid %d): %s"
                  % (who, uid, target, pid,
                     "took its fd 3" if e == 0 else os.strerror(e)))
    # Everything still serves.
    for name in ("A", "L", "N"):
        check(srv.get(pool=name).status == 200, "%s after the probes" % name)


wasptest.main(test)
