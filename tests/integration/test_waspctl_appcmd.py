"""waspctl speaks appcmd: list site, app, vdir, apppool and wp print appcmd's
lines (SITE "Name" (id:1,bindings:...,state:Started)); a name positional or
as /name:X or /OBJECT.name:X; /ATTR:VALUE filters (/apppool.name:X lists a
pool's applications); /text:ATTR and /text:*; --json is {"ok": true, ...} or
{"ok": false, "error": ...}; start/stop apppool take /apppool.name:X."""
import json

import wasptest
from wasptest import check, wait_until


def lines(text):
    return [ln for ln in text.splitlines() if ln.strip()]


def test(t):
    srv = t.server(pools={"A": {}, "B": {}}, sites=[
        {"name": "Site One", "id": 1, "bindings": ["127.0.0.1:{port}:one.test"],
         "apps": [{"path": "/", "pool": "A", "physicalPath": t.dir + "/content/one"},
                  {"path": "/shop", "pool": "B", "physicalPath": t.dir + "/content/shop"}]},
        {"name": "Two", "id": 7, "bindings": ["127.0.0.1:{port}:two.test"],
         "apps": [{"path": "/", "pool": "B", "physicalPath": t.dir + "/content/two"}]},
    ])
    for d in ("one", "shop", "two"):
        srv.content_dir(d)
    srv.start()
    port = srv.port

    def ctl(*args):
        return srv.waspctl(*args, json_output=False)

    text = ctl("list", "site")
    check(lines(text) == [
        'SITE "Site One" (id:1,bindings:http/127.0.0.1:%d:one.test,state:Started)' % port,
        'SITE "Two" (id:7,bindings:http/127.0.0.1:%d:two.test,state:Started)' % port],
        "list site:\n" + text)
    check(lines(ctl("list", "site", "Two")) == lines(text)[1:], "list site NAME")
    check(lines(ctl("list", "site", "/name:two")) == lines(text)[1:], "list site /name:")
    check(lines(ctl("list", "site", "/site.name:Two")) == lines(text)[1:], "/site.name:")
    check(lines(ctl("list", "site", "/id:1")) == lines(text)[:1], "list site /id:1")
    check(ctl("list", "site", "/text:name") == "Site One\nTwo\n", "/text:name")
    star = ctl("list", "site", "Two", "/text:*")
    check(lines(star)[0] == "SITE" and '  id:"7"' in lines(star)
          and '  state:"Started"' in lines(star), "/text:*:\n" + star)

    text = ctl("list", "app")
    check(lines(text) == ['APP "Site One/" (applicationPool:A)',
                          'APP "Site One/shop" (applicationPool:B)',
                          'APP "Two/" (applicationPool:B)'], "list app:\n" + text)
    text = ctl("list", "app", "/apppool.name:B")
    check(lines(text) == ['APP "Site One/shop" (applicationPool:B)',
                          'APP "Two/" (applicationPool:B)'], "/apppool.name:B\n" + text)
    text = ctl("list", "app", "/site.name:Two")
    check(lines(text) == ['APP "Two/" (applicationPool:B)'], "/site.name:\n" + text)

    text = ctl("list", "vdir")
    check(lines(text) == [
        'VDIR "Site One/" (physicalPath:%s/content/one)' % t.dir,
        'VDIR "Site One/shop" (physicalPath:%s/content/shop)' % t.dir,
        'VDIR "Two/" (physicalPath:%s/content/two)' % t.dir], "list vdir:\n" + text)
    text = ctl("list", "vdir", "/app.name:Site One/shop", "/text:physicalPath")
    check(text == "%s/content/shop\n" % t.dir, "vdir /app.name: /text:\n" + text)

    text = ctl("list", "apppool")
    check(lines(text) == ['APPPOOL "A" (MgdVersion:v4.0,MgdMode:Integrated,state:Started)',
                          'APPPOOL "B" (MgdVersion:v4.0,MgdMode:Integrated,state:Started)'],
          "list apppool:\n" + text)
    srv.waspctl("stop", "apppool", "/apppool.name:B")
    wait_until(lambda: srv.pool_state("B") == "Stopped", what="B stopped")
    text = ctl("list", "apppool", "/state:Stopped")
    check(lines(text) == ['APPPOOL "B" (MgdVersion:v4.0,MgdMode:Integrated,state:Stopped,'
                          'stopReason:operator)'],
          "/state:Stopped:\n" + text)
    check(lines(ctl("list", "apppool", "/state:Started", "/text:name")) == ["A"],
          "/state:Started")
    srv.waspctl("start", "apppool", "/name:B")
    wait_until(lambda: srv.pool_state("B") == "Started", what="B started")

    r = srv.get(host="one.test")
    check(r.status == 200, "request %r" % r)
    text = ctl("list", "wp")
    check(lines(text) == ['WP "%d" (applicationPool:A)' % r.pid], "list wp:\n" + text)
    check(lines(ctl("list", "wp", "/apppool.name:B")) == [], "wp of B")
    check(lines(ctl("list", "wp", str(r.pid))) == lines(text), "wp by pid")

    # JSON: one shape for success and failure.
    out = srv.waspctl("list", "app", "/apppool.name:A")
    check(out["ok"] is True and [a["name"] for a in out["apps"]] == ["Site One/"],
          "json %r" % out)
    rc, out, err = srv.waspctl("list", "site", "Nope", "--json", json_output=False,
                               check_status=False)
    check(rc == 1 and json.loads(out)["ok"] is False and "Nope" in json.loads(out)["error"],
          "unknown site json %r %r" % (out, err))
    rc, out, err = srv.waspctl("stop", "apppool", "Nope", "--json", json_output=False,
                               check_status=False)
    check(rc == 1 and json.loads(out)["ok"] is False and "Nope" in json.loads(out)["error"],
          "unknown pool json %r %r" % (out, err))
    rc, out, err = srv.waspctl("list", "site", "/colour:red", json_output=False,
                               check_status=False)
    check(rc == 2 and "colour" in err, "unknown attribute %r %r" % (out, err))

    # list config reads the file: appcmd's short section names, every
    # section without /section:, --json in the same shape.
    def config(*args, json_output=False, check_status=True):
        return srv.waspctl("-c", srv.config_path, "list", "config", *args,
                           json_output=json_output, check_status=check_status)

    full = config("Site One/", "/section:system.webServer/defaultDocument")
    check("<defaultDocument" in full and "<system.webServer>" in full, "full:\n" + full)
    check(config("Site One/", "/section:defaultDocument") == full, "short name")
    check(config("Site One/", "/section:DEFAULTDOCUMENT") == full, "short name, case")
    every = config("Site One/")
    for sec in ("<defaultDocument", "<staticContent", "<httpErrors", "<requestFiltering"):
        check(sec in every, "list config PATH lacks %s:\n%s" % (sec, every))
    out = config("Site One/", "/section:defaultDocument", json_output=True)
    check(out["ok"] is True and
          list(out["sections"]) == ["system.webServer/defaultDocument"] and
          "files" in out["sections"]["system.webServer/defaultDocument"], "json %r" % out)
    check(len(config("Site One/", json_output=True)["sections"]) > 5, "json, every section")
    rc, out, err = config("Site One/", "/section:noSuchSection", "--json",
                          check_status=False)
    check(rc == 1 and json.loads(out)["ok"] is False and "noSuchSection" in err,
          "unknown section %r %r" % (out, err))
    rc, out, err = config("No Such Site/", "/section:defaultDocument", check_status=False)
    check(rc == 1 and "No Such Site" in err, "unknown site %r %r" % (out, err))


wasptest.main(test)
