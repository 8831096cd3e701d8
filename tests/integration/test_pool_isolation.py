"""Application pool configuration isolation (as IIS 7.0 SP2 gives each
pool a filtered applicationHost.config): a worker holds its own pool's
sites and nothing of another pool's, neither in the memfds it was given
(configuration, routing table) nor anywhere in its memory. Three pools,
each with a site of its own (a name, a host, a physical path, a second
virtual directory and a <location path="SITE/..."> section, all unique
tokens); after each worker served keep-alive requests (so it read its
routing table too), the other sites' tokens are not in its memfds
(/proc/PID/fd) nor in its readable memory (/proc/PID/maps and mem), and
its own are (the search can fail). A fourth pool's site has no host name:
any Host the others do not bind is its, so its routing table must tell
their hosts apart, and holds them only as keyed hashes. A worker reads its memfds and closes
them: waspd keeps one of each per pool and generation ("wasp-config",
"wasp-pool-routes"), and each of those holds one pool's tokens only."""
import os
import re
import secrets
import wasptest
from wasptest import check


def memfds(pid, prefixes=("",)):
    """Contents of the memfds pid holds whose names start with a prefix."""
    out = []
    d = "/proc/%d/fd" % pid
    for fd in os.listdir(d):
        try:
            link = os.readlink(os.path.join(d, fd))
            if any(link.startswith("/memfd:" + x) for x in prefixes):
                with open(os.path.join(d, fd), "rb") as f:
                    out.append(f.read())
        except OSError:
            pass
    return out


CHUNK = 4 << 20
OVERLAP = 256  # longer than any token searched for


def memory(pid):
    """The readable mappings' bytes, in chunks that overlap (a token across
    a chunk's end is in the next one). Mappings over 1 GiB are left out:
    a sanitizer's shadow memory is terabytes of readable, untouched pages
    (the heap the tokens would be in is never that large)."""
    out = []
    with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+)", line)
            if not m or m.group(3)[0] != "r" or "[vvar" in line or "[vsyscall" in line:
                continue
            start, end = int(m.group(1), 16), int(m.group(2), 16)
            if end - start > 1 << 30:
                continue
            for at in range(start, end, CHUNK):
                try:
                    mem.seek(at)
                    out.append(mem.read(min(CHUNK + OVERLAP, end - at)))
                except (OSError, ValueError, OverflowError):
                    pass
    return out


def test(t):
    names = ("A", "B", "C", "D")
    tok = {p: secrets.token_hex(8) for p in names}
    pools = {p: {"startMode": "OnDemand"} for p in names}
    srv = t.server(pools=pools, sites=[])
    sites, vdirs, secret = [], {}, {}
    for i, p in enumerate(names):
        path = srv.content_dir("root-" + tok[p])
        vdirs[p] = srv.content_dir("vdir-" + tok[p])
        host = "host-%s.test" % tok[p] if p != "D" else ""
        sites.append({"name": "site-" + tok[p], "id": i + 1,
                      "bindings": ["127.0.0.1:{port}:%s" % host],
                      "apps": [{"path": "/", "pool": p, "physicalPath": path}]})
        # every way the site's definition is written down
        secret[p] = {"site name": ("site-" + tok[p]).encode(),
                     "host": host.encode(),
                     "physical path": ("root-" + tok[p]).encode(),
                     "virtual directory": ("vdir-" + tok[p]).encode(),
                     "location": ("loc-" + tok[p]).encode()}
        if not host:
            del secret[p]["host"]
    srv = t.server(pools=pools, sites=sites)
    text = srv.config_text
    for p in names:
        root = '<virtualDirectory path="/" physicalPath="%s" />' % os.path.join(
            srv.dir, "content", "root-" + tok[p])
        check(root in text, "no root vdir for %s in the configuration" % p)
        text = text.replace(root, root + '\n          <virtualDirectory path="/v" '
                            'physicalPath="%s" />' % vdirs[p])
        text = text.replace("</configuration>",
                            '  <location path="site-%s/loc-%s">\n    <system.webServer>\n'
                            '      <directoryBrowse enabled="true" />\n'
                            '    </system.webServer>\n  </location>\n</configuration>'
                            % (tok[p], tok[p]))
    srv.config_text = text
    srv.start()

    pids = {}
    for p in names:
        with srv.keepalive(host="host-%s.test" % tok[p]) as ka:  # D: any other host
            for path in ("/index.html", "/v/index.html", "/index.html"):
                r = ka.get(path)
                check(r.status == 200 and r.pool == p, "%s %s: %r" % (p, path, r))
            pids[p] = r.pid

    # what waspd made for the workers: one configuration and one routing
    # table per pool that started, each with that pool's tokens only
    kept = memfds(srv.proc.pid, ("wasp-config", "wasp-pool-routes"))
    check(len(kept) == 2 * len(names), "waspd holds %d per-pool memfds" % len(kept))
    for b in kept:
        owners = [p for p in names if any(n in b for n in secret[p].values())]
        check(len(owners) == 1, "a per-pool memfd names the sites of pools %r: %r"
              % (owners, b[:200]))
        o = owners[0]
        check(secret[o]["site name"] in b and secret[o].get("host", b"") in b,
              "pool %s's memfd lacks its own site: %r" % (o, b[:200]))

    for p in names:
        fds, mem = memfds(pids[p]), memory(pids[p])
        for what, needle in secret[p].items():
            if what == "location":
                continue  # the location names no content file: it may be compiled away
            check(any(needle in b for b in mem), "worker of %s: its own %s %r is not in "
                  "its memory (the search cannot fail)" % (p, what, needle))
        for q in names:
            if q == p:
                continue
            for what, needle in secret[q].items():
                check(not any(needle in b for b in fds),
                      "worker of %s: pool %s's %s %r is in a memfd" % (p, q, what, needle))
                check(not any(needle in b for b in mem),
                      "worker of %s: pool %s's %s %r is in its memory" % (p, q, what, needle))


wasptest.main(test)
