"""`meson install` gives a runnable server: installed into a scratch
DESTDIR, the tree holds the programs, the default applicationHost.config
(one site serving a page under $localstatedir/www/wasp), the schema, the
systemd units and sysusers file, the man pages waspd(8), waspctl(8) and
wasp-applicationhost.config(5), <wasp/module.h> and wasp-module.pc (with
its moduledir) for module authors, <wasp/adapter.h>, libwasp-adapter.a and
wasp-adapter.pc for adapter authors (test-adapter builds against them),
and no example module; the installed waspd accepts the installed default file (--test-config), and without -c
it reads the default path."""
import glob
import json
import os
import shutil
import subprocess

import wasptest
from wasptest import check, skip


def test(t):
    meson = shutil.which("meson")
    if not meson:
        skip("meson is not on PATH")
    build = wasptest.build_root()
    opts = json.loads(subprocess.run([meson, "introspect", "--buildoptions", build],
                                     check=True, capture_output=True).stdout)
    opt = {o["name"]: o["value"] for o in opts}
    prefix = opt["prefix"]

    def under(name):
        v = opt[name]
        return v if os.path.isabs(v) else os.path.join(prefix, v)

    dest = os.path.join(t.dir, "dest")
    p = subprocess.run([meson, "install", "-C", build, "--no-rebuild", "--destdir", dest],
                       capture_output=True, timeout=120)
    check(p.returncode == 0, "meson install: %s" % p.stdout.decode()[-2000:]
          + p.stderr.decode()[-2000:])

    def d(path):
        return dest + path

    confdir = os.path.join(under("sysconfdir"), "wasp")
    config = os.path.join(confdir, "applicationHost.config")
    wwwroot = os.path.join(under("localstatedir"), "www", "wasp")
    schema = os.path.join(under("datadir"), "wasp", "schema")
    want = [
        os.path.join(under("sbindir"), "waspd"),
        os.path.join(under("bindir"), "waspctl"),
        os.path.join(under("libexecdir"), "wasp", "wasp-http"),
        os.path.join(under("libexecdir"), "wasp", "wasp-tcp"),
        os.path.join(under("libexecdir"), "wasp", "wasp-worker"),
        config,
        os.path.join(wwwroot, "index.html"),
        os.path.join(schema, "applicationHost.xml"),
        os.path.join(under("mandir"), "man8", "waspd.8"),
        os.path.join(under("mandir"), "man8", "waspctl.8"),
        os.path.join(under("mandir"), "man5", "wasp-applicationhost.config.5"),
        os.path.join(under("includedir"), "wasp", "module.h"),
        os.path.join(under("includedir"), "wasp", "adapter.h"),
    ]
    for f in want:
        check(os.path.isfile(d(f)), "not installed: %s" % f)
    for f in (os.path.join(under("sbindir"), "waspd"), os.path.join(under("bindir"), "waspctl")):
        check(os.access(d(f), os.X_OK), "%s is not executable" % f)
    files = [os.path.relpath(os.path.join(r, n), dest)
             for r, _, ns in os.walk(dest) for n in ns]
    check(any(f.endswith("/wasp.service") for f in files), "no wasp.service: %r" % files)
    check(any(f.endswith("sysusers.d/wasp.conf") for f in files), "no sysusers file")
    check(not any("mod_example" in f for f in files), "the example module was installed")
    pcs = glob.glob(dest + "/**/pkgconfig/wasp-module.pc", recursive=True)
    check(len(pcs) == 1, "wasp-module.pc: %r" % pcs)
    with open(pcs[0]) as f:
        pc = f.read()
    check("moduledir=${libdir}/wasp/modules" in pc and "Cflags: -I${includedir}" in pc,
          "wasp-module.pc: %s" % pc)
    pcs = glob.glob(dest + "/**/pkgconfig/wasp-adapter.pc", recursive=True)
    libs = glob.glob(dest + "/**/libwasp-adapter.a", recursive=True)
    check(len(pcs) == 1 and len(libs) == 1, "wasp-adapter.pc, libwasp-adapter.a: %r %r"
          % (pcs, libs))
    with open(pcs[0]) as f:
        pc = f.read()
    check("-lwasp-adapter" in pc, "wasp-adapter.pc: %s" % pc)
    # an adapter builds against what is installed, and nothing else of wasp
    cc = shutil.which("cc")
    if cc:
        exe = os.path.join(t.dir, "installed-test-adapter")
        # a sanitizer build's library needs its runtime
        san = opt.get("b_sanitize", "none")
        flags = ["-fsanitize=" + san] if san not in ("none", "") else []
        p = subprocess.run([cc] + flags + ["-o", exe, "-I", d(under("includedir")),
                            os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                         "adapter", "test-adapter.c"),
                            libs[0], "-ljansson"], capture_output=True, timeout=120)
        check(p.returncode == 0, "test-adapter against the installed header: %s"
              % p.stderr.decode()[-2000:])
    with open(d(config)) as f:
        text = f.read()
    check('physicalPath="%s"' % wwwroot in text, "default site's content: %s" % text)

    waspd = d(os.path.join(under("sbindir"), "waspd"))
    env = dict(os.environ, WASP_SCHEMA_DIR=d(schema))
    p = subprocess.run([waspd, "-c", d(config), "--test-config"], env=env,
                       capture_output=True, timeout=60)
    out = p.stdout.decode()
    check(p.returncode == 0 and "configuration OK" in out,
          "installed default file: %d %s %s" % (p.returncode, out, p.stderr.decode()))
    check("Default Web Site (id 1)" in out and "binding http * port 80" in out,
          "the default site: %s" % out)
    # without -c: the default path (outside DESTDIR, so not there unless
    # wasp is installed on this machine)
    p = subprocess.run([waspd, "--test-config"], env=env, capture_output=True, timeout=60)
    both = p.stdout.decode() + p.stderr.decode()
    check(config in both, "waspd without -c did not read %s: %s" % (config, both))


if __name__ == "__main__":
    wasptest.main(test)
