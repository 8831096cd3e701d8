"""The native module API with an external module: examples/module's
mod_example.so, listed in globalModules (loaded with dlopen when the worker
starts) and enabled by <modules>:
- it runs for every request (X-Example-Count counts them, per worker);
- <modules> is per application: an application whose <location> removes it
  does not run it (no header, and its count does not move);
- as the module of a <handlers> entry (*.example) its ExecuteRequestHandler
  answers, elsewhere it does not (static files are served as they are);
- it reads the request body (Content-Length, chunked, Expect: 100-continue)
  and prints server variables (REMOTE_ADDR, URL, QUERY_STRING, SERVER_PORT,
  APPL_MD_PATH, APPL_PHYSICAL_PATH, PATH_TRANSLATED, HTTP_<HEADER>, ...);
- it declares the configuration section it reads and gets its own struct
  for it per request (wasp_request_module_conf), a web.config's too;
- it uses libevent on the worker's own event loop (?delay: a timer answers
  later), linking libevent_core while wasp-worker carries its own copy; a
  request that goes away while the timer runs leaves the worker serving;
- a module image that cannot be loaded keeps the worker from starting, and
  the log names the file; so does one built for another module ABI (the
  log names both ABIs)."""
import os
import shutil
import socket
import time
import wasptest
from wasptest import check, TIME_SCALE


def module_abi():
    """WASP_MODULE_ABI, as the installed header says."""
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "..", "worker", "include", "wasp",
                           "module.h")) as f:
        for line in f:
            if line.startswith("#define WASP_MODULE_ABI "):
                return int(line.split()[2])
    raise wasptest.Failure("no WASP_MODULE_ABI in module.h")


def example_so(t, rel="examples/module/mod_example.so"):
    """A module (mod_example.so) copied into the test directory (readable by
    a pool identity when the test runs as root)."""
    src = wasptest.program(rel)
    if not os.path.exists(src):
        wasptest.skip("%s is not built" % src)
    d = os.path.join(t.dir, "modules")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    dst = os.path.join(d, os.path.basename(rel))
    shutil.copy(src, dst)
    os.chmod(dst, 0o755)
    return dst


def web_server_xml(image):
    return """
    <globalModules>
      <add name="StaticFileModule" image="builtin" />
      <add name="ExampleModule" image="%s" />
    </globalModules>
    <modules>
      <add name="StaticFileModule" />
      <add name="ExampleModule" />
    </modules>
    <handlers accessPolicy="Read, Script">
      <add name="Example" path="*.example" verb="*" modules="ExampleModule" />
      <add name="StaticFile" path="*" verb="GET,HEAD" modules="StaticFileModule"
           resourceType="Either" requireAccess="Read" />
    </handlers>
  </system.webServer>
  <location path="A/noex">
    <system.webServer>
      <modules>
        <remove name="ExampleModule" />
      </modules>
    </system.webServer>
  </location>
  <system.webServer>""" % image


def count(r):
    v = r.header("X-Example-Count")
    return int(v) if v is not None else None


def test(t):
    image = example_so(t)
    content = os.path.join(t.dir, "content", "A")
    noex = os.path.join(content, "noex")
    srv = t.server(pools={"A": {}}, sites=[{
        "name": "A", "id": 1,
        "bindings": ["127.0.0.1:{port}:a.test"],
        "apps": [{"path": "/", "pool": "A", "physicalPath": content},
                 {"path": "/noex", "pool": "A", "physicalPath": noex}],
    }], web_server_xml=web_server_xml(image))
    srv.content_dir("A")
    os.makedirs(noex)
    os.chmod(noex, 0o755)
    with open(os.path.join(noex, "index.html"), "w") as f:
        f.write("no example here\n")
    os.chmod(os.path.join(noex, "index.html"), 0o644)
    srv.start()
    # init_process ran, and wasp_log reaches the log
    srv.get("/index.html", host="a.test")
    srv.wait_log("ExampleModule: loaded in pool 'A'")

    # every request runs it: the count goes up by one per request (the
    # first request above counted too)
    r1 = srv.get("/index.html", host="a.test")
    check(r1.status == 200 and r1.body == b"pool A\n", "static file %r %r" % (r1, r1.body))
    n = count(r1)
    check(n is not None and n >= 1, "no X-Example-Count: %r" % r1.headers)
    r2 = srv.get("/index.html", host="a.test")
    check(r2.pid == r1.pid and count(r2) == n + 1, "count %r then %r" % (n, count(r2)))
    # errors too (SendResponse runs for every response)
    r3 = srv.get("/nothing.html", host="a.test")
    check(r3.status == 404 and count(r3) == n + 2, "404 %r %r" % (r3, r3.headers))

    # <modules> per application: /noex removes it
    r = srv.get("/noex/index.html", host="a.test")
    check(r.status == 200 and r.body == b"no example here\n", "noex %r %r" % (r, r.body))
    check(r.header("X-Example-Count") is None, "the removed module ran: %r" % r.headers)
    r = srv.get("/index.html", host="a.test")
    check(count(r) == n + 3, "count after /noex %r" % count(r))

    # the section it declares, built per effective section: a web.config
    # below turns directory browsing on there
    browse = os.path.join(content, "browse")
    os.makedirs(browse)
    os.chmod(browse, 0o755)
    with open(os.path.join(browse, "web.config"), "w") as f:
        f.write('<configuration><system.webServer><directoryBrowse enabled="true" '
                'showFlags="Date" /></system.webServer></configuration>')
    os.chmod(os.path.join(browse, "web.config"), 0o644)
    r = srv.get("/x.example?conf", host="a.test")
    check(r.status == 200 and b"\ndirectoryBrowse enabled=false showFlags=30\n" in r.body,
          "module conf %r %r" % (r, r.body))
    r = srv.get("/browse/x.example?conf", host="a.test")
    check(r.status == 200 and b"\ndirectoryBrowse enabled=true showFlags=2\n" in r.body,
          "module conf under a web.config %r %r" % (r, r.body))
    n += 2

    # the module as a handler: only for *.example
    r = srv.get("/x.example?vars=URL,QUERY_STRING,REMOTE_ADDR,SERVER_PORT,REQUEST_METHOD,"
                "APPL_MD_PATH,APPL_PHYSICAL_PATH,PATH_TRANSLATED,INSTANCE_ID,HTTP_X_TEST_HEADER,"
                "SERVER_PROTOCOL,HTTPS,APP_POOL_ID,NO_SUCH_VAR",
                host="a.test", headers={"X-Test-Header": "hello there"})
    body = r.body.decode()
    check(r.status == 200 and body.startswith("example %d: GET /x.example from 127.0.0.1"
                                              % (n + 4)), "handler %r %r" % (r, body))
    want = {
        "URL": "/x.example",
        "REMOTE_ADDR": "127.0.0.1",
        "SERVER_PORT": str(srv.port),
        "REQUEST_METHOD": "GET",
        "APPL_MD_PATH": "/LM/W3SVC/1/ROOT",
        "APPL_PHYSICAL_PATH": content + "/",
        "PATH_TRANSLATED": os.path.join(content, "x.example"),
        "INSTANCE_ID": "1",
        "HTTP_X_TEST_HEADER": "hello there",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTPS": "off",
        "APP_POOL_ID": "A",
        "NO_SUCH_VAR": "(null)",
    }
    got = dict(line.split("=", 1) for line in body.splitlines()[1:])
    for k, v in want.items():
        check(got.get(k) == v, "%s=%r, want %r (%r)" % (k, got.get(k), v, body))
    check(got["QUERY_STRING"].startswith("vars=URL,"), "QUERY_STRING %r" % got["QUERY_STRING"])
    r = srv.get("/noex/x.example", host="a.test")
    check(r.status == 404 and r.body != b"" and b"example" not in r.body,
          "a handler whose module is off ran: %r %r" % (r, r.body))
    r = srv.get("/noex/?vars=APPL_MD_PATH", host="a.test")  # StaticFile: a directory
    check(b"example" not in r.body, "ExecuteRequestHandler ran outside its handler: %r" % r.body)

    # request bodies: Content-Length, chunked, 100-continue
    r = srv.get("/up.example", host="a.test", method="POST", body=b"x" * 100000)
    check(r.status == 200 and b"body 100000 bytes" in r.body, "POST %r %r" % (r, r.body))
    data = srv.raw(b"PUT /up.example HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n"
                   b"Connection: close\r\n\r\n5\r\nhello\r\n1000\r\n" + b"y" * 4096 +
                   b"\r\n0\r\n\r\n")
    check(data.startswith(b"HTTP/1.1 200") and b"body 4101 bytes" in data, "chunked %r" % data)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10 * TIME_SCALE) as s:
        s.sendall(b"PUT /up.example HTTP/1.1\r\nHost: a.test\r\nContent-Length: 4\r\n"
                  b"Expect: 100-continue\r\nConnection: close\r\n\r\n")
        got = b""
        while b"\r\n\r\n" not in got:
            b = s.recv(4096)
            check(b, "closed before 100 Continue")
            got += b
        check(got.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), "no 100 Continue: %r" % got)
        s.sendall(b"body")
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
        check(b"HTTP/1.1 200" in got and b"body 4 bytes" in got, "after 100 Continue %r" % got)

    # a libevent timer of the module's on the worker's loop: the answer
    # comes when it fires, and a client that leaves first costs nothing
    t0 = time.monotonic()
    r = srv.get("/x.example?delay=300", host="a.test")
    waited = time.monotonic() - t0
    check(r.status == 200 and r.body.startswith(b"example ") and waited >= 0.29,
          "delay=300: %r %r after %.3f s" % (r, r.body, waited))
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10 * TIME_SCALE) as s:
        s.sendall(b"GET /x.example?delay=200 HTTP/1.1\r\nHost: a.test\r\n\r\n")
    r2 = srv.get("/x.example?delay=400", host="a.test")
    check(r2.status == 200 and r2.pid == r.pid, "after a client left during the timer: %r "
          "(pid %r, was %r)" % (r2, r2.pid, r.pid))

    # a module that cannot be loaded, or one built for another ABI: the
    # worker does not start, the log names the file (and both ABIs)
    bad = os.path.join(t.dir, "modules", "mod_missing.so")
    old = example_so(t, "tests/integration/mod_old_abi.so")
    for pool, name, image, log in (
            ("B", "MissingModule", bad, "cannot load '%s'" % bad),
            ("C", "OldAbiModule", old,
             "module 'OldAbiModule': '%s' was built for module ABI %d, this worker has %d"
             % (old, module_abi() - 1, module_abi()))):
        srv2 = t.server(pools={pool: {}}, web_server_xml="""
    <globalModules>
      <add name="%s" image="%s" />
    </globalModules>""" % (name, image))
        srv2.start()
        r = srv2.get("/index.html", pool=pool, timeout=30)
        check(r.status == 503, "a pool whose module %s cannot load served %r" % (name, r))
        srv2.wait_log(log)
        srv2.stop()

wasptest.main(test)
