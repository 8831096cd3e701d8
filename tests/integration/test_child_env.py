"""Workers and the listener get a minimal environment, not waspd's: a
variable waspd was started with does not reach them; PATH, the locale, the
time zone, WASP_* and the sanitizers' options do, and a worker gets its
pool's <environmentVariables> (a later <add> of the same name wins over an
inherited one)."""
import os

import wasptest
from wasptest import check


def environ(pid):
    with open("/proc/%d/environ" % pid, "rb") as f:
        items = [kv.decode("utf-8", "replace") for kv in f.read().split(b"\0") if kv]
    return dict(kv.split("=", 1) for kv in items if "=" in kv)


def test(t):
    srv = t.server(
        pools={"A": {"environmentVariables": [{"name": "GREETING", "value": "hello"},
                                              {"name": "TZ", "value": "Europe/Paris"}]},
               "B": {}},
        env={"DATABASE_PASSWORD": "s3cret",
             "TZ": "UTC", "LC_TIME": "C"}).start()
    ra = srv.get(pool="A")
    rb = srv.get(pool="B")
    check(ra.status == 200 and rb.status == 200, "requests %r %r" % (ra, rb))
    ea, eb = environ(ra.pid), environ(rb.pid)
    lst = [environ(p) for p in srv.listener_pids()]
    check(lst, "no listener")
    for name, e in [("worker A", ea), ("worker B", eb)] + [("listener", x) for x in lst]:
        check("DATABASE_PASSWORD" not in e, "%s got waspd's DATABASE_PASSWORD (has %s)" % (name, sorted(e)))
        check(e.get("WASP_CHANNEL_FD") == "3", "%s WASP_CHANNEL_FD %r" % (name, e))
        check(e.get("LC_TIME") == "C", "%s LC_TIME %r" % (name, e))
        check("PATH" in e, "%s has no PATH: %r" % (name, e))
        check(e.get("WASP_LOG_LEVEL") == "debug", "%s WASP_LOG_LEVEL %r" % (name, e))
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
            if k in os.environ:
                check(e.get(k) == os.environ[k], "%s %s %r" % (name, k, e.get(k)))
        for k in ("NOTIFY_SOCKET", "LISTEN_FDS", "RUNTIME_DIRECTORY"):
            check(k not in e, "%s inherited %s" % (name, k))
    check(ea.get("GREETING") == "hello", "pool A's variable: %r" % ea)
    check(ea.get("TZ") == "Europe/Paris", "pool A's TZ over waspd's: %r" % ea.get("TZ"))
    check("GREETING" not in eb, "pool B got pool A's variable: %r" % eb)
    check(eb.get("TZ") == "UTC", "pool B's TZ %r" % eb.get("TZ"))


wasptest.main(test)
