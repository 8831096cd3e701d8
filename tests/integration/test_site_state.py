"""start|stop site: a stopped site's bindings answer 404 (HTTP.sys without
the site's URLs), other sites are untouched, `list site` shows
state:Stopped; a site with serverAutoStart="false" starts stopped; the state
survives a reload and is not written to the file (appcmd's stop site does
not write serverAutoStart)."""
import os

import wasptest
from wasptest import check, wait_until


def status(srv, pool):
    return srv.get("/index.html", pool=pool).status


def site_state(srv, name):
    return [s["state"] for s in srv.waspctl("list", "site")["sites"] if s["name"] == name][0]


def test(t):
    srv = t.server(pools={"A": {}, "B": {}})
    srv.sites[1]["attrs"] = {"serverAutoStart": False}
    srv.config_text = wasptest.config_xml([{"name": "A"}, {"name": "B"}], srv.sites)
    srv.start()
    check(site_state(srv, "B") == "Stopped", "serverAutoStart=false did not start stopped")
    text = srv.waspctl("list", "site", "B", json_output=False)
    check("state:Stopped" in text, "list site: " + text)
    check(status(srv, "B") == 404 and status(srv, "A") == 200, "stopped B / started A")
    httperr = os.path.join(t.dir, "logs", "HTTPERR", "httperr1.log")
    line = wait_until(lambda: [ln for ln in open(httperr) if " GET /index.html 404 " in ln],
                      what="the HTTPERR line of a stopped site")[0]
    check(line.split()[-2] == "NotFound", "HTTPERR: " + line)

    out = srv.waspctl("start", "site", "B", json_output=False)
    check(out.startswith('start site "B": site started (state Started)'), "start: " + out)
    wait_until(lambda: status(srv, "B") == 200, what="B served once started")
    check(site_state(srv, "B") == "Started", "B's state")

    # stop B while both sites have traffic: A's clients see nothing of it
    load_a = wasptest.Load(srv, pool="A", threads=2).start()
    load_b = wasptest.Load(srv, pool="B", threads=2).start()
    wait_until(lambda: load_a.ok > 20 and load_b.ok > 20, what="traffic on both sites")
    with srv.keepalive(pool="B") as ka:
        check(ka.get("/index.html").status == 200, "B on a kept-alive connection")
        r = srv.waspctl("stop", "site", "/site.name:B")
        check(r["ok"] and r["state"] == "Stopped", "stop: %r" % r)
        check(status(srv, "B") == 404, "a stopped site's new connection")
        check(ka.get("/index.html").status == 404, "a stopped site's kept-alive connection")
    n = load_a.ok
    wait_until(lambda: load_a.ok > n + 20, what="A served while B is stopped")
    load_a.stop()
    load_b.stop()
    check(not load_a.failures, "A's clients saw B stop: %r" % load_a.failures[:5])
    check(any("404" in f for f in load_b.failures), "B's clients saw no 404")

    rc, _, err = srv.waspctl("stop", "site", "B", check_status=False)
    check(rc == 1 and "already stopped" in err, "stop twice: %d %r" % (rc, err))
    rc, _, err = srv.waspctl("stop", "site", "Nope", check_status=False)
    check(rc == 1 and "no site named 'Nope'" in err, "stop a missing site: %r" % err)

    # a reload keeps the runtime state; the file never had it written
    srv.waspctl("reload")
    check(site_state(srv, "B") == "Stopped" and status(srv, "B") == 404, "B after a reload")
    with open(srv.config_path) as f:
        check('<site name="A" id="1">' in f.read(), "stop site wrote the file")
    srv.waspctl("start", "site", "B")
    wait_until(lambda: status(srv, "B") == 200, what="B started again")

    # serverAutoStart is read at start: a running site stays started when a
    # reload brings false, a site the reload adds with false starts stopped
    sites = [dict(s) for s in srv.sites]
    sites[0]["attrs"] = {"serverAutoStart": False}
    sites.append({"name": "C", "id": 3, "attrs": {"serverAutoStart": False},
                  "bindings": ["127.0.0.1:%d:c.test" % srv.port],
                  "apps": [{"path": "/", "pool": "A", "physicalPath": srv.content_dir("C")}]})
    with open(srv.config_path, "w") as f:
        f.write(wasptest.config_xml([{"name": "A"}, {"name": "B"}], sites))
    srv.waspctl("reload")
    check(site_state(srv, "A") == "Started" and status(srv, "A") == 200, "A after the reload")
    check(site_state(srv, "C") == "Stopped" and status(srv, "C") == 404, "C after the reload")
    srv.waspctl("start", "site", "C")
    wait_until(lambda: status(srv, "C") == 200, what="C started")


wasptest.main(test)
