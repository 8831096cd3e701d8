"""waspctl edits applicationHost.config as appcmd does (set config
/section: with /+[...] and /-[...], add|set|delete site|app|vdir|apppool):
comments, order and indentation survive; an edit the loader refuses prints
its file:line error and leaves the file byte for byte as it was; every edit
keeps the previous file as a CFGHISTORY backup; a running waspd picks the
edited file up by itself (and keeps serving when a hand edit breaks it)."""
import json
import os
import subprocess

import wasptest
from wasptest import check, wait_until


def edit(srv, *args, json_output=False):
    """waspctl -c CONFIG ARGS: (status, stdout, stderr)."""
    cmd = [wasptest.program("activator/waspctl"), "-c", srv.config_path] + list(args)
    if json_output:
        cmd.append("--json")
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def read(path):
    with open(path, "rb") as f:
        return f.read()


def status(srv, host):
    try:
        return srv.get("/index.html", host=host).status
    except OSError:
        return None


def check_edits_keep_the_file(srv):
    before = read(srv.config_path).decode()
    rc, out, err = edit(srv, "set", "config", "/section:defaultDocument",
                        "/+files.[value='home.html']")
    check(rc == 0 and out.startswith('Applied configuration changes to section '
                                     '"system.webServer/defaultDocument"'),
          "set config: %d %r %r" % (rc, out, err))
    after = read(srv.config_path).decode()
    check("<!-- the pools, as they were -->" in after, "comment lost:\n" + after)
    # every line of the file is still there, in its order and indentation
    it = iter(after.splitlines())
    missing = [ln for ln in before.splitlines() if not any(ln == x for x in it)]
    check(not missing, "lines changed: %r\n%s" % (missing, after))
    check("          <add value=\"home.html\" />\n" in after,
          "new item not indented as its siblings:\n" + after)

    rc, out, _ = edit(srv, "add", "apppool", "/name:B", "/managedPipelineMode:Classic",
                      json_output=True)
    check(rc == 0 and json.loads(out) == {"ok": True, "message": 'APPPOOL object "B" added'},
          "add apppool --json: %r" % out)
    rc, out, err = edit(srv, "set", "apppool", "B", "/processModel.idleTimeout:00:05:00")
    check(rc == 0 and out == 'APPPOOL object "B" changed\n', "set apppool: %r %r" % (out, err))
    check('<processModel idleTimeout="00:05:00" />' in read(srv.config_path).decode(),
          "processModel not written")


def check_refused_edit(srv):
    before = read(srv.config_path)
    rc, out, err = edit(srv, "set", "apppool", "A", "/startMode:Sometimes")
    check(rc == 1 and srv.config_path + ":" in err and "attribute 'startMode'" in err
          and "unchanged" in err, "invalid edit: %d %r %r" % (rc, out, err))
    check(read(srv.config_path) == before, "a refused edit changed the file")
    # what waspd checks beyond the schema (its typed view of sites and pools)
    rc, out, err = edit(srv, "set", "site", "A", "/bindings:http/nowhere")
    check(rc == 1 and "'nowhere' is not IP:port:host" in err, "bad binding: %d %r" % (rc, err))
    check(read(srv.config_path) == before, "a refused binding changed the file")
    rc, out, err = edit(srv, "delete", "site", "Nope", json_output=True)
    check(rc == 1 and json.loads(out)["ok"] is False
          and 'cannot find SITE object with identifier "Nope"' in err,
          "delete missing site: %d %r %r" % (rc, out, err))
    rc, out, err = edit(srv, "add", "apppool", "/name:A")
    check(rc == 1 and "exists" in err, "duplicate apppool: %d %r" % (rc, err))
    # the loader only warns about an attribute it does not know; an edit refuses it
    rc, out, err = edit(srv, "set", "config", "/section:defaultDocument",
                        "/+files.[value='x.html',weight='2']")
    check(rc == 1 and 'unknown attribute "weight"' in err, "unknown attribute: %r" % err)
    rc, out, err = edit(srv, "set", "apppool", "A", "/processModel.idleTimout:00:01:00")
    check(rc == 1 and 'unknown attribute "idleTimout"' in err, "unknown attribute: %r" % err)
    check(read(srv.config_path) == before, "a refused edit changed the file")


def check_pick_up(srv):
    """A site added with waspctl serves without a reload; a broken hand
    edit keeps the running configuration."""
    two = srv.content_dir("Two")
    rc, out, err = edit(srv, "add", "site", "/name:Two",
                        "/bindings:http/127.0.0.1:%d:two.test" % srv.port,
                        "/physicalPath:" + two)
    check(rc == 0 and out == 'SITE object "Two" added\n', "add site: %r %r" % (out, err))
    rc, out, err = edit(srv, "set", "app", "Two/", "/applicationPool:B")
    check(rc == 0 and out == 'APP object "Two/" changed\n', "set app: %r %r" % (out, err))
    wait_until(lambda: status(srv, "two.test") == 200, 15, what="site Two served")
    check(srv.get("/index.html", host="two.test").body == b"pool Two\n", "Two's content")

    good = read(srv.config_path)
    with open(srv.config_path, "w") as f:  # a hand edit that breaks the file
        f.write(good.decode().replace('<site name="Two"', '<site name="Two" id="x"'))
    srv.wait_log("the running configuration stays", 15)
    check(status(srv, "two.test") == 200, "a broken file stopped site Two")
    with open(srv.config_path, "wb") as f:
        f.write(good)


def check_backups(srv):
    rc, out, err = edit(srv, "add", "backup", "mine")
    check(rc == 0 and out == 'BACKUP object "mine" added\n', "add backup: %r %r" % (out, err))
    rc, out, _ = edit(srv, "list", "backup", json_output=True)
    names = {b["name"]: b["automatic"] for b in json.loads(out)["backups"]}
    check(names.get("mine") is False and any(n.startswith("CFGHISTORY_") and a
                                             for n, a in names.items()),
          "list backup: %r" % names)
    saved = read(srv.config_path)
    rc, out, err = edit(srv, "delete", "site", "Two")
    check(rc == 0 and out == 'SITE object "Two" deleted\n', "delete site: %r %r" % (out, err))
    wait_until(lambda: status(srv, "two.test") == 400, 15, what="site Two gone")
    rc, out, err = edit(srv, "restore", "backup", "mine")
    check(rc == 0 and out == 'Restored configuration from backup "mine"\n',
          "restore: %r %r" % (out, err))
    check(read(srv.config_path) == saved, "restore did not bring the file back")
    wait_until(lambda: status(srv, "two.test") == 200, 15, what="site Two back")
    rc, out, err = edit(srv, "delete", "backup", "mine")
    check(rc == 0 and "mine" not in edit(srv, "list", "backup")[1], "delete backup")
    rc, out, err = edit(srv, "restore", "backup", "mine")
    check(rc == 1 and "cannot find BACKUP" in err, "restore a deleted backup: %r" % err)
    rc, out, err = edit(srv, "list", "backup", "mine")
    check(rc == 1 and "cannot find BACKUP" in err, "list a deleted backup: %r" % err)
    # automatic backups are capped (the oldest go)
    for i in range(12):
        rc, _, err = edit(srv, "set", "apppool", "B", "/queueLength:%d" % (1000 + i))
        check(rc == 0, "edit %d: %r" % (i, err))
    hist = [ln for ln in edit(srv, "list", "backup")[1].splitlines() if "CFGHISTORY_" in ln]
    check(len(hist) == 10, "automatic backups kept: %r" % hist)
    # configHistory maxHistories sets how many; enabled="false" keeps none
    rc, _, err = edit(srv, "set", "config", "/section:configHistory", "/maxHistories:3")
    check(rc == 0, "maxHistories: %r" % err)
    rc, _, err = edit(srv, "set", "apppool", "B", "/queueLength:999")
    hist = [ln for ln in edit(srv, "list", "backup")[1].splitlines() if "CFGHISTORY_" in ln]
    check(rc == 0 and len(hist) == 3, "maxHistories 3 kept: %r" % hist)
    rc, _, err = edit(srv, "set", "config", "/section:configHistory", "/enabled:false")
    last = [ln for ln in edit(srv, "list", "backup")[1].splitlines() if "CFGHISTORY_" in ln][-1]
    rc, _, err = edit(srv, "set", "apppool", "B", "/queueLength:998")
    hist = [ln for ln in edit(srv, "list", "backup")[1].splitlines() if "CFGHISTORY_" in ln]
    check(rc == 0 and hist[-1] == last, "enabled=false kept a copy: %r" % hist)


def check_webconfig(srv):
    a = srv.content_dir("A")
    rc, out, err = edit(srv, "set", "config", "A/", "/section:defaultDocument",
                        "/enabled:false")
    check(rc == 0 and out.endswith(' for "MACHINE/WEBROOT/APPHOST/A/" at configuration commit '
                                   'path "MACHINE/WEBROOT/APPHOST/A"\n'),
          "set config A/: %d %r %r" % (rc, out, err))
    text = read(os.path.join(a, "web.config")).decode()
    check('<defaultDocument enabled="false" />' in text, "web.config:\n" + text)
    before = read(os.path.join(a, "web.config"))
    rc, out, err = edit(srv, "set", "config", "A/", "/section:defaultDocument",
                        "/enabled:perhaps")
    check(rc == 1 and "web.config" in err, "invalid web.config edit: %d %r" % (rc, err))
    check(read(os.path.join(a, "web.config")) == before, "refused web.config edit stayed")
    rc, out, err = edit(srv, "set", "config", "A/deep/er", "/section:defaultDocument",
                        "/commit:app", "/+files.[value='app.html']")
    text = read(os.path.join(a, "web.config")).decode()
    check(rc == 0 and '<add value="app.html" />' in text
          and out.endswith('commit path "MACHINE/WEBROOT/APPHOST/A"\n'),
          "/commit:app: %d %r %r\n%s" % (rc, out, err, text))
    rc, out, err = edit(srv, "set", "config", "A/", "/section:defaultDocument",
                        "/commit:apphost", "/enabled:false")
    check(rc == 0 and '<location path="A">' in read(srv.config_path).decode(),
          "location: %r %r" % (out, err))


def check_list_module(srv):
    rc, out, err = edit(srv, "list", "module")
    lines = out.splitlines()
    check(rc == 0 and 'MODULE "StaticFileModule" ( native:true )' in lines
          and 'MODULE "DirectoryListingModule" ( native:true )' in lines,
          "list module: %d %r %r" % (rc, out, err))
    rc, out, err = edit(srv, "set", "config", "A", "/section:modules", "/commit:apphost",
                        "/-[name='DirectoryListingModule']",
                        "/+[name='Auth',type='My.AuthModule',preCondition='managedHandler']")
    check(rc == 0, "modules at A: %r %r" % (out, err))
    rc, out, err = edit(srv, "list", "module", "/app.name:A/")
    lines = out.splitlines()
    check(rc == 0 and 'MODULE "DirectoryListingModule" ( native:true )' not in lines
          and lines[-1] == 'MODULE "Auth" ( type:My.AuthModule, preCondition:managedHandler )',
          "list module /app.name:A/: %d %r %r" % (rc, out, err))
    rc, out, err = edit(srv, "list", "module", "StaticFileModule", "/app.name:A/",
                        json_output=True)
    check(rc == 0 and json.loads(out) == {"ok": True, "modules": [
        {"name": "StaticFileModule", "native": True, "type": "", "preCondition": "",
         "image": "builtin"}]}, "list module NAME --json: %r %r" % (out, err))
    rc, out, err = edit(srv, "list", "module", "Nope")
    check(rc == 1 and 'cannot find MODULE object with identifier "Nope"' in err,
          "missing module: %r" % err)


def check_concurrent_edits(srv):
    """Edits at the same time wait for each other: none is lost."""
    cmd = [wasptest.program("activator/waspctl"), "-c", srv.config_path, "add", "apppool"]
    procs = [subprocess.Popen(cmd + ["/name:C%d" % i], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for i in range(8)]
    for p in procs:
        out, err = p.communicate(timeout=60)
        check(p.returncode == 0, "concurrent edit: %r %r" % (out, err))
    text = read(srv.config_path).decode()
    lost = [i for i in range(8) if '<add name="C%d" />' % i not in text]
    check(not lost, "edits lost: %r" % lost)


def check_line_breaks(t):
    """A CRLF file stays CRLF; a file not in UTF-8 is refused."""
    path = os.path.join(t.dir, "crlf.config")
    text = wasptest.config_xml([{"name": "A"}], [], web_server_xml=(
        '    <httpProtocol><customHeaders><add name="X-T" value="a &amp; &lt;b&gt;" />'
        '</customHeaders></httpProtocol>'))
    text = text.replace("<configuration>", "<!-- before the root -->\n<configuration>")
    with open(path, "wb") as f:
        f.write(text.replace("\n", "\r\n").encode())
    p = subprocess.run([wasptest.program("activator/waspctl"), "-c", path, "add", "apppool",
                        "/name:B"], capture_output=True, timeout=30)
    out = read(path)
    check(p.returncode == 0 and b'<add name="B" />\r\n' in out
          and out.count(b"\n") == out.count(b"\r\n")
          and b"<!-- before the root -->\r\n<configuration>" in out
          and b'value="a &amp; &lt;b&gt;"' in out, "CRLF file: %r" % out)
    latin = text.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').encode()
    with open(path, "wb") as f:
        f.write(latin)
    p = subprocess.run([wasptest.program("activator/waspctl"), "-c", path, "add", "apppool",
                        "/name:B"], capture_output=True, timeout=30)
    check(p.returncode == 1 and b"UTF-8 files only" in p.stderr and read(path) == latin,
          "ISO-8859-1 file: %r" % p.stderr)


def test(t):
    srv = t.server(pools={"A": {}})
    srv.config_text = srv.config_text.replace(
        "    <applicationPools>\n",
        "    <applicationPools>\n      <!-- the pools, as they were -->\n")
    srv.start()
    check(status(srv, "a.test") == 200, "site A")
    check_edits_keep_the_file(srv)
    check_refused_edit(srv)
    check_pick_up(srv)
    check_backups(srv)
    check_webconfig(srv)
    check_list_module(srv)
    check_concurrent_edits(srv)
    check_line_breaks(t)


wasptest.main(test)
