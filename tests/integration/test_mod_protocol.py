"""ProtocolSupportModule: system.webServer/httpProtocol. customHeaders go on
every response (error pages included), merged per path with add/remove/
clear; redirectHeaders only on redirects; allowKeepAlive="false" closes the
connection after the response; TRACE and TRACK are refused with 501 and the
request is never echoed."""
import os
import socket
import wasptest
from wasptest import check, TIME_SCALE, write_content

WEB_SERVER = """
    <httpProtocol>
      <customHeaders>
        <add name="X-Powered-By" value="wasp" />
        <add name="X-Top" value="top" />
        <add name="Connection" value="upgrade" />
      </customHeaders>
      <redirectHeaders>
        <add name="X-Redirected" value="yes" />
      </redirectHeaders>
    </httpProtocol>
  </system.webServer>
  <location path="A/sub">
    <system.webServer>
      <httpProtocol>
        <customHeaders>
          <remove name="X-Top" />
          <add name="X-Sub" value="sub" />
        </customHeaders>
      </httpProtocol>
    </system.webServer>
  </location>
  <location path="A/none">
    <system.webServer>
      <httpProtocol>
        <customHeaders>
          <clear />
        </customHeaders>
      </httpProtocol>
    </system.webServer>
  </location>
  <location path="A/nokeep">
    <system.webServer>
      <httpProtocol allowKeepAlive="false" />
    </system.webServer>
  </location>
  <system.webServer>"""


def read_head(s):
    data = b""
    while b"\r\n\r\n" not in data:
        b = s.recv(65536)
        check(b, "closed before a response head: %r" % data)
        data += b
    return data


def test(t):
    srv = t.server(pools={"A": {}}, web_server_xml=WEB_SERVER)
    c = srv.content_dir("A")
    for name in ("a.txt", "sub/a.txt", "sub/dir/index.html", "none/a.txt", "nokeep/a.txt"):
        write_content(os.path.join(c, name), "x\n")
    for d in ("sub", "sub/dir", "none", "nokeep"):
        os.chmod(os.path.join(c, d), 0o755)
    srv.start()
    host = srv.host("A").encode()

    # customHeaders on every response, error pages included
    for p, status in (("/a.txt", 200), ("/missing.txt", 404), ("/web.config", 404)):
        r = srv.get(p, pool="A")
        check(r.status == status and r.header("X-Powered-By") == "wasp" and
              r.header("X-Top") == "top", "%s: %r %r" % (p, r, r.headers))
        check(r.header("X-Redirected") is None, "redirectHeaders on a %d: %r" % (status, r.headers))
    # merged per path: remove + add below, clear elsewhere
    r = srv.get("/sub/a.txt", pool="A")
    check(r.status == 200 and r.header("X-Powered-By") == "wasp" and r.header("X-Top") is None
          and r.header("X-Sub") == "sub", "merged customHeaders %r" % r.headers)
    r = srv.get("/none/a.txt", pool="A")
    check(r.status == 200 and r.header("X-Powered-By") is None and r.header("X-Top") is None,
          "cleared customHeaders %r" % r.headers)
    # a header the worker writes itself cannot be configured
    r = srv.get("/a.txt", pool="A")
    check(r.status == 200 and r.header("Connection") != "upgrade", "Connection set: %r" % r.headers)
    srv.wait_log("header 'Connection'")

    # redirectHeaders only on redirects (the directory redirect here)
    r = srv.get("/sub/dir", pool="A")
    check(r.status == 301 and r.header("X-Redirected") == "yes" and
          r.header("X-Sub") == "sub", "redirect %r %r" % (r, r.headers))

    # allowKeepAlive: kept alive by default, closed below /nokeep
    with srv.keepalive(pool="A") as ka:
        for _ in range(2):
            r = ka.get("/a.txt")
            check(r.status == 200 and r.header("Connection") != "close", "keep-alive %r" % r.headers)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10 * TIME_SCALE) as s:
        s.sendall(b"GET /nokeep/a.txt HTTP/1.1\r\nHost: %s\r\n\r\n" % host)
        data = read_head(s)
        check(data.startswith(b"HTTP/1.1 200") and b"\r\nConnection: close\r\n" in data,
              "allowKeepAlive=false: %r" % data)
        while True:  # and the server closes it
            b = s.recv(65536)
            if not b:
                break

    # TRACE and TRACK: 501, never an echo of the request
    for m in (b"TRACE", b"TRACK"):
        data = srv.raw(b"%s /a.txt HTTP/1.1\r\nHost: %s\r\nX-Secret: s3cr3t\r\n"
                       b"Cookie: id=s3cr3t\r\nConnection: close\r\n\r\n" % (m, host))
        check(data.startswith(b"HTTP/1.1 501 ") and b"s3cr3t" not in data,
              "%s: %r" % (m.decode(), data))
        check(b"X-Powered-By: wasp" in data, "%s without customHeaders: %r" % (m.decode(), data))


wasptest.main(test)
