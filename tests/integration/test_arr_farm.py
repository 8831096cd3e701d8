"""ARR's webFarms: a rule rewriting to http://FARM/{R:1} picks one of the
farm's servers. Weighted round robin spreads requests by weight; least
requests sends them past a server busy with a held request; with a
server killed mid-run, no request fails once the health check noticed (a
refused connection is retried on another server before anything was sent,
so none fails before either), the server is out of rotation, and back once
healthy again. A farm whose servers are all disabled, or whose algorithm
is not implemented, answers 502.4."""
import os
import threading
import time

import arrtest
import wasptest
from wasptest import check


def spread(srv, pool, n, path="/who"):
    got = {}
    for _ in range(n):
        r = srv.get(path, pool=pool)
        check(r.status == 200, "%r %r" % (r, r.body[:300]))
        got[r.body.decode()] = got.get(r.body.decode(), 0) + 1
    return got


class Load:
    """Requests one after the other until stopped: (time, status) of each."""

    def __init__(self, srv, pool):
        self.srv, self.pool, self.results = srv, pool, []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            try:
                r = self.srv.get("/who", pool=self.pool)
                self.results.append((time.monotonic(), r.status, r.body))
            except OSError as e:
                self.results.append((time.monotonic(), str(e), b""))

    def end(self):
        self.stop.set()
        self.thread.join(30)


def test(t):
    bes = [arrtest.Backend(t, "s%d" % i, "127.0.0.%d" % i) for i in (1, 2, 3)]
    srv = t.server(pools={"A": {}, "B": {}, "C": {}}, web_server_xml='<proxy enabled="true" />')
    health = ('<healthCheck url="http://web/health" interval="00:00:01" timeout="00:00:01" '
              'responseMatch="healthy" />')
    arrtest.add_to_config(srv, "<webFarms>%s%s%s%s</webFarms>" % (
        arrtest.farm_xml("web", bes, weights={"s1": 200}, check=health),
        arrtest.farm_xml("lr", bes, algorithm="LeastRequests"),
        arrtest.farm_xml("hash", bes, algorithm="RequestHash"),
        arrtest.farm_xml("none", bes[:1]).replace("<server ", '<server enabled="false" ')))
    wasptest.write_content(os.path.join(srv.content_dir("A"), "web.config"),
                           arrtest.rule_xml("http://web/{R:1}"))
    wasptest.write_content(os.path.join(srv.content_dir("B"), "web.config"),
                           arrtest.rule_xml("http://LR/{R:1}"))
    wasptest.write_content(os.path.join(srv.content_dir("C"), "web.config"),
                           arrtest.rule_xml("http://{R:1}/who", pattern="^(hash|none)$"))
    srv.start()

    # no server to take it, an algorithm wasp does not implement: 502.4
    for farm in ("none", "hash"):
        r = srv.get("/" + farm, pool="C")
        check(r.status == 502 and r.header("x-wasp-substatus") == "4", "%s %r" % (farm, r))

    # weighted round robin: s1 twice as often
    got = spread(srv, "A", 40)
    check(got == {"s1": 20, "s2": 10, "s3": 10}, "spread %r" % got)

    # least requests: a held request keeps its server out of the next ones
    holder = []
    th = threading.Thread(target=lambda: holder.append(srv.get("/hold", pool="B", timeout=60)),
                          daemon=True)
    th.start()
    busy = wasptest.wait_until(lambda: [b for b in bes if b.held() == 1],
                               what="a backend holding the request")[0]
    got = spread(srv, "B", 8)
    check(busy.name not in got and sum(got.values()) == 8, "least requests %r (busy %s)"
          % (got, busy.name))
    busy.get("/release")
    th.join(30)
    check(holder and holder[0].status == 200 and holder[0].body == b"held " + busy.name.encode(),
          "the held request %r" % holder)

    # s2 killed under load
    load = Load(srv, "A")
    wasptest.wait_until(lambda: len(load.results) >= 20, what="requests before the kill")
    bes[1].kill()
    killed = time.monotonic()
    srv.wait_log("server '127.0.0.2' is unhealthy", timeout=15)
    noticed = time.monotonic()
    wasptest.wait_until(lambda: len([r for r in load.results if r[0] > noticed]) >= 30,
                        what="requests after the health check noticed")
    load.end()
    before = [r for r in load.results if killed <= r[0] <= noticed and r[1] != 200]
    after = [r for r in load.results if r[0] > noticed]
    wasptest.log("%d requests between the kill and the check, %d failed; %d after"
                 % (len([r for r in load.results if killed <= r[0] <= noticed]), len(before),
                    len(after)))
    check(all(r[1] == 200 for r in after), "failed after the check: %r"
          % [(r[1], r[2][:80]) for r in after if r[1] != 200][:5])
    check(not before, "failed before the check (refused: retried elsewhere): %r" % [(r[1], r[2][:80]) for r in before[:5]])
    check(all(r[2] in (b"s1", b"s3") for r in after), "s2 still in rotation")

    # back in rotation once healthy again
    bes[1].start()
    srv.wait_log("server '127.0.0.2' is healthy again", timeout=15)
    got = spread(srv, "A", 40)
    check(got.get("s2", 0) >= 8, "s2 back %r" % got)


wasptest.main(test)
