"""An idle worker maps no shared object but libc's (docs/performance.md,
"Where an idle worker's KiB go"): each one costs every worker the pages
the loader faults in (libevent-2.1.so, pulled in by ARR's evdns, and
libpcre2-8.so were 220 KiB of an idle worker's RSS). The libraries whose
static archives the build found (WASP_WORKER_STATIC_LIBS, from
worker/meson.build) are inside wasp-worker; nothing else may come in as a
shared object but libc and the dynamic loader (and a sanitizer build's
runtime)."""
import os

import wasptest
from wasptest import check

ALLOWED = ("libc.so", "ld-linux")
SANITIZER = ("libasan", "libubsan")


def mapped_objects(pid):
    out = set()
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6 and ".so" in os.path.basename(parts[5].strip()):
                out.add(os.path.basename(parts[5].strip()))
    return out


def test(t):
    static = [s for s in os.environ.get("WASP_WORKER_STATIC_LIBS", "").split(",") if s]
    if not static:
        wasptest.skip("the build found no static library to put in wasp-worker")
    srv = t.server(pools={"Alpha": {}}).start()
    r = srv.get(pool="Alpha")
    check(r.status == 200, "request %r" % (r,))
    libs = mapped_objects(r.pid)
    # libevent_core -> libevent_core-2.1.so, libpcre2-8 -> libpcre2-8.so,
    # jansson -> libjansson.so; libevent-2.1.so carries core and extra
    stems = [("lib" + s if not s.startswith("lib") else s).split("_")[0] for s in static]
    shared = sorted(o for o in libs if any(o.startswith(st) for st in stems))
    check(not shared, "the worker maps %s although the build has their static libraries (%s)"
          % (", ".join(shared), ", ".join(static)))
    if not any(o.startswith(SANITIZER) for o in libs):
        other = sorted(o for o in libs if not o.startswith(ALLOWED))
        check(not other, "the worker maps shared objects besides libc: %s (each costs an idle "
              "worker its loaded pages: link it statically, or load it when first used)"
              % ", ".join(other))


wasptest.main(test)
