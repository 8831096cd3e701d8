"""waspd --watch-config: a burst of writes to applicationHost.config is one
reload once the file is quiet (fewer reloads than writes); with
--watch-config=no an edited file waits for `waspctl reload`."""
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

    off = t.server(pools={"A": {}}, args=("--watch-config=no",)).start()
    with open(off.config_path, "w") as f:
        f.write(with_site_b(off, 1000))
    stays(lambda: status(off, "b.test") == 400, 1.5, what="B not served without a reload")
    off.waspctl("reload")
    check(status(off, "b.test") == 200, "B after waspctl reload")
    check("changed: reloading" not in off.read_log(), "--watch-config=no reloaded")


wasptest.main(test)
