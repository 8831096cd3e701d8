"""RequestFilteringModule: system.webServer/security/requestFiltering refuses
requests with 404 and IIS's substatus (seen here in X-Wasp-Substatus, which
the test module adds): 404.5 URL sequence, 404.6 verb, 404.7 file extension,
404.8 hidden segment (IIS's shipped list when the configuration writes
none), 404.10 header too long, 404.11 double escaping and '+', 404.12 high
bit characters, 404.13 Content-Length over maxAllowedContentLength, 404.14
URL too long, 404.15 query string too long, 404.18 query string sequence;
removeServerHeader; settings merge per <location> path."""
import os
import shutil
import socket
import wasptest
from wasptest import check, TIME_SCALE

WEB_SERVER = """
    <security>
      <requestFiltering allowDoubleEscaping="false" allowHighBitCharacters="false">
        <requestLimits maxAllowedContentLength="100" maxUrl="64" maxQueryString="16">
          <headerLimits>
            <add header="X-Big" sizeLimit="10" />
          </headerLimits>
        </requestLimits>
        <fileExtensions allowUnlisted="true">
          <add fileExtension=".secret" allowed="false" />
        </fileExtensions>
        <verbs allowUnlisted="true">
          <add verb="DELETE" allowed="false" />
        </verbs>
        <denyUrlSequences>
          <add sequence="~" />
          <add sequence="//" />
        </denyUrlSequences>
        <denyQueryStringSequences>
          <add sequence="evil" />
        </denyQueryStringSequences>
      </requestFiltering>
    </security>
  </system.webServer>
  <location path="A/strict">
    <system.webServer>
      <security>
        <requestFiltering>
          <fileExtensions allowUnlisted="false">
            <add fileExtension=".html" allowed="true" />
            <add fileExtension="." allowed="true" />
          </fileExtensions>
          <verbs allowUnlisted="false">
            <add verb="GET" allowed="true" />
          </verbs>
        </requestFiltering>
      </security>
    </system.webServer>
  </location>
  <location path="A/open">
    <system.webServer>
      <security>
        <requestFiltering allowDoubleEscaping="true" allowHighBitCharacters="true"
                          removeServerHeader="true">
          <hiddenSegments>
            <add segment="private" />
          </hiddenSegments>
          <requestLimits maxAllowedContentLength="1000" />
        </requestFiltering>
      </security>
    </system.webServer>
  </location>
  <location path="A/noseq">
    <system.webServer>
      <security>
        <requestFiltering>
          <denyUrlSequences>
            <clear />
          </denyUrlSequences>
        </requestFiltering>
      </security>
    </system.webServer>
  </location>
  <system.webServer>"""


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def test(t):
    srv = t.server(pools={"A": {}}, web_server_xml=WEB_SERVER)
    c = srv.content_dir("A")
    files = {
        "a.txt": "a\n", "x.secret": "secret\n", "web.config": "<configuration/>\n",
        "bin/app.dll": "MZ\n", "App_Data/db": "data\n", "app_code/x.cs": "code\n",
        "strict/index.html": "strict\n", "strict/a.txt": "a\n", "strict/noext": "n\n",
        "open/private/p.txt": "p\n", "open/bin/b.txt": "b\n",
        "open/a+b.txt": "plus\n", "open/a%41.txt": "pct\n", "open/caf\u00e9.txt": "cafe\n",
        "noseq/~x.txt": "tilde\n",
    }
    for name, text in files.items():
        write(os.path.join(c, name), text)
    for d in ("bin", "App_Data", "app_code", "strict", "open", "open/private", "open/bin", "noseq"):
        os.chmod(os.path.join(c, d), 0o755)
    srv.start()
    host = srv.host("A")

    def expect(r, status, sub, what):
        got = r.header("X-Wasp-Substatus")
        check(r.status == status and got == (str(sub) if sub else None),
              "%s: expected %d.%s, got %d.%s %r" % (what, status, sub, r.status, got, r.body[:80]))

    def get(path, **kw):
        return srv.get(path, pool="A", **kw)

    def raw(req):
        """Send a request (bytes), return (status, substatus) of the reply."""
        data = srv.raw(req)
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        lines = head.split("\r\n")
        status = int(lines[0].split()[1])
        sub = None
        for line in lines[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == "x-wasp-substatus":
                sub = int(v.strip())
        return status, sub

    # the file is served when nothing objects
    r = get("/a.txt")
    check(r.status == 200 and r.body == b"a\n", "plain file %r" % r)
    check(r.header("Server", "").startswith("wasp/"), "Server header %r" % r.headers)
    # removeServerHeader, also on an error response
    for p in ("/open/a+b.txt", "/open/private/p.txt"):
        r = get(p)
        check(r.header("Server") is None and r.header("Date"), "%s: %r" % (p, r.headers))

    # 404.8 hidden segments: nobody wrote <hiddenSegments>, so IIS's
    # shipped list (wasp's built-in defaults) applies (whole segments, any case)
    for p in ("/web.config", "/Web.Config", "/bin/app.dll", "/BIN/", "/App_Data/db",
              "/APP_CODE/x.cs"):
        r = get(p)
        expect(r, 404, 8, p)
        check(b"MZ" not in r.body and b"configuration" not in r.body, "%s leaked" % p)
    r = get("/binary.txt")  # a segment is compared whole
    expect(r, 404, None, "/binary.txt (missing, not hidden)")
    # a <location>'s <add> adds to the built-in list, as to one written in
    # applicationHost.config (IIS semantics)
    expect(get("/open/private/p.txt"), 404, 8, "/open/private/p.txt")
    expect(get("/open/PRIVATE/p.txt"), 404, 8, "/open/PRIVATE/p.txt")
    expect(get("/open/bin/b.txt"), 404, 8, "/open/bin/b.txt (built-in entry kept)")

    # 404.7 file extensions
    expect(get("/x.secret"), 404, 7, "/x.secret")
    expect(get("/X.SECRET"), 404, 7, "/X.SECRET")
    expect(get("/strict/a.txt"), 404, 7, "unlisted extension")
    r = get("/strict/index.html")
    check(r.status == 200 and r.body == b"strict\n", "allowed extension %r" % r)
    r = get("/strict/")  # "." stands for no extension
    check(r.status == 200 and r.body == b"strict\n", "\".\" allows a directory URL %r" % r)
    r = get("/strict/noext")  # past filtering; the static handler has no type for it
    check(r.header("X-Wasp-Substatus") != "7", "\".\" allows no extension %r" % r)

    # 404.6 verbs
    expect(get("/a.txt", method="DELETE"), 404, 6, "DELETE denied")
    r = get("/a.txt", method="PUT")  # unlisted: allowed, the static handler refuses it
    check(r.status == 405, "PUT (allowed by filtering) %r" % r)
    expect(get("/strict/index.html", method="HEAD"), 404, 6, "HEAD not listed")

    # 404.5 URL sequences, in the URL as sent and as decoded
    expect(get("/~a.txt"), 404, 5, "~ as sent")
    expect(get("/%7ea.txt"), 404, 5, "~ decoded")
    expect(get("//a.txt"), 404, 5, "// only in the raw URL")
    r = get("/noseq/~x.txt")
    check(r.status == 200 and r.body == b"tilde\n", "sequences cleared %r" % r)

    # 404.18 query string sequences, as sent and decoded
    expect(get("/a.txt?q=evil"), 404, 18, "query sequence")
    expect(get("/a.txt?q=%65vil"), 404, 18, "query sequence decoded")
    r = get("/a.txt?q=good")
    check(r.status == 200, "harmless query %r" % r)

    # 404.11 double escaping ('+' too), 404.12 high-bit characters
    expect(get("/a%2541.txt"), 404, 11, "double escaped")
    expect(get("/a+b.txt"), 404, 11, "plus")
    expect(get("/caf%C3%A9.txt"), 404, 12, "high bit")
    r = get("/open/a%2541.txt")
    check(r.status == 200 and r.body == b"pct\n", "allowDoubleEscaping %r" % r)
    r = get("/open/a+b.txt")
    check(r.status == 200 and r.body == b"plus\n", "allowDoubleEscaping + %r" % r)
    r = get("/open/caf%C3%A9.txt")
    check(r.status == 200 and r.body == b"cafe\n", "allowHighBitCharacters %r" % r)

    # 404.14 maxUrl (the path as sent), 404.15 maxQueryString
    p = "/" + "x" * 63
    expect(get(p), 404, None, "URL of maxUrl bytes")
    expect(get(p + "y"), 404, 14, "URL over maxUrl")
    r = get("/a.txt?" + "q" * 16)
    check(r.status == 200, "query of maxQueryString bytes %r" % r)
    expect(get("/a.txt?" + "q" * 17), 404, 15, "query over maxQueryString")

    # 404.10 header limits: the value, all field lines of the name together
    r = get("/a.txt", headers={"X-Big": "x" * 10})
    check(r.status == 200, "header at its limit %r" % r)
    expect(get("/a.txt", headers={"X-Big": "x" * 11}), 404, 10, "header over its limit")
    status, sub = raw(b"GET /a.txt HTTP/1.1\r\nHost: %s\r\nX-Big: aaaaa\r\nx-big: bbbbb\r\n"
                      b"Connection: close\r\n\r\n" % host.encode())
    check((status, sub) == (404, 10), "two field lines over the limit: %r" % ((status, sub),))

    # 404.13 maxAllowedContentLength, from Content-Length
    r = get("/a.txt", method="POST", body=b"x" * 100)
    check(r.status == 405, "body at the limit %r" % r)
    expect(get("/a.txt", method="POST", body=b"x" * 101), 404, 13, "body over the limit")
    r = get("/open/a+b.txt", method="POST", body=b"x" * 500)
    check(r.status == 405, "a location's larger limit %r" % r)
    # ... answered before the body is read: the client sends only the head
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10 * TIME_SCALE) as s:
        s.sendall(b"PUT /a.txt HTTP/1.1\r\nHost: %s\r\nContent-Length: 1000000\r\n\r\n"
                  % host.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            b = s.recv(65536)
            check(b, "closed without an answer: %r" % data)
            data += b
        check(data.startswith(b"HTTP/1.1 404") and b"X-Wasp-Substatus: 13" in data,
              "Content-Length over the limit, body not sent: %r" % data[:300])
        check(b"Connection: close" in data, "the unread body: close %r" % data[:300])

    # keep-alive across refusals: a refused request does not end the connection
    with srv.keepalive(pool="A") as ka:
        expect(ka.get("/x.secret"), 404, 7, "keep-alive refusal")
        r = ka.get("/a.txt")
        check(r.status == 200 and r.body == b"a\n", "after a refusal %r" % r)

    chunked_body_limit(t)


EXAMPLE_XML = """
    <globalModules>
      <add name="ExampleModule" image="%s" />
    </globalModules>
    <handlers accessPolicy="Read, Script">
      <add name="Example" path="*.example" verb="*" modules="ExampleModule" />
      <add name="StaticFile" path="*" verb="GET,HEAD" modules="StaticFileModule"
           resourceType="Either" requireAccess="Read" />
    </handlers>
    <security>
      <requestFiltering>
        <requestLimits maxAllowedContentLength="1000" />
      </requestFiltering>
    </security>"""


def chunked(body, size=300):
    out = b""
    for i in range(0, len(body), size):
        part = body[i:i + size]
        out += b"%x\r\n%s\r\n" % (len(part), part)
    return out + b"0\r\n\r\n"


def chunked_body_limit(t):
    """A chunked body is refused (404.13) when it grows over the limit while
    a handler reads it: the example module (examples/module) reads bodies."""
    src = wasptest.program("examples/module/mod_example.so")
    if not os.path.exists(src):
        wasptest.log("%s is not built: no chunked body scenario" % src)
        return
    d = os.path.join(t.dir, "modules")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    image = os.path.join(d, "mod_example.so")
    shutil.copy(src, image)
    os.chmod(image, 0o755)
    srv = t.server(pools={"B": {}}, web_server_xml=EXAMPLE_XML % image)
    srv.content_dir("B")
    srv.start()
    host = srv.host("B").encode()

    def post(body):
        data = srv.raw(b"POST /up.example HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n"
                       b"Connection: close\r\n\r\n%s" % (host, chunked(body)))
        return data

    data = post(b"x" * 1000)
    check(data.startswith(b"HTTP/1.1 200") and b"body 1000 bytes" in data,
          "chunked body at the limit: %r" % data[:400])
    data = post(b"x" * 1001)
    check(data.startswith(b"HTTP/1.1 404") and b"X-Wasp-Substatus: 13" in data,
          "chunked body over the limit: %r" % data[:400])
    r = srv.get("/up.example", pool="B", method="POST", body=b"y" * 1000)
    check(r.status == 200 and b"body 1000 bytes" in r.body, "Content-Length at the limit %r" % r)
    r = srv.get("/up.example", pool="B", method="POST", body=b"y" * 1001)
    check(r.status == 404 and r.header("X-Wasp-Substatus") == "13", "Content-Length over %r" % r)


wasptest.main(test)
