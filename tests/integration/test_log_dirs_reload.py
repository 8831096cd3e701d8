"""A reload prepares again only the site log directories whose path or
writers changed. Site 1 (pool A) stays as it was: its W3SVC1, changed by
hand to 0700 after the start, is left so (before, every reload chowned and
chmodded every site's directory again: 10,000 of them with 10,000 sites).
Site 2 moves from pool B to pool A: its W3SVC2 is given to pool A's uid.
Root only (as an ordinary user the directories are only created, and
there is no owner to give them to)."""
import os
import wasptest
from wasptest import check, skip


def test(t):
    if os.geteuid() != 0:
        skip("not root: log directories are given to pool identities only as root")
    base = os.path.join(t.dir, "logs")
    os.makedirs(base)
    os.chmod(base, 0o755)
    pools = {"A": {}, "B": {}}

    def site(name, sid, pool):
        return {"name": name, "id": sid, "bindings": ["127.0.0.1:{port}:%s.test" % name],
                "apps": [{"path": "/", "pool": pool,
                          "physicalPath": os.path.join(t.dir, "content", pool)}]}
    srv = t.server(pools=pools, sites=[site("one", 1, "A"), site("two", 2, "B")])
    for name in pools:
        srv.content_dir(name)
    logfile = "        <logFile directory=%s />\n" % wasptest.quoteattr(base)

    def with_logs(cfg):
        for sid, name in ((1, "one"), (2, "two")):
            head = "      <site name=%s id=\"%d\">\n" % (wasptest.quoteattr(name), sid)
            check(head in cfg, "site %d in the config" % sid)
            cfg = cfg.replace(head, head + logfile)
        return cfg
    srv.config_text = with_logs(srv.config_text)
    srv.start()
    uids = {name: p["uid"] for name, p in srv.pools().items()}
    site1, site2 = os.path.join(base, "W3SVC1"), os.path.join(base, "W3SVC2")
    st = os.stat(site1)
    check((st.st_uid, st.st_mode & 0o7777) == (uids["A"], 0o750), "W3SVC1 at the start")
    check(os.stat(site2).st_uid == uids["B"], "W3SVC2 at the start")
    os.chmod(site1, 0o700)

    # site two moves to pool A; site one does not change
    two = 'applicationPool="B"'
    check(srv.config_text.count(two) == 1, "site two's application in the config")
    srv.config_text = srv.config_text.replace(two, 'applicationPool="A"')
    with open(srv.config_path, "w") as f:
        f.write(srv.config_text)
    srv.waspctl("reload")
    st = os.stat(site2)
    check((st.st_uid, st.st_mode & 0o7777) == (uids["A"], 0o750),
          "W3SVC2 after its site moved to pool A: uid %d mode %o (pool A is %d)"
          % (st.st_uid, st.st_mode & 0o7777, uids["A"]))
    st = os.stat(site1)
    check(st.st_mode & 0o7777 == 0o700,
          "W3SVC1 prepared again although nothing of it changed: mode %o"
          % (st.st_mode & 0o7777))
    r = srv.get("/index.html", host="two.test")
    check(r.status == 200 and r.pool == "A", "site two after the reload: %r" % r)
    check(srv.stop() == 0, "waspd exit status")


wasptest.main(test)
