"""waspctl's module edit verbs, as appcmd's: install module adds to
globalModules and the server's modules, uninstall removes both; add, set and
delete module edit the modules of the server or of an application path (its
web.config, or a <location> with /commit:apphost); what the loader refuses
leaves the file byte for byte as it was."""
import os
import subprocess

import wasptest
from wasptest import check

UNLOCK = ('    <sectionGroup name="system.webServer">\n'
          '      <section name="modules" overrideModeDefault="Allow" />\n'
          '    </sectionGroup>\n  </configSections>\n')


def waspctl(config, *args):
    """waspctl -c CONFIG ARGS: (status, stdout, stderr)."""
    cmd = [wasptest.program("activator/waspctl"), "-c", config] + list(args)
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def read(path):
    with open(path, "rb") as f:
        return f.read()


def check_install(config):
    rc, out, err = waspctl(config, "install", "module", "/name:Mine",
                           "/image:/usr/lib/wasp/mod_mine.so", "/preCondition:bitness64")
    check(rc == 0 and out == 'MODULE object "Mine" installed\n', "install: %r %r" % (out, err))
    text = read(config).decode()
    check('<add name="Mine" image="/usr/lib/wasp/mod_mine.so" preCondition="bitness64" />'
          in text and '<add name="Mine" preCondition="bitness64" />' in text,
          "install wrote:\n" + text)
    rc, out, err = waspctl(config, "list", "module", "Mine")
    check(rc == 0 and out == 'MODULE "Mine" ( native:true, preCondition:bitness64 )\n',
          "list module Mine: %d %r %r" % (rc, out, err))
    rc, out, err = waspctl(config, "install", "module", "/name:Other", "/image:/x/o.so",
                           "/add:false")
    text = read(config).decode()
    check(rc == 0 and '<add name="Other" image="/x/o.so" />' in text
          and text.count('name="Other"') == 1, "/add:false: %r\n%s" % (err, text))


def check_refused(config):
    before = read(config)
    rc, _, err = waspctl(config, "install", "module", "/name:Mine", "/image:/x/m.so")
    check(rc == 1 and "duplicate" in err and read(config) == before,
          "duplicate install: %d %r" % (rc, err))
    rc, _, err = waspctl(config, "add", "module", "/name:Mine")
    check(rc == 1 and "duplicate" in err and read(config) == before,
          "duplicate add: %d %r" % (rc, err))
    rc, _, err = waspctl(config, "install", "module", "/name:Rel", "/image:mod_rel.so")
    check(rc == 1 and "not an absolute path" in err and read(config) == before,
          "relative image: %d %r" % (rc, err))
    rc, _, err = waspctl(config, "set", "module", "Nope", "/preCondition:x")
    check(rc == 1 and read(config) == before, "set of a missing module: %d %r" % (rc, err))


def check_app_path(config, site_dir):
    webconfig = os.path.join(site_dir, "web.config")
    rc, out, err = waspctl(config, "add", "module", "/name:Auth", "/type:My.AuthModule",
                           "/app.name:S/")
    text = read(webconfig).decode() if os.path.exists(webconfig) else ""
    check(rc == 0 and '<add name="Auth" type="My.AuthModule" />' in text,
          "add module /app.name:S/: %d %r %r\n%s" % (rc, out, err, text))
    rc, out, err = waspctl(config, "set", "module", "Auth", "/app.name:S/",
                           "/preCondition:managedHandler")
    text = read(webconfig).decode()
    check(rc == 0 and 'preCondition="managedHandler"' in text, "set module: %r\n%s" % (err, text))
    rc, out, err = waspctl(config, "delete", "module", "Mine", "/app.name:S/")
    text = read(webconfig).decode()
    check(rc == 0 and '<remove name="Mine" />' in text, "delete inherited: %r\n%s" % (err, text))
    rc, out, err = waspctl(config, "list", "module", "/app.name:S/")
    check(rc == 0 and '"Mine"' not in out and '"Auth"' in out, "list at S/: %r %r" % (out, err))
    rc, out, err = waspctl(config, "delete", "module", "Auth", "/app.name:S/")
    check(rc == 0 and 'name="Auth"' not in read(webconfig).decode(), "delete Auth: %r" % err)
    rc, out, err = waspctl(config, "delete", "module", "Mine", "/app.name:S/",
                           "/commit:apphost")
    text = read(config).decode()
    check(rc == 0 and '<location path="S">' in text and '<remove name="Mine" />' in text,
          "/commit:apphost: %r\n%s" % (err, text))


def check_uninstall(config):
    rc, out, err = waspctl(config, "uninstall", "module", "Mine")
    text = read(config).decode()
    check(rc == 0 and out == 'MODULE object "Mine" uninstalled\n'
          and '<add name="Mine"' not in text, "uninstall: %r %r\n%s" % (out, err, text))
    rc, out, err = waspctl(config, "list", "module", "Mine")
    check(rc == 1, "list after uninstall: %r" % out)
    rc, out, err = waspctl(config, "uninstall", "module", "Other")
    check(rc == 0 and 'name="Other"' not in read(config).decode(),
          "uninstall of a module not enabled: %r" % err)


def test(t):
    site_dir = os.path.join(t.dir, "site")
    os.makedirs(site_dir)
    config = os.path.join(t.dir, "applicationHost.config")
    text = wasptest.config_xml([{"name": "A"}], [{
        "name": "S", "id": 1, "bindings": ["127.0.0.1:%d:" % wasptest.free_port()],
        "apps": [{"path": "/", "pool": "A", "physicalPath": site_dir}]}])
    with open(config, "w") as f:
        f.write(text.replace("  </configSections>\n", UNLOCK))
    check_install(config)
    check_refused(config)
    check_app_path(config, site_dir)
    check_uninstall(config)


wasptest.main(test)
