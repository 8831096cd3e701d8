"""waspd prepares every logging site's log directory at startup, before any
worker runs: <logFile directory> (created 0755 when missing, with its
parents) and W3SVC<id> in it. As root, W3SVC<id> of a site served by one
pool belongs to that pool's identity (0750); a site served by two pools
(applications / and /b) gets a root-owned 0770 directory with a POSIX ACL
naming both pools' uids, and both pools' request lines end up in the same
u_exYYMMDD.log. A symbolic link named W3SVC<id>, and an existing W3SVC<id>
owned by some other uid, are left alone with a warning. As an ordinary user
the directories are created at startup (the root-only checks are skipped,
with a log line)."""
import errno
import glob
import os
import struct
import wasptest
from wasptest import check, log, wait_until, read_text

ACL_USER = 0x02
ACL_OTHER = 0x20
FOREIGN_UID = 12345  # neither root, nor a pool, nor in the pool uid range


def acl_entries(path, name="system.posix_acl_access"):
    """[(tag, perm, id)] of a POSIX ACL xattr, [] when there is none."""
    try:
        raw = os.getxattr(path, name, follow_symlinks=False)
    except OSError as e:
        if e.errno in (errno.ENODATA, errno.EOPNOTSUPP):
            return []
        raise
    version, = struct.unpack_from("<I", raw)
    check(version == 2, "ACL version %d on %s" % (version, path))
    return [struct.unpack_from("<HHI", raw, off) for off in range(4, len(raw), 8)]


def acl_supported(d):
    """Can this file system hold POSIX ACLs (probed on a scratch directory)?"""
    probe = os.path.join(d, "acl-probe")
    os.mkdir(probe)
    try:
        os.setxattr(probe, "system.posix_acl_default",
                    struct.pack("<IHHIHHIHHI", 2, 0x01, 7, 0xffffffff,
                                0x04, 0, 0xffffffff, 0x20, 0, 0xffffffff))
        return True
    except OSError as e:
        if e.errno == errno.EOPNOTSUPP:
            return False
        raise
    finally:
        os.rmdir(probe)


def lines_of(site_dir):
    """The entry lines of every u_ex*.log in site_dir (header lines left out)."""
    out = []
    for f in sorted(glob.glob(os.path.join(site_dir, "u_ex*.log"))):
        text = read_text(f)
        check(text.startswith("#Software: "), "%s starts with %r" % (f, text[:40]))
        out += [line for line in text.split("\n") if line and not line.startswith("#")]
    return out


def wait_logged(site_dir, needle, what):
    return wait_until(lambda: any(needle in line for line in lines_of(site_dir)),
                      10, what=what)


def test(t):
    root = os.geteuid() == 0
    base = os.path.join(t.dir, "logs")  # root-owned 0755 when run as root
    os.makedirs(base)
    os.chmod(base, 0o755)
    dir1 = os.path.join(base, "one", "nested")  # missing: waspd creates it
    dir2 = os.path.join(base, "two")
    os.makedirs(dir2)
    os.chmod(dir2, 0o755)
    if root:
        # W3SVC2 exists already, root's: waspd takes it over for its pools
        os.mkdir(os.path.join(dir2, "W3SVC2"))
        os.chmod(os.path.join(dir2, "W3SVC2"), 0o755)
    dir3 = os.path.join(base, "three")
    target = os.path.join(base, "target")
    dir4 = os.path.join(base, "four")
    if root:
        # W3SVC3 is a symbolic link to a directory of root's
        os.makedirs(dir3)
        os.mkdir(target)
        os.chmod(target, 0o700)
        os.symlink(target, os.path.join(dir3, "W3SVC3"))
        # W3SVC4 belongs to a uid that is none of wasp's
        os.makedirs(os.path.join(dir4, "W3SVC4"))
        os.chown(os.path.join(dir4, "W3SVC4"), FOREIGN_UID, FOREIGN_UID)
        os.chmod(os.path.join(dir4, "W3SVC4"), 0o700)
    else:
        log("not root: the ownership, ACL, symbolic link and foreign owner checks "
            "are skipped (they need root)")

    pools = {"A": {}, "B": {}, "C": {}}

    def app(path, pool):
        return {"path": path, "pool": pool,
                "physicalPath": os.path.join(t.dir, "content", pool)}
    srv_sites = [
        {"name": "one", "id": 1, "bindings": ["127.0.0.1:{port}:one.test"],
         "apps": [app("/", "A")]},
        {"name": "two", "id": 2, "bindings": ["127.0.0.1:{port}:two.test"],
         "apps": [app("/", "B"), app("/b", "C")]},
    ]
    if root:
        srv_sites += [
            {"name": "three", "id": 3, "bindings": ["127.0.0.1:{port}:three.test"],
             "apps": [app("/", "A")]},
            {"name": "four", "id": 4, "bindings": ["127.0.0.1:{port}:four.test"],
             "apps": [app("/", "A")]},
        ]
    log_dirs = {1: dir1, 2: dir2, 3: dir3, 4: dir4}
    srv = t.server(pools=pools, sites=srv_sites)
    for name in pools:
        srv.content_dir(name)
    cfg = srv.config_text
    for s in srv_sites:
        head = "      <site name=%s id=\"%d\">\n" % (wasptest.quoteattr(s["name"]), s["id"])
        check(head in cfg, "site %d in the config" % s["id"])
        cfg = cfg.replace(head, head + "        <logFile directory=%s />\n"
                          % wasptest.quoteattr(log_dirs[s["id"]]))
    srv.config_text = cfg
    srv.start()

    site1 = os.path.join(dir1, "W3SVC1")
    site2 = os.path.join(dir2, "W3SVC2")
    # before any request: waspd made them (no worker has run yet)
    check(srv.worker_processes() == [], "workers before any request")
    check(os.path.isdir(site1) and os.path.isdir(site2),
          "W3SVC1/W3SVC2 not created at startup: %r %r"
          % (os.path.exists(site1), os.path.exists(site2)))
    for d in (os.path.join(base, "one"), dir1):
        check(os.stat(d).st_mode & 0o7777 == 0o755, "%s mode %o" % (d, os.stat(d).st_mode))

    uids = {}
    acl = False
    if root:
        uids = {name: p["uid"] for name, p in srv.pools().items()}
        check(len(set(uids.values())) == 3, "pool uids %r" % uids)
        for d in (os.path.join(base, "one"), dir1):
            check(os.stat(d).st_uid == 0, "%s owner %d" % (d, os.stat(d).st_uid))
        st = os.stat(site1)
        check((st.st_uid, st.st_gid) == (uids["A"], uids["A"]),
              "W3SVC1 owner %d:%d, pool A is %d" % (st.st_uid, st.st_gid, uids["A"]))
        check(st.st_mode & 0o7777 == 0o750, "W3SVC1 mode %o" % st.st_mode)
        check(acl_entries(site1) == [], "W3SVC1 has an ACL")
        acl = acl_supported(base)
        st = os.stat(site2)
        if acl:
            check(st.st_uid == 0, "W3SVC2 owner %d" % st.st_uid)
            check(st.st_mode & 0o7007 == 0, "W3SVC2 mode %o" % st.st_mode)
            for name in ("system.posix_acl_access", "system.posix_acl_default"):
                ents = acl_entries(site2, name)
                users = sorted(e[2] for e in ents if e[0] == ACL_USER)
                check(users == sorted([uids["B"], uids["C"]]),
                      "W3SVC2 %s users %r, pools B and C are %d, %d"
                      % (name, users, uids["B"], uids["C"]))
                check(all(e[1] == 7 for e in ents if e[0] == ACL_USER) and
                      [e[1] for e in ents if e[0] == ACL_OTHER] == [0],
                      "W3SVC2 %s %r" % (name, ents))
        else:
            log("no POSIX ACLs on this file system: only the fallback is checked")
            srv.wait_log("cannot share log directory '%s'" % site2)
            check(st.st_uid in (uids["B"], uids["C"]), "W3SVC2 owner %d" % st.st_uid)
        # the symbolic link and the foreign directory: untouched, warned about
        srv.wait_log("log directory '%s' is a symbolic link" % os.path.join(dir3, "W3SVC3"))
        st = os.stat(target)
        check((st.st_uid, st.st_mode & 0o7777) == (0, 0o700),
              "the link's target changed: %d %o" % (st.st_uid, st.st_mode))
        srv.wait_log("log directory '%s' belongs to uid %d"
                     % (os.path.join(dir4, "W3SVC4"), FOREIGN_UID))
        st = os.stat(os.path.join(dir4, "W3SVC4"))
        check((st.st_uid, st.st_mode & 0o7777) == (FOREIGN_UID, 0o700),
              "W3SVC4 changed: %d %o" % (st.st_uid, st.st_mode))

    # site 1: pool A
    r = srv.get("/index.html?one", host="one.test")
    check(r.status == 200 and r.pool == "A", "site 1: %r" % r)
    wait_logged(site1, "/index.html one ", "site 1's line in W3SVC1")
    # site 2: pool B first (its worker creates the file), then pool C
    # appends to the same file
    r = srv.get("/index.html?by-b", host="two.test")
    check(r.status == 200 and r.pool == "B", "site 2 /: %r" % r)
    wait_logged(site2, "/index.html by-b ", "pool B's line in W3SVC2")
    r = srv.get("/b/index.html?by-c", host="two.test")
    check(r.status == 200 and r.pool == "C", "site 2 /b: %r" % r)
    if root and not acl:
        return
    wait_logged(site2, "/b/index.html by-c ", "pool C's line in W3SVC2")
    files = glob.glob(os.path.join(site2, "u_ex*.log"))
    if len(files) == 1:  # (two only when the UTC day changed in between)
        text = read_text(files[0])
        check("by-b" in text and "by-c" in text, "one file, both pools: %r" % text)
    if root:
        owners = {os.stat(f).st_uid for f in files}
        check(owners <= {uids["B"], uids["C"]}, "W3SVC2 file owners %r" % owners)
        for f in files:
            check(os.stat(f).st_mode & 0o007 == 0, "%s mode %o" % (f, os.stat(f).st_mode))
    check("Permission denied" not in srv.read_log(), "a permission error in the log")
    check(srv.stop() == 0, "waspd exit status")


wasptest.main(test)
