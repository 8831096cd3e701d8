"""The HTTPERR log: what wasp-http answers itself or drops is a line of
httperr1.log in the HTTPERR directory (here WASP_LOG_DIR/HTTPERR, prepared
by waspd for the listener's user), in HTTP.sys's format: 400 BadRequest, 400
Hostname (its cs-uri cut at 4096 bytes), 404 NotFound, 501 N/I, 505
Version_N/S, 414 URL_Length, 431 RequestLength, 408 Timer_HeaderWait, an
idle connection closed at the header timeout (Timer_ConnectionIdle), a
client gone in the middle of its head or reset while queued
(Connection_Dropped), 503 QueueFull, 503 Timer_AppPool (queued past
startupTimeLimit) and 503 Disabled (a stopped pool), with the site id and
the pool (queue) name once the request was routed."""
import os
import socket
import struct

import wasptest
from wasptest import check, read_all, wait_until, TIME_SCALE

QUEUE = 10  # the smallest queueLength
FIELDS = ("#Fields: date time c-ip c-port s-ip s-port cs-version cs-method cs-uri "
          "sc-status s-siteid s-reason s-queuename")


def test(t):
    srv = t.server(pools={"A": {}, "Q": {"queueLength": QUEUE,
                                               "processModel": {"startupTimeLimit": "00:00:05"}}, "S": {}},
                   env={"WASP_TEST_HANG_STARTUP": "Q"})
    # a site with no root application: "/" of it is no application's (404)
    srv.sites.append({"name": "N", "id": 9, "bindings": ["127.0.0.1:%d:n.test" % srv.port],
                      "apps": [{"path": "/app", "pool": "A",
                                "physicalPath": srv.content_dir("A")}]})
    srv.config_text = wasptest.config_xml(
        [{"name": "A"}, {"name": "Q", "queueLength": QUEUE,
                         "processModel": {"startupTimeLimit": "00:00:05"}}, {"name": "S"}],
        srv.sites)
    srv.config_text = srv.config_text.replace(
        "    <sites>\n", "    <webLimits headerWaitTimeout=\"00:00:01\" />\n    <sites>\n", 1)
    srv.start()
    path = os.path.join(t.dir, "logs", "HTTPERR", "httperr1.log")
    site_q = [s["id"] for s in srv.sites if s["name"] == "Q"][0]
    site_s = [s["id"] for s in srv.sites if s["name"] == "S"][0]

    def lines():
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def entry(reason, **want):
        """The first line with s-reason reason and the wanted fields."""
        for ln in lines():
            if ln.startswith("#"):
                continue
            f = ln.split(" ")
            check(len(f) == 13, "not 13 fields: %r" % ln)
            d = dict(zip(FIELDS.split(" ")[1:], f))
            if d["s-reason"] != reason:
                continue
            if all(d[k] == v for k, v in want.items()):
                return d
        return None

    def expect(reason, **want):
        return wait_until(lambda: entry(reason, **want), 15 * TIME_SCALE,
                          what="HTTPERR line %s %r in %s"
                          % (reason, want, [ln[:200] for ln in lines()[-8:]]))

    host_a = srv.host("A").encode()
    srv.raw(b"GET\x01/ HTTP/1.1\r\n\r\n")
    d = expect("BadRequest", **{"sc-status": "400"})
    check(d["c-ip"] == "127.0.0.1" and d["s-ip"] == "127.0.0.1"
          and d["s-port"] == str(srv.port) and d["c-port"].isdigit(), "addresses %r" % d)
    srv.raw(b"GET /nowhere?x=1 HTTP/1.1\r\nHost: nobody.test\r\n\r\n")
    d = expect("Hostname", **{"sc-status": "400", "cs-uri": "/nowhere?x=1"})
    check(d["cs-method"] == "GET" and d["cs-version"] == "HTTP/1.1"
          and d["s-siteid"] == "-" and d["s-queuename"] == "-", "Hostname line %r" % d)
    # a long target: cut at 4096 bytes, '%' written %25, still one line
    srv.raw(b"GET /" + b"%41" * 2000 + b" HTTP/1.1\r\nHost: nobody.test\r\n\r\n")
    wait_until(lambda: any("%2541" in ln for ln in lines()), 15 * TIME_SCALE,
               what="the long request's line")
    long = [ln.split(" ") for ln in lines() if "%2541" in ln]
    # 4096 bytes of the target: "/", then 1365 "%41" written "%2541"
    check(len(long) == 1 and len(long[0]) == 13 and long[0][8].startswith("/%2541%2541")
          and len(long[0][8]) == 1 + 1365 * 5, "long cs-uri: %r"
          % [(len(x), x[8][:20], x[8][-10:], x[9:]) for x in long])
    srv.raw(b"GET /elsewhere HTTP/1.1\r\nHost: n.test\r\n\r\n")
    expect("NotFound", **{"sc-status": "404", "cs-uri": "/elsewhere"})
    srv.raw(b"CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n")
    expect("N/I", **{"sc-status": "501", "cs-method": "CONNECT"})
    srv.raw(b"GET /two HTTP/2.0\r\nHost: " + host_a + b"\r\n\r\n")
    expect("Version_N/S", **{"sc-status": "505"})
    # a request line over the parser's limit
    srv.raw(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: nobody.test\r\n\r\n")
    expect("URL_Length", **{"sc-status": "414"})
    srv.raw(b"GET /big HTTP/1.1\r\nHost: " + host_a + b"\r\nX-Big: " + b"a" * 70000
            + b"\r\n\r\n")
    expect("RequestLength", **{"sc-status": "431"})
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10 * TIME_SCALE) as s:
        s.sendall(b"GET /slow HTTP/1.1\r\nHost: ")
        read_all(s)
    expect("Timer_HeaderWait", **{"sc-status": "408"})
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10 * TIME_SCALE) as s:
        read_all(s)  # nothing sent: closed at the header timeout
    expect("Timer_ConnectionIdle", **{"sc-status": "-", "cs-method": "-"})
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10 * TIME_SCALE) as s:
        s.sendall(b"GET /gone HTTP/1.1\r\nHo")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    expect("Connection_Dropped", **{"sc-status": "-", "s-queuename": "-"})

    # pool Q's worker never gets ready: QUEUE connections wait, the next is 503
    req_q = b"GET /q HTTP/1.1\r\nHost: " + srv.host("Q").encode() + b"\r\n\r\n"
    waiting = []
    for _ in range(QUEUE):
        waiting.append(socket.create_connection(("127.0.0.1", srv.port),
                                                timeout=10 * TIME_SCALE))
        waiting[-1].sendall(req_q)
    queued = waiting[0]
    wait_until(lambda: srv.raw(req_q).startswith(b"HTTP/1.1 503"), 10 * TIME_SCALE,
               what="503 over pool Q's queueLength")
    expect("QueueFull", **{"sc-status": "503", "s-siteid": str(site_q), "s-queuename": "Q",
                           "cs-uri": "/q"})
    # reset by its client while queued
    queued.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    queued.close()
    expect("Connection_Dropped", **{"s-queuename": "Q", "s-siteid": str(site_q)})
    # the others wait past startupTimeLimit: 503
    check(all(read_all(s).startswith(b"HTTP/1.1 503") for s in waiting[1:]),
          "queued past startupTimeLimit")
    expect("Timer_AppPool", **{"sc-status": "503", "s-queuename": "Q"})
    for s in waiting[1:]:
        s.close()

    srv.waspctl("stop", "apppool", "S")
    wait_until(lambda: srv.pool_state("S") == "Stopped", what="pool S stopped")
    r = srv.get(pool="S", path="/s")
    check(r.status == 503, "stopped pool %r" % r)
    expect("Disabled", **{"sc-status": "503", "s-siteid": str(site_s), "s-queuename": "S"})

    # a served request is not in it; the file starts with HTTP.sys's header
    check(srv.get(pool="A").status == 200, "pool A")
    text = lines()
    check(text[:2] == ["#Software: wasp " + text[0].split(" ")[-1], "#Version: 1.0"]
          and text[2].startswith("#Date: ") and text[3] == FIELDS, "header %r" % text[:4])
    check(not any("/index.html" in ln for ln in text), "a served request logged: %r" % text)


if __name__ == "__main__":
    wasptest.main(test)
