"""The metrics HTTP endpoint (system.applicationHost/wasp/metrics): off by
default; on when enabled, at the configured address and port, GET /metrics
only (404, 405), a head over 8 KiB is 431; a reload opens, moves and closes
it; an address that is not one is refused with file, line and attribute
(at start, by --test-config, by a reload, which then changes nothing, and by
a waspctl edit, which leaves the file as it was)."""
import socket
import subprocess
import urllib.error
import urllib.request

import wasptest
from wasptest import check, free_port, wait_until
from metricstest import parse, value, promtool_check


def section(port, enabled=None, address=None):
    attrs = ' port="%d"' % port
    if enabled is not None:
        attrs += ' enabled="%s"' % ("true" if enabled else "false")
    if address is not None:
        attrs += ' address="%s"' % address
    return "    <wasp>\n      <metrics%s />\n    </wasp>\n" % attrs


def with_section(srv, text):
    base = srv.config_text
    if "<wasp>" in base:
        base = base[:base.index("    <wasp>")] + base[base.index("</wasp>\n") + 8:]
    return base.replace("    <sites>\n", text + "    <sites>\n", 1)


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        return False
    except ConnectionRefusedError:
        return True


def fetch(port, path="/metrics", method="GET"):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def reload(srv, text):
    srv.config_text = with_section(srv, text)
    with open(srv.config_path, "w") as f:
        f.write(srv.config_text)
    return srv.waspctl("reload", check_status=False)


def test(t):
    mport = free_port()
    srv = t.server(pools={"A": {}})
    srv.config_text = with_section(srv, section(mport))  # enabled not set: off
    srv.start()
    check(srv.get(pool="A").status == 200, "request")
    check(refused(mport), "the endpoint is off by default")

    rc, out, err = reload(srv, section(mport, enabled=True))
    check(rc == 0, "reload: %s %s" % (out, err))
    status, ctype, body = fetch(mport)
    check(status == 200 and ctype.startswith("text/plain; version=0.0.4"), "GET %d %r"
          % (status, ctype))
    m = parse(body)
    check(value(m, "wasp_pool_state", pool="A", state="Started") == 1, "pool state")
    wait_until(lambda: value(parse(fetch(mport)[2]), "wasp_pool_requests_total", pool="A") >= 1,
               what="A's request counted")
    check(promtool_check(body) in (True, None), "promtool")
    check(fetch(mport, "/metrics?x=1")[0] == 200, "a query is fine")
    check(fetch(mport, "/")[0] == 404, "/ is 404")
    check(fetch(mport, "/metricsx")[0] == 404, "/metricsx is 404")
    check(fetch(mport, method="POST")[0] == 405, "POST is 405")
    s = socket.create_connection(("127.0.0.1", mport), timeout=10)
    s.sendall(b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n")
    head = s.recv(100)
    s.close()
    check(head.startswith(b"HTTP/1.1 431 "), "a huge head: %r" % head)

    # a bad address: the reload is refused naming the attribute, the endpoint stays
    rc, out, err = reload(srv, section(mport, enabled=True, address="localhost"))
    check(rc != 0 and "attribute 'address'" in err and "localhost" in err
          and srv.config_path in err, "bad address: %d %r" % (rc, err))
    check(fetch(mport)[0] == 200, "the endpoint stays after a refused reload")
    p = subprocess.run([wasptest.program("activator/waspd"), "--test-config", "-c",
                        srv.config_path], capture_output=True, timeout=60)
    check(p.returncode != 0 and b"attribute 'address'" in p.stdout, "--test-config: %r"
          % p.stdout[-300:])

    # an edit is checked as a reload checks it: refused, the file unchanged
    with open(srv.config_path) as f:
        before = f.read()
    p = subprocess.run([wasptest.program("activator/waspctl"), "-c", srv.config_path, "set",
                        "config", "/section:system.applicationHost/wasp/metrics",
                        "/address:example.com"], capture_output=True, timeout=60)
    check(p.returncode != 0 and b"attribute 'address'" in p.stderr, "edit: %r" % p.stderr)
    with open(srv.config_path) as f:
        check(f.read() == before, "the refused edit changed the file")

    # moved to another port, then off again
    mport2 = free_port()
    check(reload(srv, section(mport2, enabled=True))[0] == 0, "reload to another port")
    check(fetch(mport2)[0] == 200 and refused(mport), "moved")
    check(reload(srv, section(mport2, enabled=False))[0] == 0, "reload: off")
    check(refused(mport2), "off again")


wasptest.main(test)
