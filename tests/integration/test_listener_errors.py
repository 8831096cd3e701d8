"""The responses wasp-http writes itself (400 for a bad request or an
unknown host, 408 at the header timeout, 431 for a head over the limit,
503 for a stopped pool) carry Date and Server like the workers' responses
(RFC 9110 6.6.1: an origin server with a clock sends Date)."""
import email.utils
import socket
import time

import wasptest
from wasptest import check, read_all, wait_until, TIME_SCALE


def head_fields(raw):
    head = raw.partition(b"\r\n\r\n")[0].decode("latin-1")
    lines = head.split("\r\n")
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields.setdefault(name.strip().lower(), []).append(value.strip())
    return lines[0], fields


def check_fields(what, raw, status, server):
    line, fields = head_fields(raw)
    check(line.startswith("HTTP/1.1 %d " % status), "%s: status line %r" % (what, raw[:200]))
    dates = fields.get("date", [])
    check(len(dates) == 1, "%s: Date fields %r" % (what, dates))
    when = email.utils.parsedate_to_datetime(dates[0]).timestamp()
    check(abs(when - time.time()) < 60, "%s: Date %r is not now" % (what, dates[0]))
    check(dates[0].endswith(" GMT") and len(dates[0]) == 29,
          "%s: Date %r is not an IMF-fixdate" % (what, dates[0]))
    check(fields.get("server") == [server], "%s: Server %r, the worker's is %r"
          % (what, fields.get("server"), server))


def test(t):
    srv = t.server(pools={"A": {"startMode": "AlwaysRunning"}})
    srv.config_text = srv.config_text.replace(
        "    <sites>\n", "    <webLimits headerWaitTimeout=\"00:00:01\" />\n    <sites>\n", 1)
    srv.start()
    ok = wait_until(lambda: srv.get(pool="A"), what="a worker's answer")
    check(ok.status == 200, "worker: %r" % ok)
    server = ok.header("Server")
    check(server and server.startswith("wasp/"), "worker's Server %r" % server)

    host = srv.host("A").encode()
    check_fields("400 Invalid Hostname",
                 srv.raw(b"GET / HTTP/1.1\r\nHost: nobody.test\r\n\r\n"), 400, server)
    check_fields("400 bad request line", srv.raw(b"GET\x01/ HTTP/1.1\r\n\r\n"), 400, server)
    check_fields("431", srv.raw(b"GET / HTTP/1.1\r\nHost: " + host + b"\r\nX-Big: "
                                + b"a" * 70000 + b"\r\n\r\n"), 431, server)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10 * TIME_SCALE) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: ")
        check_fields("408", read_all(s), 408, server)
    srv.waspctl("stop", "apppool", "A")
    wait_until(lambda: srv.pool_state("A") == "Stopped", what="pool A stopped")
    check_fields("503", srv.raw(b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n"), 503, server)


wasptest.main(test)
