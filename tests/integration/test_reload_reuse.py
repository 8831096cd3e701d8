"""A reload that changes one site reuses the previous generation's entries
of the others (config/reuse.c) and behaves as a whole load: the changed
site serves its new directory, its pool is recycled, an unchanged pool
keeps its worker; an added site serves; a file with an error changes
nothing and names the file, the line and the attribute; a change outside
the sites and pools (applicationPoolDefaults) loads the whole file."""
import os

import wasptest
from wasptest import check, wait_until

REUSED = "the unchanged sites and pools of the previous generation reused"


def site(srv, name, sid, phys=None, site_id=None):
    return {"name": name, "id": site_id or sid,
            "bindings": ["127.0.0.1:%d:%s" % (srv.port, srv.host(name))],
            "apps": [{"path": "/", "pool": name,
                      "physicalPath": phys or srv.content_dir(name)}]}


def write(srv, pools, sites, pool_defaults=None):
    tmp = srv.config_path + ".new"
    with open(tmp, "w") as f:
        f.write(wasptest.config_xml(pools, sites, pool_defaults))
    os.chmod(tmp, 0o644)
    os.rename(tmp, srv.config_path)


def reused(srv):
    return srv.read_log().count(REUSED)


def test(t):
    names = ["A", "B", "C"]
    # The reloads here are waspctl's: a file watch would reload the same
    # change once more and the counts would race it.
    srv = t.server(pools={n: {} for n in names},
                   args=("--watch-config=no",)).start()
    pid_a, pid_b = srv.get(pool="A").pid, srv.get(pool="B").pid
    pools = [{"name": n} for n in names]
    b2 = os.path.join(t.dir, "content-b2")
    os.makedirs(b2)
    os.chmod(b2, 0o755)
    with open(os.path.join(b2, "index.html"), "w") as f:
        f.write("pool B, second directory\n")
    os.chmod(os.path.join(b2, "index.html"), 0o644)

    # 1. B's site changed (its directory): A and C reused.
    sites = [site(srv, "A", 1), site(srv, "B", 2, phys=b2), site(srv, "C", 3)]
    write(srv, pools, sites)
    out = srv.waspctl("reload")
    check("1 recycled" in out["message"], "reload message %r" % out["message"])
    check(reused(srv) == 1, "the reload did not reuse entries")
    check(srv.get(pool="A").pid == pid_a, "pool A restarted by a reload that left it alone")
    wait_until(lambda: b"second directory" in srv.get(pool="B").body,
               what="pool B serving its new directory")
    check(srv.get(pool="B").pid != pid_b, "pool B not recycled")

    # 2. D added at the end.
    pools.append({"name": "D"})
    sites.append(site(srv, "D", 4))
    write(srv, pools, sites)
    out = srv.waspctl("reload")
    check("1 added" in out["message"] and reused(srv) == 2, "reload %r" % out["message"])
    check(srv.get(pool="D").status == 200, "the added site")

    # 3. An error in C's site: nothing changes, the error says where.
    bad = sites[:2] + [site(srv, "C", 3, site_id="three")] + sites[3:]
    write(srv, pools, bad)
    rc, out_, err = srv.waspctl("reload", json_output=False, check_status=False)
    text = open(srv.config_path).read()
    line = text[:text.index('id="three"')].count("\n") + 1
    check(rc != 0, "a reload of a broken file succeeded: %r" % out_)
    check("%s:%d" % (os.path.basename(srv.config_path), line) in err and "'id'" in err,
          "the error does not name the file, line %d and attribute: %r" % (line, err))
    check(b"second directory" in srv.get(pool="B").body and srv.get(pool="D").status == 200,
          "the running configuration changed after a failed reload")

    # 4. applicationPoolDefaults changed: the whole file is loaded.
    write(srv, pools, sites, pool_defaults={"queueLength": 500})
    out = srv.waspctl("reload")
    check(reused(srv) == 2, "a reload that changed the defaults reused entries")
    check(srv.pools()["A"]["queueLength"] == 500, "the defaults: %r" % srv.pools()["A"])
    check(srv.get(pool="C").status == 200, "pool C after the last reload")


wasptest.main(test)
