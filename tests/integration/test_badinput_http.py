"""Bad-input suite, HTTP: a table of raw byte sequences sent to a running
server (waspd + wasp-http + a worker), each with the status the codec's
documented strictness choices (protocols/http/http.h) or RFC 9112 call for,
or "closed without a response" where that is the documented behaviour.

Every row runs twice: as the first request of a new connection (wasp-http
parses it to route it) and as the second request of a keep-alive
connection (the worker parses it). After every row the server must still
answer a normal request, and neither the listener nor the worker may have
been replaced (a crash hidden by a restart). No response may ever carry the
content of a secret file kept beside the content root, and no row may
produce more responses than requests it holds (request smuggling).

Timing cases: a slowloris client (a byte at a time) on a new connection is
answered 408 and closed at the listener's header timeout (webLimits
headerWaitTimeout, set short here) while others are served (the table and
400 mutated requests from 16 threads); on a keep-alive connection the
worker answers 408 at the site's connectionTimeout (set short here) and
closes."""
import os
import random
import socket
import ssl
import threading
import time
import uuid

import wasptest
from wasptest import check, log, TIME_SCALE

HOST = b"a.test"
# WASP_BADINPUT_TLS=1 (test_badinput_https.py): every connection over TLS
# (an https binding; wasp-http's relay between the client and the codec).
TLS = os.environ.get("WASP_BADINPUT_TLS") == "1"
# what a TLS connection's recv raises for the peer's close without close_notify
TLS_EOF = (ssl.SSLEOFError, ssl.SSLZeroReturnError)
NOT_READY = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


def connect(port, timeout):
    """A connection to the server, over TLS when TLS."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if not TLS:
        return s
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx.wrap_socket(s, server_hostname="a.test")
CLOSED = "closed"  # connection closed (FIN or reset) without any response

# The listener's header timeout: webLimits headerWaitTimeout in this test.
LISTENER_HEADER_TIMEOUT = 2.0
# The site's connectionTimeout in this test: the worker's head/idle timeout.
CONNECTION_TIMEOUT = 2.0
# requestFiltering maxAllowedContentLength in this test's configuration.
MAX_BODY = 1000
# Slowloris clients holding new connections while the table runs.
SLOWLORIS_CLIENTS = 20


def req(line=b"GET /index.html HTTP/1.1", fields=(b"Host: a.test",), body=b"",
        close=True):
    """A request head (CRLF line ends) with Connection: close by default."""
    lines = [line] + list(fields)
    if close:
        lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def get(path, host=b"a.test", version=b"HTTP/1.1"):
    return req(b"GET " + path + b" " + version, (b"Host: " + host,))


def post(fields, body):
    return req(b"POST /index.html HTTP/1.1", (b"Host: a.test",) + tuple(fields), body)


# (name, bytes or list of writes, expected status / tuple of allowed
# statuses / CLOSED, options). Options: "fresh_only" (the case is about the
# start of a connection), "responses" (how many responses the bytes may
# produce, default 1), "headers" (lowercase name -> the exact value the
# response must carry), "no_entity_headers" (no ETag, Last-Modified,
# Accept-Ranges or Allow), "forbid" (bytes the response must not contain).
ROWS = [
    # -- positive controls: the same machinery accepts what is valid
    ("valid GET", get(b"/index.html"), 200, {}),
    ("valid GET split in writes", [b"GET /index.html HT", b"TP/1.1\r\nHost: a.t",
                                   b"est\r\nConnection: close\r", b"\n\r\n"], 200, {}),
    ("valid chunked body", post([b"Transfer-Encoding: chunked"],
                                b"5\r\nhello\r\n0\r\n\r\n"), (200, 405), {}),
    ("valid chunked, Chunked in any case", post([b"Transfer-Encoding: Chunked"],
                                                b"0\r\n\r\n"), (200, 405), {}),
    ("chunk extension and trailer", post([b"Transfer-Encoding: chunked"],
                                         b"5;name=\"v\"\r\nhello\r\n0\r\nX-T: 1\r\n\r\n"),
     (200, 405), {}),
    ("two equal Content-Length lines", req(b"GET /index.html HTTP/1.1",
                                           (b"Host: a.test", b"Content-Length: 5",
                                            b"Content-Length: 5"), b"hello"), 200, {}),
    ("Content-Length list of equal values", req(b"GET /index.html HTTP/1.1",
                                                (b"Host: a.test", b"Content-Length: 5, 5"),
                                                b"hello"), 200, {}),
    ("HTTP/1.2 served as 1.1", get(b"/index.html", version=b"HTTP/1.2"), 200, {}),
    ("absolute-form target", req(b"GET http://a.test/index.html HTTP/1.1"), 200, {}),
    ("HTAB as OWS", req(b"GET /index.html HTTP/1.1", (b"Host:\ta.test\t",)), 200, {}),
    ("valid UTF-8 path", get(b"/caf%C3%A9.html"), 200, {}),
    ("dot segments inside the root", get(b"/x/../index.html"), 200, {}),

    # -- request smuggling
    ("CL then TE", post([b"Content-Length: 6", b"Transfer-Encoding: chunked"],
                        b"0\r\n\r\nGET /secret.txt HTTP/1.1\r\nHost: a.test\r\n\r\n"), 400, {}),
    ("TE then CL", post([b"Transfer-Encoding: chunked", b"Content-Length: 6"],
                        b"0\r\n\r\nGET /secret.txt HTTP/1.1\r\nHost: a.test\r\n\r\n"), 400, {}),
    ("CL with TE identity", post([b"Content-Length: 5", b"Transfer-Encoding: identity"],
                                 b"hello"), (400, 501), {}),
    ("conflicting Content-Length lines", post([b"Content-Length: 5", b"Content-Length: 6"],
                                              b"hello!"), 400, {}),
    ("conflicting Content-Length list", post([b"Content-Length: 5, 6"], b"hello!"), 400, {}),
    ("Content-Length with sign", post([b"Content-Length: +5"], b"hello"), 400, {}),
    ("negative Content-Length", post([b"Content-Length: -1"], b"hello"), 400, {}),
    ("hex Content-Length", post([b"Content-Length: 0x5"], b"hello"), 400, {}),
    ("empty Content-Length", post([b"Content-Length:"], b""), 400, {}),
    ("Content-Length with 19 digits", post([b"Content-Length: 1000000000000000000"], b""),
     400, {}),
    ("Content-Length overflowing 64 bits",
     post([b"Content-Length: 18446744073709551617"], b""), 400, {}),
    ("Content-Length with a space inside", post([b"Content-Length: 1 0"], b"0123456789"),
     400, {}),
    ("TE gzip, chunked", post([b"Transfer-Encoding: gzip, chunked"], b"0\r\n\r\n"), 501, {}),
    ("TE chunked, gzip", post([b"Transfer-Encoding: chunked, gzip"], b"0\r\n\r\n"), 400, {}),
    ("TE gzip alone", post([b"Transfer-Encoding: gzip"], b"0\r\n\r\n"), 400, {}),
    ("TE chunked twice", post([b"Transfer-Encoding: chunked, chunked"], b"0\r\n\r\n"), 400, {}),
    ("TE split over two lines, chunked first",
     post([b"Transfer-Encoding: chunked", b"Transfer-Encoding: gzip"], b"0\r\n\r\n"), 400, {}),
    ("TE split over two lines, chunked last",
     post([b"Transfer-Encoding: gzip", b"Transfer-Encoding: chunked"], b"0\r\n\r\n"), 501, {}),
    ("TE unknown coding", post([b"Transfer-Encoding: xchunked"], b"0\r\n\r\n"), 501, {}),
    ("TE identity", post([b"Transfer-Encoding: identity"], b""), 501, {}),
    ("TE chunked with a parameter", post([b"Transfer-Encoding: chunked;q=1"], b"0\r\n\r\n"),
     400, {}),
    ("TE empty", post([b"Transfer-Encoding: "], b""), 400, {}),
    ("TE in HTTP/1.0", req(b"POST /index.html HTTP/1.0",
                           (b"Host: a.test", b"Transfer-Encoding: chunked"),
                           b"0\r\n\r\n"), 400, {}),
    ("TE with space before the colon", post([b"Transfer-Encoding : chunked"], b"0\r\n\r\n"),
     400, {}),
    ("obs-fold", req(b"GET /index.html HTTP/1.1", (b"Host: a.test", b"X-A: 1", b" 2")),
     400, {}),
    ("obs-fold with HTAB", req(b"GET /index.html HTTP/1.1", (b"Host: a.test", b"X-A: 1",
                                                             b"\t2")), 400, {}),
    ("obs-fold continuing Transfer-Encoding",
     post([b"Transfer-Encoding: gzip,", b" chunked"], b"0\r\n\r\n"), 400, {}),
    ("bare LF line ends", b"GET /index.html HTTP/1.1\nHost: a.test\nConnection: close\n\n",
     400, {}),
    ("bare LF in one field line",
     b"GET /index.html HTTP/1.1\r\nHost: a.test\nConnection: close\r\n\r\n", 400, {}),
    ("bare CR inside a value", req(b"GET /index.html HTTP/1.1", (b"Host: a.test",
                                                                 b"X-A: 1\r2")), 400, {}),
    # No LF anywhere: the byte after a CR settles it (not a timeout).
    ("bare CR line ends", b"GET /index.html HTTP/1.1\rHost: a.test\rConnection: close\r\r",
     400, {}),
    ("space before the colon", req(b"GET /index.html HTTP/1.1", (b"Host : a.test",)),
     400, {}),
    ("HTAB before the colon", req(b"GET /index.html HTTP/1.1", (b"Host: a.test",
                                                                b"X-A\t: 1")), 400, {}),
    ("space before the first field", req(b"GET /index.html HTTP/1.1", (b" X-A: 1",
                                                                       b"Host: a.test")),
     400, {}),
    ("empty field name", req(b"GET /index.html HTTP/1.1", (b"Host: a.test", b": 1")),
     400, {}),
    ("field line without a colon", req(b"GET /index.html HTTP/1.1", (b"Host: a.test",
                                                                     b"Bad")), 400, {}),
    ("NUL in a field value", req(b"GET /index.html HTTP/1.1", (b"Host: a.test",
                                                               b"X-A: 1\x002")), 400, {}),
    ("NUL in a field name", req(b"GET /index.html HTTP/1.1", (b"Host: a.test",
                                                              b"X-\x00A: 1")), 400, {}),
    ("control character in a value", req(b"GET /index.html HTTP/1.1",
                                         (b"Host: a.test", b"X-A: 1\x012")), 400, {}),
    ("DEL in a value", req(b"GET /index.html HTTP/1.1", (b"Host: a.test", b"X-A: 1\x7f")),
     400, {}),
    ("non-tchar in a field name", req(b"GET /index.html HTTP/1.1",
                                      (b"Host: a.test", b"X(A): 1")), 400, {}),
    ("NUL in the target", get(b"/index.html\x00.txt"), 400, {}),
    ("NUL after the target", b"GET /index.html\x00 HTTP/1.1\r\nHost: a.test\r\n\r\n", 400, {}),

    # -- malformed request lines
    ("missing version (HTTP/0.9 style)", b"GET /index.html\r\n\r\n", 400, {}),
    ("HTTP/0.9", get(b"/index.html", version=b"HTTP/0.9"), 505, {}),
    ("HTTP/2.0", get(b"/index.html", version=b"HTTP/2.0"), 505, {}),
    ("HTTP/3.0", get(b"/index.html", version=b"HTTP/3.0"), 505, {}),
    ("version without minor", get(b"/index.html", version=b"HTTP/1"), 400, {}),
    ("version with two-digit minor", get(b"/index.html", version=b"HTTP/1.10"), 400, {}),
    ("lowercase protocol name", get(b"/index.html", version=b"http/1.1"), 400, {}),
    ("lowercase method with invalid chars", req(b"g(e)t /index.html HTTP/1.1"), 400, {}),
    ("method with @", req(b"G@T /index.html HTTP/1.1"), 400, {}),
    ("method of 33 bytes", req(b"A" * 33 + b" /index.html HTTP/1.1"), 400, {}),
    ("two spaces after the method", req(b"GET  /index.html HTTP/1.1"), 400, {}),
    ("two spaces before the version", req(b"GET /index.html  HTTP/1.1"), 400, {}),
    ("trailing space", req(b"GET /index.html HTTP/1.1 "), 400, {}),
    ("leading space", req(b" GET /index.html HTTP/1.1"), 400, {}),
    ("HTAB as separator", req(b"GET\t/index.html HTTP/1.1"), 400, {}),
    ("four parts", req(b"GET /index.html HTTP/1.1 extra"), 400, {}),
    ("empty request line", b"\r\n" * 9 + get(b"/index.html"), 400, {"fresh_only": True}),
    ("target without a slash", req(b"GET index.html HTTP/1.1"), 400, {}),
    ("asterisk target with GET", req(b"GET * HTTP/1.1"), 400, {}),
    # OPTIONS * is about the server (RFC 9110 9.3.7), routed by Host.
    ("OPTIONS *", req(b"OPTIONS * HTTP/1.1"), 200,
     {"headers": {b"allow": b"OPTIONS, TRACE, GET, HEAD, POST",
                  b"public": b"OPTIONS, TRACE, GET, HEAD, POST",
                  b"content-length": b"0"}}),
    ("OPTIONS * for a Host of no binding", req(b"OPTIONS * HTTP/1.1", (b"Host: nosuch.test",)),
     400, {}),
    # Not a proxy: CONNECT is implemented for no resource.
    ("CONNECT to a site's name", req(b"CONNECT a.test:443 HTTP/1.1", (b"Host: a.test:443",)),
     501, {}),
    ("CONNECT elsewhere", req(b"CONNECT example.com:443 HTTP/1.1",
                              (b"Host: example.com:443",)), 501, {}),
    ("userinfo in absolute form", req(b"GET http://u:p@a.test/index.html HTTP/1.1"), 400, {}),
    ("'#' in the target", get(b"/index.html#frag"), 400, {}),
    ("'<' in the target", get(b"/<script>"), 400, {}),
    ("'{' in the target", get(b"/{x}"), 400, {}),
    ("bad %-escape", get(b"/index%zz.html"), 400, {}),
    ("truncated %-escape", get(b"/index.html%4"), 400, {}),
    ("TLS ClientHello", bytes.fromhex("16030100a5010000a10303") + bytes(range(64)),
     (400, CLOSED), {"fresh_only": True}),
    ("binary garbage", b"\xff\xfe\x00\x01\x80\x90garbage\r\n\r\n", 400, {}),
    ("high-bit bytes in the method", req(b"G\xc3\xa9T /index.html HTTP/1.1"), 400, {}),

    # -- limits
    ("request line over 8 KiB", get(b"/" + b"a" * 9000), 414, {}),
    ("request line over 8 KiB before its LF", b"GET /" + b"a" * 9000, 414, {}),
    ("head over 16 KiB", req(b"GET /index.html HTTP/1.1",
                             (b"Host: a.test",) + tuple(b"X-%d: %s" % (i, b"v" * 1000)
                                                        for i in range(20))), 431, {}),
    ("one field of 17 KiB", req(b"GET /index.html HTTP/1.1",
                                (b"Host: a.test", b"X-Big: " + b"v" * 17000)), 431, {}),
    ("101 field lines", req(b"GET /index.html HTTP/1.1",
                            (b"Host: a.test",) + tuple(b"X-%d: v" % i for i in range(100))),
     431, {}),
    ("100 field lines", req(b"GET /index.html HTTP/1.1",
                            (b"Host: a.test",) + tuple(b"X-%d: v" % i for i in range(98))),
     200, {}),
    # Body limits, the same status whatever the framing: requestFiltering
    # maxAllowedContentLength (MAX_BODY here) is IIS's 404.13, whether the
    # Content-Length says so or a chunked body grows over it; under /big
    # (a module limit over ours) the worker's own cap of 30,000,000 bytes
    # answers 413 (docs/worker.md).
    ("Content-Length over maxAllowedContentLength",
     post([b"Content-Length: %d" % (MAX_BODY + 1)], b"x" * (MAX_BODY + 1)), 404, {}),
    ("chunked body over maxAllowedContentLength",
     post([b"Transfer-Encoding: chunked"],
          b"%x\r\n%s\r\n0\r\n\r\n" % (MAX_BODY + 1, b"x" * (MAX_BODY + 1))),
     404, {"no_entity_headers": True}),
    ("chunked body over maxAllowedContentLength in two chunks",
     req(b"GET /index.html HTTP/1.1", (b"Host: a.test", b"Transfer-Encoding: chunked"),
         b"%x\r\n%s\r\n2\r\nxx\r\n0\r\n\r\n" % (MAX_BODY, b"x" * MAX_BODY)),
     404, {"no_entity_headers": True}),
    ("Content-Length over 30000000 and maxAllowedContentLength",
     post([b"Content-Length: 30000001"], b"x" * 100), 404, {}),
    ("chunk declaring more than 30000000 and maxAllowedContentLength",
     post([b"Transfer-Encoding: chunked"], b"1C9C381\r\n" + b"x" * 100), 404, {}),
    ("Content-Length over our cap of 30000000",
     req(b"POST /big/index.html HTTP/1.1", (b"Host: a.test", b"Content-Length: 30000001"),
         b"x" * 100), 413, {}),
    ("chunk declaring more than our cap of 30000000",
     req(b"POST /big/index.html HTTP/1.1", (b"Host: a.test", b"Transfer-Encoding: chunked"),
         b"1C9C381\r\n" + b"x" * 100), 413, {}),
    ("chunked body at maxAllowedContentLength",
     req(b"GET /index.html HTTP/1.1", (b"Host: a.test", b"Transfer-Encoding: chunked"),
         b"%x\r\n%s\r\n0\r\n\r\n" % (MAX_BODY, b"x" * MAX_BODY)), 200, {}),

    # 404.13 at once, and no 100 Continue first (one response only)
    ("Expect: 100-continue over maxAllowedContentLength",
     post([b"Expect: 100-continue", b"Content-Length: %d" % (MAX_BODY + 1)], b""), 404, {}),
    ("TRACE is refused, never echoed", req(b"TRACE /index.html HTTP/1.1",
                                          (b"Host: a.test", b"X-Echo: TRACE-ECHO-TOKEN")),
     501, {"forbid": b"TRACE-ECHO-TOKEN"}),

    # -- malformed chunked bodies
    ("non-hex chunk size", post([b"Transfer-Encoding: chunked"], b"zz\r\nhello\r\n0\r\n\r\n"),
     400, {}),
    ("chunk size with 0x", post([b"Transfer-Encoding: chunked"], b"0x5\r\nhello\r\n0\r\n\r\n"),
     400, {}),
    ("negative chunk size", post([b"Transfer-Encoding: chunked"], b"-5\r\nhello\r\n0\r\n\r\n"),
     400, {}),
    ("empty chunk size", post([b"Transfer-Encoding: chunked"], b"\r\nhello\r\n0\r\n\r\n"),
     400, {}),
    ("chunk size overflowing 64 bits", post([b"Transfer-Encoding: chunked"],
                                            b"10000000000000005\r\nhello\r\n0\r\n\r\n"),
     400, {}),
    ("chunk size of 16 significant digits", post([b"Transfer-Encoding: chunked"],
                                                 b"FFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n"),
     400, {}),
    ("missing CRLF after chunk data", post([b"Transfer-Encoding: chunked"],
                                           b"5\r\nhelloXX0\r\n\r\n"), 400, {}),
    ("chunk data longer than its size", post([b"Transfer-Encoding: chunked"],
                                             b"3\r\nhello\r\n0\r\n\r\n"), 400, {}),
    ("bare LF after chunk size", post([b"Transfer-Encoding: chunked"],
                                      b"5\nhello\r\n0\r\n\r\n"), 400, {}),
    ("chunk extension over 4 KiB", post([b"Transfer-Encoding: chunked"],
                                        b"5;x=" + b"a" * 5000 + b"\r\nhello\r\n0\r\n\r\n"),
     400, {}),
    ("chunk extension with NUL", post([b"Transfer-Encoding: chunked"],
                                      b"5;x\x00\r\nhello\r\n0\r\n\r\n"), 400, {}),
    ("trailer over 8 KiB", post([b"Transfer-Encoding: chunked"],
                                b"0\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 1000)
                                                    for i in range(10)) + b"\r\n"), 431, {}),
    ("malformed trailer line", post([b"Transfer-Encoding: chunked"],
                                    b"0\r\nbad trailer\r\n\r\n"), 400, {}),
    # A body found malformed as the worker discards it replaces the
    # response: the error must not carry the file's validators (or 405's
    # Allow).
    ("malformed body after a file's response",
     req(b"GET /index.html HTTP/1.1", (b"Host: a.test", b"Transfer-Encoding: chunked"),
         b"5\r\nhello\r\nzz\r\n"), 400, {"no_entity_headers": True}),
    ("malformed body after a 405", post([b"Transfer-Encoding: chunked"],
                                        b"5\r\nhello\r\nzz\r\n"),
     400, {"no_entity_headers": True}),

    # -- path traversal: never a file outside the root (400 or 404)
    ("..", get(b"/../secret.txt"), 400, {}),
    ("../..", get(b"/../../secret.txt"), 400, {}),
    ("dir/../..", get(b"/x/../../secret.txt"), 400, {}),
    ("%2e%2e", get(b"/%2e%2e/secret.txt"), 400, {}),
    ("%2E%2e", get(b"/%2E%2e/secret.txt"), 400, {}),
    (".%2e", get(b"/.%2e/secret.txt"), 400, {}),
    ("..%2f", get(b"/..%2fsecret.txt"), 400, {}),
    ("..%2F..%2F", get(b"/..%2F..%2Fsecret.txt"), 400, {}),
    ("%5c", get(b"/..%5csecret.txt"), 400, {}),
    ("%5C", get(b"/..%5Csecret.txt"), 400, {}),
    ("backslash", get(b"/..\\secret.txt"), 400, {}),
    ("%00", get(b"/../secret.txt%00.html"), 400, {}),
    ("%00 inside the root", get(b"/index.html%00.txt"), 400, {}),
    ("overlong UTF-8 %c0%ae", get(b"/%c0%ae%c0%ae/secret.txt"), 400, {}),
    ("overlong UTF-8 %c0%af", get(b"/..%c0%afsecret.txt"), 400, {}),
    ("overlong UTF-8 %e0%80%ae", get(b"/%e0%80%ae%e0%80%ae/secret.txt"), 400, {}),
    ("overlong UTF-8 %c1%9c", get(b"/..%c1%9csecret.txt"), 400, {}),
    ("double escaping %252e%252e", get(b"/%252e%252e/secret.txt"), (400, 404), {}),
    ("double escaping %252f", get(b"/..%252fsecret.txt"), (400, 404), {}),
    ("%%32%65 (IIS double decode)", get(b"/%%32%65%%32%65/secret.txt"), 400, {}),
    ("absolute form with ..", req(b"GET http://a.test/../secret.txt HTTP/1.1"), 400, {}),
    ("dot segments mixing encodings", get(b"/x/.%2E/%2e./secret.txt"), 400, {}),
    ("... segment", get(b"/.../secret.txt"), 404, {}),
    ("stalled body", post([b"Content-Length: 10"], b"hello"), (408, CLOSED), {}),
    ("symbolic link leaving the root", get(b"/escape.txt"), (403, 404), {}),
    ("symbolic link to a directory outside", get(b"/escape-dir/secret.txt"), (403, 404), {}),

    ("hidden segment web.config", get(b"/web.config"), 404, {}),
    ("hidden segment in another case", get(b"/WEB.CONFIG"), 404, {}),
    ("hidden segment %-escaped", get(b"/web%2Econfig"), 404, {}),
    ("hidden segment with a trailing dot", get(b"/web.config."), 404, {}),
    ("hidden segment as an NTFS stream", get(b"/web.config::$DATA"), 404, {}),

    # -- invalid UTF-8 in the path
    ("%ff", get(b"/%ff.html"), 400, {}),
    ("raw 0xff", get(b"/\xff.html"), 400, {}),
    ("truncated sequence %c3", get(b"/caf%c3.html"), 400, {}),
    ("raw truncated sequence", get(b"/caf\xc3.html"), 400, {}),
    ("UTF-16 surrogate %ed%a0%80", get(b"/%ed%a0%80.html"), 400, {}),
    ("code point over U+10FFFF", get(b"/%f4%90%80%80.html"), 400, {}),
    ("lone continuation byte", get(b"/%80.html"), 400, {}),

    # -- Host
    ("HTTP/1.1 without Host", req(b"GET /index.html HTTP/1.1", ()), 400, {}),
    ("HTTP/1.0 without Host (no empty-host binding)", req(b"GET /index.html HTTP/1.0", ()),
     400, {}),
    ("two Host lines, same value", req(b"GET /index.html HTTP/1.1",
                                       (b"Host: a.test", b"Host: a.test")), 400, {}),
    ("two Host lines, different values", req(b"GET /index.html HTTP/1.1",
                                             (b"Host: nosuch.test", b"Host: a.test")), 400, {}),
    ("Host list", req(b"GET /index.html HTTP/1.1", (b"Host: a.test, b.test",)), 400, {}),
    ("Host matching no binding", get(b"/index.html", host=b"nosuch.test"), 400, {}),
    ("empty Host", get(b"/index.html", host=b""), 400, {}),
    ("Host with a bad port", get(b"/index.html", host=b"a.test:x"), 400, {}),
    ("Host with a space", get(b"/index.html", host=b"a .test"), 400, {}),
    ("Host with userinfo", get(b"/index.html", host=b"u@a.test"), 400, {}),
    ("Host with a path", get(b"/index.html", host=b"a.test/x"), 400, {}),
    ("Host with raw UTF-8", get(b"/index.html", host=b"\xc3\xa4.test"), 400, {}),
    ("absolute form with a bad port", req(b"GET http://a.test:8x/index.html HTTP/1.1"), 400, {}),
    ("absolute form naming no binding", req(b"GET http://nosuch.test/index.html HTTP/1.1"),
     400, {}),
]

# Rows that show a bug: disabled so the suite stays green; each names the
# bug (see the report in the commit that added them). Move a row up to
# ROWS when its bug is fixed.
KNOWN_BUGS = [
]


def parse_responses(data):
    """Split a raw byte stream into (status, headers, body) responses.
    Returns (responses, leftover bytes that are not a complete response)."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            break
        status = int(parts[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            headers[k.strip().lower()] = v.strip()
        if status in (100, 101, 204, 304) or status < 200:
            length = 0
        elif b"content-length" in headers and headers[b"content-length"].isdigit():
            length = int(headers[b"content-length"])
        else:
            length = len(rest)  # until close
        if len(rest) < length:
            break
        out.append((status, headers, rest[:length]))
        data = rest[length:]
    return out, data


def read_until_close(sock, timeout):
    """Everything until EOF or reset; (bytes, how it ended: 'eof', 'reset',
    'timeout')."""
    deadline = time.monotonic() + timeout * TIME_SCALE
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return b"".join(chunks), "timeout"
        sock.settimeout(left)
        try:
            b = sock.recv(65536)
        except TLS_EOF:
            return b"".join(chunks), "eof"
        except (ConnectionResetError, ssl.SSLError):
            return b"".join(chunks), "reset"
        except socket.timeout:
            return b"".join(chunks), "timeout"
        if not b:
            return b"".join(chunks), "eof"
        chunks.append(b)


def read_one_response(sock, timeout):
    """Read until one complete response is there; returns (response, rest)."""
    deadline = time.monotonic() + timeout * TIME_SCALE
    buf = b""
    while True:
        rs, rest = parse_responses(buf)
        # A response without Content-Length would swallow everything: ours
        # always carry one.
        if rs:
            return rs[0], rest
        left = deadline - time.monotonic()
        check(left > 0, "no complete response within the deadline: %r" % buf[:200])
        sock.settimeout(left)
        b = sock.recv(65536)
        check(b, "closed before a complete response: %r" % buf[:200])
        buf += b


class Runner:
    def __init__(self, srv, secrets):
        self.srv = srv
        self.secrets = secrets
        self.failures = []

    def send(self, sock, writes):
        for w in writes:
            try:
                sock.sendall(w)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                # The server may answer and close before everything is sent
                # (414 before the line ends, 413 before the body).
                return

    def run_row(self, name, data, expect, opts, mode):
        writes = data if isinstance(data, list) else [data]
        allowed = expect if isinstance(expect, tuple) else (expect,)
        s = connect(self.srv.port, 10 * TIME_SCALE)
        try:
            first = None
            if mode == "keepalive":
                s.sendall(b"GET /index.html HTTP/1.1\r\nHost: a.test\r\n\r\n")
                first, pending = read_one_response(s, 10)
                if first[0] != 200:
                    return "keep-alive prefix answered %d" % first[0]
            else:
                pending = b""
            self.send(s, writes)
            raw, how = read_until_close(s, 10)
        finally:
            s.close()
        raw = pending + raw
        for secret in self.secrets:
            if secret in raw:
                return "SECRET FILE CONTENT in the response: %r" % raw[:300]
        if opts.get("forbid") and opts["forbid"] in raw:
            return "response contains %r" % opts["forbid"]
        if how == "timeout":
            return "no close within 10 s (hang); got %r" % raw[:200]
        rs, rest = parse_responses(raw)
        if rest:
            return "unparseable bytes after %d response(s): %r" % (len(rs), rest[:200])
        if not rs:
            if CLOSED in allowed:
                return None
            return "closed (%s) without a response, expected %r" % (how, allowed)
        if len(rs) > opts.get("responses", 1):
            return "%d responses (smuggled request?): %r" % (
                len(rs), [r[0] for r in rs])
        status = rs[0][0]
        if os.environ.get("WASP_TEST_VERBOSE"):
            log("%s [%s]: %d" % (name, mode, status))
        if status not in allowed:
            return "status %d, expected %s" % (status, " or ".join(map(str, allowed)))
        for k, v in opts.get("headers", {}).items():
            if rs[0][1].get(k) != v:
                return "%s: %r, expected %r" % (k.decode(), rs[0][1].get(k), v)
        if opts.get("no_entity_headers"):
            stale = [h for h in (b"etag", b"last-modified", b"accept-ranges", b"allow")
                     if h in rs[0][1]]
            if stale:
                return "error response %d carries %r" % (status, stale)
        return None

    def check_alive(self, pids_before):
        s = connect(self.srv.port, 10 * TIME_SCALE)
        try:
            s.sendall(b"GET /index.html HTTP/1.1\r\nHost: a.test\r\n\r\n")
            (status, _, body), _ = read_one_response(s, 10)
        finally:
            s.close()
        if status != 200 or body != b"pool A\n":
            return "normal request afterwards: %r %r" % (status, body[:100])
        pids = (tuple(self.srv.listener_pids()), tuple(self.srv.worker_processes()))
        if pids != pids_before:
            return "processes replaced (crash?): listener/workers %r -> %r" % (pids_before, pids)
        return None

    def run(self, rows, label):
        pids = (tuple(self.srv.listener_pids()), tuple(self.srv.worker_processes()))
        for mode in ("fresh", "keepalive"):
            for name, data, expect, opts in rows:
                if mode == "keepalive" and opts.get("fresh_only"):
                    continue
                what = "%s [%s] %s" % (label, mode, name)
                try:
                    err = self.run_row(name, data, expect, opts, mode)
                except Exception as e:  # noqa: BLE001 - every failure is reported
                    err = "exception %r" % (e,)
                try:
                    alive = self.check_alive(pids)
                except Exception as e:  # noqa: BLE001
                    alive = "normal request afterwards failed: %r" % (e,)
                if err:
                    self.failures.append("%s: %s" % (what, err))
                if alive:
                    self.failures.append("%s: %s" % (what, alive))
                    if not self.srv.alive():
                        raise wasptest.Failure("waspd died after %s" % what)
                    # Continue against the replacement processes.
                    pids = (tuple(self.srv.listener_pids()), tuple(self.srv.worker_processes()))
                if err or alive:
                    log("FAIL %s" % self.failures[-1])


FUZZ_BASES = [
    get(b"/index.html"),
    get(b"/x/../index.html?a=b"),
    post([b"Transfer-Encoding: chunked"], b"5;e=1\r\nhello\r\n0\r\nT: v\r\n\r\n"),
    post([b"Content-Length: 5"], b"hello"),
    req(b"GET http://a.test/index.html HTTP/1.1"),
]
FUZZ_BYTES = b"\r\n\0 :\t%./\\\x80\xff;,=\"0aF"


def fuzz_cases(n, seed):
    """n mutations (flip, insert, delete, duplicate a span) of valid requests."""
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        b = bytearray(rnd.choice(FUZZ_BASES))
        for _ in range(rnd.randint(1, 4)):
            i = rnd.randrange(len(b))
            op = rnd.randrange(4)
            if op == 0:
                b[i] = rnd.randrange(256)
            elif op == 1:
                b[i:i] = bytes([rnd.choice(FUZZ_BYTES)])
            elif op == 2:
                del b[i]
            else:
                j = min(len(b), i + rnd.randint(1, 40))
                b[i:i] = b[i:j]
        out.append(bytes(b))
    return out


def run_fuzz(runner, n=400, seed=9, threads=16):
    """Mutated requests from several threads at once, each followed by the
    end of the client's input: every one is answered with a well-formed
    response or closed within the deadline, never with a secret;
    the server keeps its processes and answers afterwards."""
    srv = runner.srv
    pids = (tuple(srv.listener_pids()), tuple(srv.worker_processes()))
    cases = fuzz_cases(n, seed)
    lock = threading.Lock()
    problems = []

    def one(data):
        s = connect(srv.port, 10 * TIME_SCALE)
        try:
            runner.send(s, [data])
            # End of input: an incomplete head must not wait for the
            # header timeout.
            try:
                # a TCP FIN (SSLSocket.shutdown would drop the session)
                socket.socket.shutdown(s, socket.SHUT_WR)
            except OSError:
                pass
            raw, how = read_until_close(s, 10)
        finally:
            s.close()
        if any(secret in raw for secret in runner.secrets):
            return "SECRET FILE CONTENT in the response"
        if how == "timeout":
            return "no close within 10 s"
        rs, rest = parse_responses(raw)
        if rest:
            return "unparseable bytes after %d response(s): %r" % (len(rs), rest[:100])
        for st, _, _ in rs:
            if not 100 <= st <= 599:
                return "status %d" % st
        return None

    def worker(chunk):
        for data in chunk:
            try:
                err = one(data)
            except Exception as e:  # noqa: BLE001
                err = "exception %r" % (e,)
            if err:
                with lock:
                    problems.append("fuzz %r: %s" % (data[:120], err))

    ts = [threading.Thread(target=worker, args=(cases[i::threads],), daemon=True)
          for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(300 * TIME_SCALE)
    runner.failures.extend(problems[:20])
    alive = runner.check_alive(pids)
    if alive:
        runner.failures.append("after the fuzz cases: " + alive)


class Slowloris(threading.Thread):
    """A client that sends a request head one byte at a time, forever; it
    records when the server closed the connection and what it sent."""

    def __init__(self, port, prefix=b"", interval=0.2):
        super().__init__(daemon=True)
        self.port = port
        self.prefix = prefix
        self.interval = interval
        self.started = None
        self.closed_after = None
        self.received = b""
        self.error = None
        self.stop = threading.Event()

    def run(self):
        head = (b"GET /index.html HTTP/1.1\r\nHost: a.test\r\n"
                + b"".join(b"X-%d: %s\r\n" % (i, b"y" * 10) for i in range(400)))
        try:
            s = connect(self.port, 5)
            if self.prefix:
                s.sendall(self.prefix)
                (status, _, _), rest = read_one_response(s, 10)
                check(status == 200, "slowloris prefix answered %d" % status)
                self.received = rest
            self.started = time.monotonic()
            s.setblocking(False)
            for i in range(len(head)):
                if self.stop.wait(self.interval):
                    break
                try:
                    s.send(head[i:i + 1])
                except (BrokenPipeError, ConnectionResetError) + NOT_READY:
                    pass
                except ssl.SSLError:
                    pass
                try:
                    b = s.recv(65536)
                    if not b:
                        self.closed_after = time.monotonic() - self.started
                        break
                    self.received += b
                except NOT_READY:
                    pass
                except (ConnectionResetError, ssl.SSLError):
                    self.closed_after = time.monotonic() - self.started
                    break
            s.close()
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e


def use_tls(t, srv):
    """The site's binding made https, with a certificate of a.test."""
    import tlstest
    tlstest.require_openssl()
    root = os.path.join(t.dir, "certs")
    crt, key = tlstest.make_key_cert(os.path.join(t.dir, "keys"), "a", "a.test", kind="ec")
    h = tlstest.store_pem(root, crt, key)
    old = '<binding protocol="http" bindingInformation="127.0.0.1:%d:a.test" />' % srv.port
    check(old in srv.config_text, "the binding to make https")
    srv.config_text = srv.config_text.replace(old, (
        '<binding protocol="https" bindingInformation="127.0.0.1:%d:a.test" sslFlags="1" '
        'certificateHash="%s" />' % (srv.port, h))).replace(
        "  </system.applicationHost>", tlstest.store_xml(root) + "  </system.applicationHost>")


def test(t):
    limit = ("<security><requestFiltering><requestLimits maxAllowedContentLength=\"%d\" />"
             "</requestFiltering></security>")
    srv = t.server(pools={"A": {"startMode": "AlwaysRunning"}},
                   web_server_xml=(limit % MAX_BODY) + "\n  </system.webServer>\n"
                   "  <location path=\"A/big\"><system.webServer>" + (limit % 4000000000)
                   + "</system.webServer></location>\n  <system.webServer>")
    # The site's connectionTimeout bounds the worker's wait for a head.
    srv.config_text = srv.config_text.replace(
        "    <sites>\n",
        "    <webLimits headerWaitTimeout=\"00:00:%02d\" />\n" % int(LISTENER_HEADER_TIMEOUT)
        + "    <sites>\n      <siteDefaults>\n        <limits connectionTimeout=\"00:00:%02d\" />\n"
        "      </siteDefaults>\n" % int(CONNECTION_TIMEOUT), 1)
    if TLS:
        use_tls(t, srv)
    content = srv.content_dir("A")
    with open(os.path.join(content, "caf\u00e9.html"), "w") as f:
        f.write("cafe\n")
    os.chmod(os.path.join(content, "caf\u00e9.html"), 0o644)
    # Secret files beside and above the content root, and a symbolic link
    # leaving the root.
    secrets = []
    for d in (os.path.dirname(content), t.dir):
        secret = ("TOPSECRET-%s" % uuid.uuid4().hex).encode()
        with open(os.path.join(d, "secret.txt"), "wb") as f:
            f.write(secret + b"\n")
        os.chmod(os.path.join(d, "secret.txt"), 0o644)
        secrets.append(secret)
    secret = ("TOPSECRET-%s" % uuid.uuid4().hex).encode()
    with open(os.path.join(content, "web.config"), "wb") as f:
        f.write(b"<configuration><!-- " + secret + b" --></configuration>\n")
    os.chmod(os.path.join(content, "web.config"), 0o644)
    secrets.append(secret)
    os.symlink(os.path.join(t.dir, "secret.txt"), os.path.join(content, "escape.txt"))
    os.symlink(t.dir, os.path.join(content, "escape-dir"))
    srv.start()
    wasptest.wait_until(lambda: srv.worker_processes(), 20, what="the AlwaysRunning worker")

    # Slowloris on a new connection: the listener holds it; it must be
    # answered 408 and closed at the header timeout while the table below
    # is served.
    slow = [Slowloris(srv.port) for _ in range(SLOWLORIS_CLIENTS)]
    for c in slow:
        c.start()

    runner = Runner(srv, secrets)
    runner.run(ROWS, "row")
    # More cases or another seed to explore: WASP_BADINPUT_FUZZ=N:SEED.
    n, _, seed = os.environ.get("WASP_BADINPUT_FUZZ", "400:9").partition(":")
    run_fuzz(runner, n=int(n), seed=int(seed or 9))

    # Slowloris on a keep-alive connection: the worker's head timeout
    # (connectionTimeout) answers 408 and closes.
    slow_ka = Slowloris(srv.port, prefix=b"GET /index.html HTTP/1.1\r\nHost: a.test\r\n\r\n")
    slow_ka.start()
    slow_ka.join((CONNECTION_TIMEOUT + 10) * TIME_SCALE)
    slow_ka.stop.set()
    slow_ka.join(5)
    if slow_ka.error:
        runner.failures.append("keep-alive slowloris: %r" % (slow_ka.error,))
    elif slow_ka.closed_after is None:
        runner.failures.append("keep-alive slowloris: not closed within %.0f s"
                               % (CONNECTION_TIMEOUT + 10))
    else:
        rs, _ = parse_responses(slow_ka.received)
        st = [r[0] for r in rs]
        if st != [408]:
            runner.failures.append("keep-alive slowloris: responses %r, expected [408]" % st)
        if not (CONNECTION_TIMEOUT * 0.8 <= slow_ka.closed_after
                <= (CONNECTION_TIMEOUT + 5) * TIME_SCALE):
            runner.failures.append("keep-alive slowloris closed after %.1f s, expected %.0f s"
                                   % (slow_ka.closed_after, CONNECTION_TIMEOUT))

    # The new-connection slowloris clients were open during the whole table.
    for i, c in enumerate(slow):
        c.join((LISTENER_HEADER_TIMEOUT + 15) * TIME_SCALE)
        c.stop.set()
        c.join(5)
        what = "slowloris %d" % i
        if c.error:
            runner.failures.append("%s: %r" % (what, c.error))
        elif c.closed_after is None:
            runner.failures.append("%s: not closed within %.0f s"
                                   % (what, LISTENER_HEADER_TIMEOUT + 15))
        else:
            rs, rest = parse_responses(c.received)
            st = [r[0] for r in rs]
            if st != [408] or rest:
                runner.failures.append("%s: expected one 408, got %r" % (what, c.received[:200]))
            if not (LISTENER_HEADER_TIMEOUT * 0.9 <= c.closed_after
                    <= (LISTENER_HEADER_TIMEOUT + 10) * TIME_SCALE):
                runner.failures.append("%s closed after %.1f s, expected %.0f s"
                                       % (what, c.closed_after, LISTENER_HEADER_TIMEOUT))
    err = runner.check_alive((tuple(srv.listener_pids()), tuple(srv.worker_processes())))
    if err:
        runner.failures.append("at the end: " + err)

    if os.environ.get("WASP_BADINPUT_KNOWN_BUGS"):
        # Show what the disabled rows do now (not part of the verdict).
        kb = Runner(srv, secrets)
        kb.run(KNOWN_BUGS, "known bug")
        log("known-bug rows still failing: %d" % len(kb.failures))

    for f in runner.failures:
        log("FAIL " + f)
    check(not runner.failures, "%d bad-input case(s) failed" % len(runner.failures))


wasptest.main(test)
