"""waspd --watch-config: a burst of writes to applicationHost.config is one
reload once the file is quiet (fewer reloads than writes); a configuration
that is a symbolic link to another directory is edited and picked up there
(the link stays a link); with --watch-config=no an edited file waits for
`waspctl reload`."""
import os
import subprocess

import wasptest
from wasptest import check, stays, wait_until


def status(srv, host):
    try:
        return srv.get("/index.html", host=host).status
    except OSError:
        return None


def with_site_b(srv, n):
    """The configuration with a site B (queueLength n on pool A, so each
    write differs)."""
    b = {"name": "B", "id": 2, "bindings": ["127.0.0.1:%d:b.test" % srv.port],
         "apps": [{"path": "/", "pool": "A", "physicalPath": srv.content_dir("B")}]}
    return wasptest.config_xml([{"name": "A", "queueLength": n}], srv.sites + [b])


def test(t):
    srv = t.server(pools={"A": {}}).start()
    for i in range(5):  # an editor saving again and again
        with open(srv.config_path, "w") as f:
            f.write(with_site_b(srv, 1000 + i))
    wait_until(lambda: status(srv, "b.test") == 200, 15, what="site B picked up")
    n = srv.read_log().count("changed: reloading")
    check(1 <= n < 5, "%d reloads for 5 writes" % n)

    linked = t.server(pools={"A": {}})
    real_dir = os.path.join(t.dir, "elsewhere")
    os.makedirs(real_dir)
    os.symlink(os.path.join(real_dir, "real.config"), linked.config_path)
    linked.start()
    p = subprocess.run([wasptest.program("activator/waspctl"), "-c", linked.config_path, "add",
                        "site", "/name:B", "/bindings:http/127.0.0.1:%d:b.test" % linked.port,
                        "/physicalPath:" + linked.content_dir("B"), "/[path='/'].applicationPool:A"],
                       capture_output=True, timeout=30)
    check(p.returncode == 0 and os.path.islink(linked.config_path)
          and "B" in open(os.path.join(real_dir, "real.config")).read(),
          "edit through a link: %r" % p.stderr)
    wait_until(lambda: status(linked, "b.test") == 200, 15, what="B picked up through a link")

    off = t.server(pools={"A": {}}, args=("--watch-config=no",)).start()
    with open(off.config_path, "w") as f:
        f.write(with_site_b(off, 1000))
    stays(lambda: status(off, "b.test") == 400, 1.5, what="B not served without a reload")
    off.waspctl("reload")
    check(status(off, "b.test") == 200, "B after waspctl reload")
    check("changed: reloading" not in off.read_log(), "--watch-config=no reloaded")


wasptest.main(test)
