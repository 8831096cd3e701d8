"""RewriteModule's outbound rules: a Location header an inbound redirect
wrote rewritten, the Server header replaced, a header created, a disabled
rule, stopProcessing; HTML bodies rewritten in A, Img, Form and customTags
(not in Link, comments or a script's text) under a preCondition on the
content type (a text/plain body untouched), in a static file larger than
the filter's pieces with tags across their edges, and in a CGI script's
output written in pieces that cut a tag; a gzip-encoded response answered
500.52 (never rewritten, never sent), as IIS; a rule that cannot be built
(500.52); CustomResponse's statusReason as the reason phrase."""
import os
import socket

import cgitest
import wasptest
from wasptest import check, write_content

HEADERS = """<configuration><system.webServer><rewrite>
<rules>
  <rule name="to backend" stopProcessing="true">
    <match url="^old/(.*)" />
    <action type="Redirect" url="http://backend.internal/new/{R:1}" redirectType="Found" />
  </rule>
  <rule name="teapot">
    <match url="^teapot$" />
    <action type="CustomResponse" statusCode="418" statusReason="Short And Stout"
            statusDescription="tea" />
  </rule>
</rules>
<outboundRules>
  <rule name="location">
    <match serverVariable="RESPONSE_Location" pattern="^http://backend\\.internal/(.*)" />
    <action type="Rewrite" value="/hdr/{R:1}" />
  </rule>
  <rule name="server">
    <match serverVariable="RESPONSE_Server" pattern=".*" />
    <action type="Rewrite" value="Hidden" />
  </rule>
  <rule name="new header">
    <match serverVariable="RESPONSE_X_Frame_Options" pattern="^$" />
    <action type="Rewrite" value="DENY" />
  </rule>
  <rule name="disabled" enabled="false">
    <match serverVariable="RESPONSE_X_Disabled" pattern=".*" />
    <action type="Rewrite" value="yes" />
  </rule>
  <rule name="stop" stopProcessing="true">
    <match serverVariable="RESPONSE_X_Stop_Here" pattern="^$" />
    <conditions><add input="{URL}" pattern="/stop" /></conditions>
    <action type="None" />
  </rule>
  <rule name="after">
    <match serverVariable="RESPONSE_X_After" pattern=".*" />
    <action type="Rewrite" value="after {R:0}" />
  </rule>
</outboundRules>
</rewrite></system.webServer></configuration>
"""

HTML = """<configuration><system.webServer><rewrite><outboundRules>
  <preConditions>
    <preCondition name="IsHTML">
      <add input="{RESPONSE_CONTENT_TYPE}" pattern="^text/html" />
    </preCondition>
  </preConditions>
  <customTags>
    <tags name="Media"><tag name="video" attribute="poster" /></tags>
  </customTags>
  <rule name="links" preCondition="IsHTML">
    <match filterByTags="A, Img, Form, CustomTags" customTags="Media" pattern="^/old/(.*)" />
    <action type="Rewrite" value="/new/{R:1}" />
  </rule>
  <rule name="disabled" preCondition="IsHTML" enabled="false">
    <match filterByTags="A" pattern=".*" />
    <action type="Rewrite" value="/disabled" />
  </rule>
</outboundRules></rewrite></system.webServer></configuration>
"""

# a body made in memory (CustomResponse's), a rule without a preCondition
MEMORY = """<configuration><system.webServer><rewrite>
<rules><rule name="page"><match url="^page$" />
  <action type="CustomResponse" statusCode="200" statusDescription="&lt;a href='/old/m'&gt;" />
</rule></rules>
<outboundRules><rule name="any body">
  <match filterByTags="A" pattern="^/old/(.*)" /><action type="Rewrite" value="/new/{R:1}" />
</rule></outboundRules>
</rewrite></system.webServer></configuration>
"""

# PCRE2's limits stop a body rule's match: the response is cut
CATASTROPHIC = """<configuration><system.webServer><rewrite><outboundRules>
  <rule name="catastrophic"><match filterByTags="A" pattern="^(a+)+$" />
    <action type="Rewrite" value="x" /></rule>
</outboundRules></rewrite></system.webServer></configuration>
"""

BROKEN = """<configuration><system.webServer><rewrite><outboundRules>
  <rule name="no such precondition" preCondition="Missing">
    <match filterByTags="A" pattern="x" />
    <action type="Rewrite" value="y" />
  </rule>
</outboundRules></rewrite></system.webServer></configuration>
"""

PAGE = ('<html><head><link href="/old/l.css"></head><body>\n'
        '<a href="/old/a">a</a> <IMG SRC=\'/old/i.png\' alt="/old/x"> '
        '<form method="post" action=/old/f></form>\n'
        '<video poster="/old/p.jpg"></video> <a href="/other">o</a>\n'
        '<!-- <a href="/old/c"> --> <script>var s = "<a href=\\"/old/s\\">";</script>\n'
        'a < b <a title="it\'s" href="/old/q?x=1&amp;y=2">q</a></body></html>\n')
PAGE_OUT = ('<html><head><link href="/old/l.css"></head><body>\n'
            '<a href="/new/a">a</a> <IMG SRC=\'/new/i.png\' alt="/old/x"> '
            '<form method="post" action=/new/f></form>\n'
            '<video poster="/new/p.jpg"></video> <a href="/other">o</a>\n'
            '<!-- <a href="/old/c"> --> <script>var s = "<a href=\\"/old/s\\">";</script>\n'
            'a < b <a title="it\'s" href="/new/q?x=1&amp;y=2">q</a></body></html>\n')

# writes its page in pieces that cut tags and attribute values
PIECES_PY = r"""import sys, time
out = sys.stdout.buffer
out.write(b"Content-Type: text/html\r\n\r\n")
for piece in [b"<p>start <a hr", b"ef=\"/old/", b"one\">1</a> <im", b"g src='/old/two'",
              b"> <a href=\"/old/three\"", b">3</a"]:
    out.write(piece)
    out.flush()
    time.sleep(0.02)  # noqa: not synchronisation: separate writes
out.write(b"> end</p>\n")
"""
PIECES_OUT = (b"<p>start <a href=\"/new/one\">1</a> <img src='/new/two'> "
              b"<a href=\"/new/three\">3</a> end</p>\n")

# 2 MiB of HTML through the filter as fast as the script writes it: the
# filter holds the producer back (its buffer, not the whole body)
BIG_PY = r"""import sys
out = sys.stdout.buffer
out.write(b"Content-Type: text/html\r\n\r\n")
for i in range(20000):
    out.write(b'<p>%06d <a href="/old/%d">x</a> ' % (i, i) + b"y" * 70 + b"</p>\n")
"""

# says gzip (what the bytes are does not matter to the rules)
GZIP_PY = r"""import sys
sys.stdout.write("Content-Type: text/html\r\nContent-Encoding: gzip\r\n\r\n<a href=\"/old/z\">z</a>")
"""


def big_page():
    """Over 256 KiB, with tags cut by every 16 KiB piece the filter reads."""
    parts, size, i = [], 0, 0
    while size < 300000:
        edge = (i + 1) * 16384
        filler = "x" * (edge - size - 10)
        tag = '<a href="/old/%d">' % i
        parts.append(filler + tag)
        size += len(filler) + len(tag)
        i += 1
    return "".join(parts), i


def test(t):
    py = cgitest.python3()
    srv = wasptest.Server(t, pools={"A": {}}, web_server_xml=cgitest.web_server_xml(py))
    c = srv.content_dir("A")
    big, n_big = big_page()
    files = {"hdr/web.config": HEADERS, "hdr/x.txt": "x\n", "hdr/stop/s.txt": "s\n",
             "html/web.config": HTML, "html/page.html": PAGE, "html/page.txt": PAGE,
             "html/big.html": big, "broken/web.config": BROKEN, "mem/web.config": MEMORY, "__wasp_test/web.config": HTML,
             "cat/web.config": CATASTROPHIC,
             "cat/c.html": '<p>before</p><a href="%sb">' % ("a" * 40) + "after" * 1000, "broken/b.html": "<a>\n"}
    for name, body in files.items():
        write_content(os.path.join(c, name), body)
    for root, dirs, _ in os.walk(c):
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o755)
    cgitest.write_script(t, srv, "A", "html/pieces.py", PIECES_PY)
    cgitest.write_script(t, srv, "A", "html/gzip.py", GZIP_PY)
    cgitest.write_script(t, srv, "A", "html/big.py", BIG_PY)
    srv.start()

    # response headers: Location from an inbound redirect, Server, a new one
    r = srv.get("/hdr/old/a/b?q=1", pool="A")
    check(r.status == 302 and r.header("Location") == "/hdr/new/a/b?q=1", "Location: %r" % r.headers)
    check(r.header("Server") == "Hidden", "Server: %r" % r.headers)
    check(r.header("X-Frame-Options") == "DENY", "a new header: %r" % r.headers)
    check(r.header("X-Disabled") is None, "a disabled rule ran: %r" % r.headers)
    check(r.header("X-After") == "after ", "the rule after: %r" % r.headers)
    r = srv.get("/hdr/x.txt", pool="A")
    check(r.status == 200 and r.body == b"x\n" and r.header("Server") == "Hidden", "%r" % r)
    # stopProcessing: the rules after a matching one do not run
    r = srv.get("/hdr/stop/s.txt", pool="A")
    check(r.status == 200 and r.header("X-After") is None, "stopProcessing: %r" % r.headers)

    # statusReason
    r = srv.get("/hdr/teapot", pool="A")
    check(r.status == 418 and r.reason == "Short And Stout" and r.body == b"tea",
          "statusReason: %r %r" % (r, r.reason))

    # HTML: A, Img, Form and a custom tag; not Link, a comment or a script's text
    r = srv.get("/html/page.html", pool="A")
    check(r.status == 200 and r.body.decode() == PAGE_OUT, "page: %r" % r.body)
    check(r.header("Content-Length") is None and r.header("Transfer-Encoding") == "chunked",
          "filtered response framing: %r" % r.headers)
    # the preCondition: text/plain is not HTML
    r = srv.get("/html/page.txt", pool="A")
    check(r.status == 200 and r.body.decode() == PAGE and r.header("Content-Length"),
          "text/plain: %r" % r.headers)
    # a static file read in pieces: tags across their edges
    r = srv.get("/html/big.html", pool="A")
    want = big
    for i in range(n_big):
        want = want.replace('"/old/%d"' % i, '"/new/%d"' % i)
    check(r.status == 200 and r.body.decode() == want,
          "big page: %d bytes, %d rewritten" % (len(r.body), r.body.count(b"/new/")))
    # HEAD: no body
    raw = wasptest.raw_request(srv.port, ("HEAD /html/page.html HTTP/1.1\r\nHost: %s\r\n"
                                          "Connection: close\r\n\r\n" % srv.host("A")).encode())
    check(raw.startswith(b"HTTP/1.1 200") and raw.endswith(b"\r\n\r\n"), "HEAD: %r" % raw)
    # a CGI script that writes a tag in pieces
    r = srv.get("/html/pieces.py", pool="A")
    check(r.status == 200 and r.body == PIECES_OUT, "pieces: %r" % r.body)
    # a big streamed body: every tag rewritten, nothing lost
    r = srv.get("/html/big.py", pool="A")
    check(r.status == 200 and r.body.count(b'href="/new/') == 20000 and b"/old/" not in r.body
          and r.body.endswith(b"</p>\n") and len(r.body) > 2000000,
          "big stream: %d bytes, %d rewritten" % (len(r.body), r.body.count(b"/new/")))
    # HTTP/1.0: no chunks, the end of the connection ends the body
    raw = wasptest.raw_request(srv.port, ("GET /html/page.html HTTP/1.0\r\nHost: %s\r\n\r\n"
                                          % srv.host("A")).encode())
    head, _, body = raw.partition(b"\r\n\r\n")
    check(raw.startswith(b"HTTP/1.1 200") and b"Transfer-Encoding" not in head and
          b"Content-Length" not in head and body.decode() == PAGE_OUT, "HTTP/1.0: %r" % raw)
    # gzip: IIS answers 500.52, the encoded body is never sent
    r = srv.get("/html/gzip.py", pool="A")
    check(r.status == 500 and r.header("X-Wasp-Substatus") == "52" and
          r.header("Content-Encoding") is None, "gzip: %r %r" % (r, r.headers))
    # a streamed body its producer ended before SendResponse
    r = srv.get("/__wasp_test/stream-ended", pool="A")
    check(r.status == 200 and r.body == b'<a href="/new/s">s</a>\n', "ended stream: %r" % r.body)
    # a body in memory
    r = srv.get("/mem/page", pool="A")
    check(r.status == 200 and r.body == b"<a href='/new/m'>", "memory body: %r" % r.body)
    # a body rule PCRE2's limits stop: the response is cut, not sent unrewritten
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(("GET /cat/c.html HTTP/1.1\r\nHost: %s\r\n\r\n" % srv.host("A")).encode())
    raw = wasptest.read_all(s)
    s.close()
    body = raw.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in raw else b""
    check(raw.startswith(b"HTTP/1.1 200") and b"after" not in body and
          not body.endswith(b"0\r\n\r\n"), "catastrophic: %r" % raw[-200:])
    r = srv.get("/mem/page", pool="A")
    check(r.status == 200, "the worker serves on: %r" % r)
    # a rule naming a preCondition that does not exist: 500.52
    r = srv.get("/broken/b.html", pool="A")
    check(r.status == 500 and r.header("X-Wasp-Substatus") == "52", "broken: %r" % r.headers)
    # the worker serves on, and keep-alive works across filtered responses
    with wasptest.KeepAlive(srv.port, host=srv.host("A")) as k:
        for _ in range(3):
            r = k.get("/html/page.html")
            check(r.status == 200 and r.body.decode() == PAGE_OUT, "keep-alive: %r" % r)


wasptest.main(test)
