"""wasptest: the integration-test harness for wasp.

A test is a plain Python script (no pytest) that imports this module and ends
with `wasptest.main(test_function)`. Exit status: 0 pass, 77 skip, 1 fail.

    import wasptest
    from wasptest import check, wait_until

    def test(t):
        srv = t.server(pools={"A": {}, "B": {}})
        srv.start()
        r = srv.get("/", host="a.test")
        check(r.status == 200, "status %d" % r.status)

    wasptest.main(test)

What the harness does for you:
- a free loopback port, a temporary directory (mode 0755 so pool identities
  can read the content when run as root), a content directory per site;
- applicationHost.config from a template: pools and sites as Python dicts
  (nested dicts are child elements, lists of dicts are <add/> collections);
- starts `waspd -c CONFIG --runtime-dir DIR --test-hooks` from the build tree
  (WASP_BUILD_ROOT, set by meson for every test) in its own process group and
  waits until it answers on the control socket and accepts on its port;
- HTTP helpers with timeouts (http.client and raw sockets), a keep-alive
  connection object, `waspctl --json` runner, the worker processes as seen in
  /proc, wait_until(condition, timeout);
- always kills the whole process group at exit (finally, atexit and
  SIGTERM/SIGINT/SIGHUP handlers), and prints waspd's log when a test fails.

Nothing here sleeps to synchronise: every wait polls a condition with a
deadline.
"""

import atexit
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from xml.sax.saxutils import quoteattr

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_SKIP = 77

# ASan builds and loaded CI machines are slow: scale every deadline.
TIME_SCALE = float(os.environ.get("WASP_TEST_TIME_SCALE", "1"))


class Skip(Exception):
    """Raise (or call skip()) to end a test with exit status 77."""


class Failure(AssertionError):
    """A failed check."""


def skip(msg):
    raise Skip(msg)


def replace_file(path, text):
    """Writes path anew (0644): a new inode and an mtime that differs even
    within one second, so a change to a watched file is always seen."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.rename(tmp, path)


def write_content(path, text):
    """Writes a file of a site's content, making its directory: readable by
    a pool's identity (0755 directory, 0644 file) whoever runs the test."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.chmod(os.path.dirname(path), 0o755)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)


def read_text(path):
    """A file's text, or "" when it cannot be read (not there yet)."""
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def check(cond, msg="check failed"):
    """assert that survives python -O and names what went wrong."""
    if not cond:
        raise Failure(msg)


def log(msg):
    sys.stderr.write("[%s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def wait_until(cond, timeout=10.0, interval=0.02, what=None):
    """Poll cond() until it returns something truthy; return that value.

    Raises Failure naming `what` (or the condition) when timeout seconds pass.
    Exceptions raised by cond() count as "not yet" (a server still starting
    refuses connections) and the last one is reported on timeout."""
    deadline = time.monotonic() + timeout * TIME_SCALE
    last_exc = None
    while True:
        try:
            v = cond()
            if v:
                return v
            last_exc = None
        except Failure:
            raise
        except Exception as e:  # noqa: BLE001 - reported on timeout
            last_exc = e
        if time.monotonic() >= deadline:
            desc = what or getattr(cond, "__name__", "condition")
            extra = " (last error: %r)" % (last_exc,) if last_exc else ""
            raise Failure("timed out after %.1fs waiting for %s%s"
                          % (timeout * TIME_SCALE, desc, extra))
        time.sleep(interval)


def stays(cond, duration, interval=0.05, what=None):
    """Check that cond() holds throughout duration seconds (polling): the
    way to assert that something does NOT happen, e.g. a pool not growing
    past maxProcesses over two stats periods. Raises Failure otherwise."""
    deadline = time.monotonic() + duration * TIME_SCALE
    while True:
        if not cond():
            raise Failure("%s stopped holding" % (what or getattr(cond, "__name__", "condition")))
        if time.monotonic() >= deadline:
            return True
        time.sleep(interval)


def free_port():
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_root():
    root = os.environ.get("WASP_BUILD_ROOT")
    if not root:
        here = os.path.dirname(os.path.abspath(__file__))
        root = os.path.join(here, "..", "..", "build")
    return os.path.abspath(root)


def program(rel):
    """Path of a program in the build tree, e.g. program('activator/waspd')."""
    return os.path.join(build_root(), rel)


def require_programs(*rels):
    for rel in rels:
        p = program(rel)
        if not os.access(p, os.X_OK):
            skip("%s is not built" % p)


# ---------------------------------------------------------------- HTTP


class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers  # lower-case name -> value (last wins)
        self.body = body

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    @property
    def pool(self):
        return self.header("X-Wasp-Pool")

    @property
    def pid(self):
        v = self.header("X-Wasp-Pid")
        return int(v) if v and v.isdigit() else None

    def __repr__(self):
        return "<Response %d %s pool=%s pid=%s %d bytes>" % (
            self.status, self.reason, self.pool, self.pid, len(self.body))


def _response(r):
    body = r.read()
    headers = {k.lower(): v for k, v in r.getheaders()}
    return Response(r.status, r.reason, headers, body)


def http_request(port, path="/", host=None, method="GET", headers=None,
                 body=None, timeout=10.0, address="127.0.0.1"):
    """One request on its own connection (Connection: close)."""
    c = http.client.HTTPConnection(address, port, timeout=timeout * TIME_SCALE)
    try:
        h = {"Connection": "close"}
        if host is not None:
            h["Host"] = host
        h.update(headers or {})
        c.request(method, path, body=body, headers=h)
        return _response(c.getresponse())
    finally:
        c.close()


class KeepAlive:
    """One persistent HTTP/1.1 connection; get() sends a request on it."""

    def __init__(self, port, host=None, timeout=10.0, address="127.0.0.1"):
        self.host = host
        self.conn = http.client.HTTPConnection(address, port,
                                               timeout=timeout * TIME_SCALE)
        self.conn.connect()
        self.local_port = self.conn.sock.getsockname()[1]

    def request(self, method, path, host=None, headers=None, body=None):
        h = {}
        if host or self.host:
            h["Host"] = host or self.host
        h.update(headers or {})
        # http.client reconnects silently when the server closed the
        # connection; a test on keep-alive must see that, so check it.
        sock_before = self.conn.sock
        self.conn.request(method, path, body=body, headers=h)
        check(self.conn.sock is sock_before,
              "keep-alive connection was reopened by the client library")
        return _response(self.conn.getresponse())

    def get(self, path="/", host=None, headers=None):
        return self.request("GET", path, host=host, headers=headers)

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def read_all(s, timeout_ends=True):
    """What a socket receives until the server closes or resets it, or the
    socket's timeout passes (which raises unless timeout_ends). Bytes."""
    ends = (ConnectionResetError, socket.timeout) if timeout_ends else ConnectionResetError
    chunks = []
    while True:
        try:
            b = s.recv(65536)
        except ends:
            break
        if not b:
            break
        chunks.append(b)
    return b"".join(chunks)


def raw_request(port, data, timeout=10.0, address="127.0.0.1"):
    """Send bytes, read until the server closes (or timeout). Returns bytes."""
    with socket.create_connection((address, port),
                                  timeout=timeout * TIME_SCALE) as s:
        s.sendall(data)
        return read_all(s, timeout_ends=False)


def parse_status(raw):
    """Status code of a raw HTTP response, or None."""
    line = raw.split(b"\r\n", 1)[0].split()
    if len(line) >= 2 and line[0].startswith(b"HTTP/") and line[1].isdigit():
        return int(line[1])
    return None


# ---------------------------------------------------------------- config


def _xml_element(name, spec, indent):
    """Dict -> element: str/int/bool values are attributes, dicts are child
    elements, lists of dicts are <add .../> collection items."""
    pad = "  " * indent
    attrs = []
    children = []
    for k, v in spec.items():
        if isinstance(v, dict):
            children.append(_xml_element(k, v, indent + 1))
        elif isinstance(v, list):
            items = "".join(_xml_element("add", it, indent + 2) for it in v)
            children.append("%s  <%s>\n%s%s  </%s>\n" % (pad, k, items, pad, k))
        else:
            if isinstance(v, bool):
                v = "true" if v else "false"
            attrs.append(" %s=%s" % (k, quoteattr(str(v))))
    if not children:
        return "%s<%s%s />\n" % (pad, name, "".join(attrs))
    return "%s<%s%s>\n%s%s</%s>\n" % (pad, name, "".join(attrs),
                                      "".join(children), pad, name)


def config_xml(pools, sites, pool_defaults=None, web_server_xml="", apphost_xml=""):
    """applicationHost.config text.

    pools: list of dicts with "name" plus attributes / child dicts, e.g.
        {"name": "A", "startMode": "OnDemand",
         "processModel": {"idleTimeout": "00:00:02"},
         "recycling": {"periodicRestart": {"requests": 100}},
         "failure": {"rapidFailProtectionMaxCrashes": 3}}
    sites: list of dicts: {"name", "id", "bindings": ["ip:port:host", ...],
        "apps": [{"path": "/", "pool": "A", "physicalPath": DIR}, ...]}
        and optionally "attrs": {"serverAutoStart": False, ...} (an app's
        too: {"enabledProtocols": "http,tcp"}); a binding may be a dict
        {"binding": "https/IP:port:host", "sslFlags": 1, ...}
    apphost_xml: more of system.applicationHost (its wasp sections)
    """
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n', "<configuration>\n",
           # As IIS writes it; the same settings wasp assumes for these two.
           "  <configSections>\n",
           '    <sectionGroup name="system.applicationHost">\n',
           '      <section name="applicationPools" allowDefinition="AppHostOnly" '
           'overrideModeDefault="Deny" />\n',
           '      <section name="sites" allowDefinition="AppHostOnly" '
           'overrideModeDefault="Deny" />\n',
           "    </sectionGroup>\n",
           "  </configSections>\n",
           "  <system.applicationHost>\n", "    <applicationPools>\n"]
    for p in pools:
        out.append(_xml_element("add", p, 3))
    if pool_defaults:
        out.append(_xml_element("applicationPoolDefaults", pool_defaults, 3))
    out.append("    </applicationPools>\n    <sites>\n")
    for s in sites:
        attrs = "".join(" %s=%s" % (k, quoteattr(str(v).lower() if isinstance(v, bool)
                                                  else str(v)))
                        for k, v in s.get("attrs", {}).items())
        out.append("      <site name=%s id=%s%s>\n"
                   % (quoteattr(s["name"]), quoteattr(str(s["id"])), attrs))
        for a in s["apps"]:
            app_attrs = "".join(" %s=%s" % (k, quoteattr(str(v)))
                                for k, v in a.get("attrs", {}).items())
            out.append("        <application path=%s applicationPool=%s%s>\n"
                       % (quoteattr(a["path"]), quoteattr(a["pool"]), app_attrs))
            out.append("          <virtualDirectory path=\"/\" "
                       "physicalPath=%s />\n" % quoteattr(a["physicalPath"]))
            out.append("        </application>\n")
        out.append("        <bindings>\n")
        for b in s["bindings"]:
            extra = ""
            if isinstance(b, dict):  # {"binding": "https/IP:port:host", attributes...}
                extra = "".join(" %s=%s" % (k, quoteattr(str(v)))
                                for k, v in b.items() if k != "binding")
                b = b["binding"]
            proto, _, info = b.partition("/") if "/" in b else ("http", "", b)
            out.append("          <binding protocol=%s bindingInformation=%s%s />\n"
                       % (quoteattr(proto), quoteattr(info), extra))
        out.append("        </bindings>\n      </site>\n")
    out.append("    </sites>\n%s  </system.applicationHost>\n" % apphost_xml)
    if web_server_xml:
        out.append("  <system.webServer>\n%s\n  </system.webServer>\n"
                   % web_server_xml)
    out.append("</configuration>\n")
    return "".join(out)


# ---------------------------------------------------------------- server


class Server:
    """waspd (and through it wasp-http and the workers) on a loopback port.

    pools: {"A": {attributes...}, ...} (ordered). Unless `sites` is given,
    every pool gets a site named after it (ids 1, 2, ...) bound to
    127.0.0.1:PORT with host "<name lowercase>.test", whose root application
    runs in that pool, serving a content directory holding index.html
    ("pool <name>\\n") and big.bin (64 KiB)."""

    def __init__(self, test, pools, sites=None, pool_defaults=None,
                 web_server_xml="", env=None, test_hooks=True, args=(), wrapper=(),
                 pass_fds=(), apphost_xml=""):
        self.test = test
        self.dir = test.dir
        self.port = free_port()
        # A second server of the same test gets its own files.
        n = len(test.servers)
        sfx = "" if n == 0 else "-%d" % n
        self.runtime_dir = os.path.join(self.dir, "run" + sfx)
        self.config_path = os.path.join(self.dir, "applicationHost%s.config" % sfx)
        self.log_path = os.path.join(self.dir, "waspd%s.log" % sfx)
        self.proc = None
        self.pgid = None
        self.env = dict(env or {})
        self.test_hooks = test_hooks
        self.args = list(args)
        # A command waspd runs under (it must exec waspd in the same
        # process, like systemd-socket-activate); "{port}" is replaced.
        self.wrapper = [w.replace("{port}", str(self.port)) for w in wrapper]
        # Descriptors waspd (or the wrapper) inherits, at their numbers.
        self.pass_fds = tuple(pass_fds)
        # Cleanup fails the test when waspd does not exit 0 on SIGTERM;
        # a test that kills waspd on purpose sets this to False.
        self.expect_clean_exit = True
        self.pool_names = list(pools.keys())
        pool_list = []
        for name, attrs in pools.items():
            d = {"name": name}
            d.update(attrs)
            pool_list.append(d)
        if sites is None:
            sites = []
            for i, name in enumerate(self.pool_names):
                sites.append({
                    "name": name, "id": i + 1,
                    "bindings": ["127.0.0.1:%d:%s" % (self.port, self.host(name))],
                    "apps": [{"path": "/", "pool": name,
                              "physicalPath": self.content_dir(name)}],
                })
        else:
            sites = [self._fill_port(s) for s in sites]
        self.sites = sites
        self.config_text = config_xml(pool_list, sites, pool_defaults,
                                      web_server_xml, apphost_xml)

    def _fill_port(self, site):
        def fill(b):
            if isinstance(b, dict):
                return dict(b, binding=fill(b["binding"]))
            return b.replace("{port}", str(self.port))
        s = dict(site)
        s["bindings"] = [fill(b) for b in site["bindings"]]
        return s

    @staticmethod
    def host(pool):
        return pool.lower() + ".test"

    def content_dir(self, name):
        """A content directory with index.html and big.bin, readable by all."""
        d = os.path.join(self.dir, "content", name)
        if not os.path.isdir(d):
            os.makedirs(d)
            os.chmod(os.path.join(self.dir, "content"), 0o755)
            os.chmod(d, 0o755)
            with open(os.path.join(d, "index.html"), "w") as f:
                f.write("pool %s\n" % name)
            with open(os.path.join(d, "big.bin"), "wb") as f:
                f.write(bytes(range(256)) * 256)
            for fn in ("index.html", "big.bin"):
                os.chmod(os.path.join(d, fn), 0o644)
        return d

    # -- process control

    def start(self, wait=True):
        require_programs("activator/waspd")
        with open(self.config_path, "w") as f:
            f.write(self.config_text)
        os.chmod(self.config_path, 0o644)
        os.makedirs(self.runtime_dir, exist_ok=True)
        os.chmod(self.runtime_dir, 0o755)
        cmd = [program("activator/waspd"), "-c", self.config_path,
               "--runtime-dir", self.runtime_dir]
        if self.test_hooks:
            cmd.append("--test-hooks")
        cmd += self.args
        cmd = self.wrapper + cmd
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        env.pop("LISTEN_FDS", None)
        env.pop("LISTEN_PID", None)
        env.pop("RUNTIME_DIRECTORY", None)
        env.setdefault("WASP_LOG_LEVEL", "debug")
        # wasp's default log directories (W3C's LogFiles, HTTPERR) in the
        # test's directory, not the system's
        env.setdefault("WASP_LOG_DIR", os.path.join(self.dir, "logs"))
        env.update(self.env)
        log("starting %s (port %d)" % (" ".join(cmd), self.port))
        self.logf = open(self.log_path, "ab")
        # If this script is killed outright (SIGKILL: no handler, no
        # atexit), waspd must still go: it gets SIGKILL when we die, and its
        # own children follow it (they carry the same setting). Only from
        # the main thread: the signal follows the thread that forked.
        pdeath = _set_pdeathsig if threading.current_thread() is threading.main_thread() else None
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf,
                                     env=env, start_new_session=True,
                                     preexec_fn=pdeath, pass_fds=self.pass_fds)
        self.pgid = self.proc.pid  # session leader: its pid is the pgid
        self.test._register_group(self.pgid)
        if wait:
            self.wait_ready()
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout=20.0):
        def ready():
            if not self.alive():
                raise Failure("waspd exited with status %s during startup"
                              % self.proc.returncode)
            if not os.path.exists(os.path.join(self.runtime_dir, "control.sock")):
                return False
            rc, _, _ = self.waspctl("list", "apppool", check_status=False)
            if rc != 0:
                return False
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                pass
            return True
        wait_until(ready, timeout, interval=0.02, what="waspd to become ready")
        # The listener process is up when waspd has started it; wait for
        # it so tests that count processes see a settled tree.
        if any(s["bindings"] for s in self.sites):
            wait_until(lambda: self.listener_pids(), timeout,
                       what="the HTTP listener process")

    def stop(self, timeout=30.0):
        """SIGTERM waspd and wait for it; returns its exit status."""
        if not self.alive():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout * TIME_SCALE)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Failure("waspd did not exit within %.0fs of SIGTERM" % timeout)

    def kill(self):
        """SIGKILL the whole process group (waspd, listener, workers)."""
        _killpg(self.pgid)
        if self.proc is not None:
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_log(self, text, timeout=10.0):
        """Wait until waspd's log (all three programs write to it) holds text."""
        return wait_until(lambda: text in self.read_log(), timeout,
                          what="log line containing %r" % text)

    # -- HTTP

    def get(self, path="/index.html", host=None, pool=None, **kw):
        """GET on a new connection; pool= picks the host of that pool's site."""
        if host is None and pool is not None:
            host = self.host(pool)
        if host is None and self.pool_names:
            host = self.host(self.pool_names[0])
        return http_request(self.port, path, host=host, **kw)

    def keepalive(self, pool=None, host=None, **kw):
        if host is None and pool is not None:
            host = self.host(pool)
        return KeepAlive(self.port, host=host, **kw)

    def raw(self, data, **kw):
        return raw_request(self.port, data, **kw)

    # -- waspctl

    def waspctl(self, *args, json_output=True, check_status=True, timeout=10.0):
        """Run waspctl -r RUNTIME_DIR ARGS [--json]. Returns parsed JSON (or
        the text without json_output). Raises Failure on a non-zero exit
        when check_status."""
        require_programs("activator/waspctl")
        cmd = [program("activator/waspctl"), "-r", self.runtime_dir] + list(args)
        if json_output:
            cmd.append("--json")
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=timeout * TIME_SCALE)
        out = p.stdout.decode("utf-8", "replace")
        if check_status and p.returncode != 0:
            raise Failure("%s: exit %d: %s%s" % (" ".join(cmd[3:]), p.returncode,
                                                 out, p.stderr.decode("utf-8", "replace")))
        if not check_status:
            return p.returncode, out, p.stderr.decode("utf-8", "replace")
        if json_output:
            return json.loads(out) if out.strip() else None
        return out

    def pools(self):
        """{name: pool object from `waspctl list apppool --json`}."""
        r = self.waspctl("list", "apppool")
        items = r["apppools"] if isinstance(r, dict) else r
        return {p["name"]: p for p in items}

    def pool_state(self, name):
        return self.pools()[name]["state"]

    def workers(self, pool=None):
        """Worker objects from `waspctl list wp --json` (pid, pool, state,
        requests, started)."""
        r = self.waspctl("list", "wp")
        items = r["workers"] if isinstance(r, dict) else r
        return [w for w in items if pool is None or w["pool"] == pool]

    def worker_pids(self, pool=None, state=None):
        return sorted(w["pid"] for w in self.workers(pool)
                      if state is None or w["state"] == state)

    # -- the process tree, as the kernel sees it

    def children(self, name):
        """Pids of waspd's children whose argv[0] is program `name`."""
        if not self.alive():
            return []
        out = []
        for pid in _pids():
            try:
                st = _proc_stat(pid)
            except OSError:
                continue
            if st["ppid"] != self.proc.pid or st["state"] == "Z":
                continue
            if is_program(_argv0(pid), name):
                out.append(pid)
        return sorted(out)

    def worker_processes(self):
        return self.children("wasp-worker")

    def listener_pids(self):
        return self.children("wasp-http")

    def group_pids(self):
        """Every live process of the test's process group."""
        out = []
        for pid in _pids():
            try:
                st = _proc_stat(pid)
            except OSError:
                continue
            if st["pgrp"] == self.pgid and st["state"] != "Z":
                out.append(pid)
        return sorted(out)


def _set_pdeathsig():
    """In the child before exec: PR_SET_PDEATHSIG = SIGKILL."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort
        pass


def _pids():
    for e in os.listdir("/proc"):
        if e.isdigit():
            yield int(e)


def _proc_stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    rest = s[s.rindex(")") + 2:].split()
    return {"state": rest[0], "ppid": int(rest[1]), "pgrp": int(rest[2])}


def _argv0(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            a = f.read().split(b"\0", 1)[0].decode("utf-8", "replace")
    except OSError:
        return None
    return os.path.basename(a)


def is_program(arg, name):
    """Whether a command line's argument names program `name`: its path, or
    the title waspd gives a worker ("wasp-worker: POOL")."""
    return arg is not None and (os.path.basename(arg) == name or arg.startswith(name + ": "))


def peak_rss_kb(pid):
    """A process's peak resident memory (VmHWM) in kB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def read_response_head(f):
    """(status line, {lower-case name: value}) from a binary file of a
    response (socket.makefile("rb")); the body follows."""
    status = f.readline()
    headers = {}
    while True:
        line = f.readline().strip()
        if not line:
            return status, headers
        k, _, v = line.decode().partition(":")
        headers[k.strip().lower()] = v.strip()


def post_upload(port, path, host, size, timeout=60.0, connect=None):
    """POST size bytes (a repeating pattern, 1 MiB at a time) on a new
    connection (connect(), else TCP to port) and read the answer to its end:
    (response bytes, the body's md5 hex digest)."""
    s = connect() if connect else socket.create_connection(("127.0.0.1", port),
                                                           timeout=timeout * TIME_SCALE)
    s.sendall(("POST %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
               "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n"
               % (path, host, size)).encode())
    chunk = bytes(range(256)) * 4096
    md5 = hashlib.md5()
    for _ in range(size // len(chunk)):
        s.sendall(chunk)
        md5.update(chunk)
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    return data, md5.hexdigest()


def stalled_download(port, path, host, pid, base_kb, timeout=60.0):
    """GET path with a small receive buffer and read nothing for half a
    second, checking that process pid's peak memory stays within 8 MiB of
    base_kb meanwhile: (socket, its binary file, status line, {header:
    value}), the body to be read from the file."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout * TIME_SCALE)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
               % (path, host)).encode())
    f = s.makefile("rb")
    status, headers = read_response_head(f)
    stays(lambda: peak_rss_kb(pid) - base_kb < 8192, 0.5,
          what="a stalled client leaving the worker's memory alone")
    return s, f, status, headers


def proc_state(pid):
    """'R', 'S', 'T' (stopped), 'Z', ... or None when gone."""
    try:
        return _proc_stat(pid)["state"]
    except (OSError, ValueError):
        return None


def pid_alive(pid):
    st = proc_state(pid)
    return st is not None and st != "Z"


def _killpg(pgid):
    if not pgid:
        return
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    except PermissionError:
        pass


# ---------------------------------------------------------------- load


class Load:
    """A client loop in background threads: GET path again and again (each
    request on a new connection unless keepalive) until stop(). Counts
    statuses and failures (exceptions, non-200)."""

    def __init__(self, server, path="/index.html", pool=None, host=None,
                 threads=4, keepalive=False, max_requests=None):
        self.server = server
        self.path = path
        self.host = host or (server.host(pool) if pool else None)
        self.keepalive = keepalive
        self.max_requests = max_requests
        self.lock = threading.Lock()
        self.ok = 0
        self.failures = []
        self.pids = set()
        self._stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True)
                        for _ in range(threads)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def _count(self):
        return self.ok + len(self.failures)

    def _run(self):
        ka = None
        while not self._stop.is_set():
            with self.lock:
                if self.max_requests is not None and self._count() >= self.max_requests:
                    break
            try:
                if self.keepalive:
                    if ka is None:
                        ka = self.server.keepalive(host=self.host)
                    r = ka.get(self.path)
                else:
                    r = self.server.get(self.path, host=self.host)
                with self.lock:
                    if r.status == 200:
                        self.ok += 1
                        if r.pid:
                            self.pids.add(r.pid)
                    else:
                        self.failures.append("status %d %r" % (r.status, r.body[:200]))
            except Exception as e:  # noqa: BLE001 - every failure counts
                with self.lock:
                    self.failures.append(repr(e))
                if ka is not None:
                    ka.close()
                    ka = None
        if ka is not None:
            ka.close()

    def done(self):
        with self.lock:
            return self.max_requests is not None and self._count() >= self.max_requests

    def count(self):
        with self.lock:
            return self._count()

    def stop(self):
        self._stop.set()
        for t in self.threads:
            t.join(60)
        return self


# ---------------------------------------------------------------- test run


_groups = set()
_cleanup_done = False


def _cleanup_all():
    global _cleanup_done
    for pg in list(_groups):
        _killpg(pg)
    _groups.clear()
    _cleanup_done = True


def _on_signal(signum, frame):
    _cleanup_all()
    os._exit(128 + signum)


class Test:
    """Per-test context: a temporary directory and the servers started."""

    def __init__(self, name):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="wasp-%s-" % name)
        os.chmod(self.dir, 0o755)
        self.servers = []

    def server(self, pools, **kw):
        s = Server(self, pools, **kw)
        self.servers.append(s)
        return s

    def _register_group(self, pgid):
        _groups.add(pgid)

    def cleanup(self, failed):
        """Stop every server; returns problems found on the way: waspd not
        exiting 0 on SIGTERM (a leak report under LeakSanitizer, a crash),
        sanitizer reports in the log."""
        problems = []
        for s in self.servers:
            if s.alive():
                try:
                    s.proc.send_signal(signal.SIGTERM)
                    rc = s.proc.wait(30 * TIME_SCALE)
                    if rc != 0 and s.expect_clean_exit:
                        problems.append("waspd exited with status %r on SIGTERM" % rc)
                except Exception as e:  # noqa: BLE001
                    problems.append("waspd did not stop on SIGTERM: %r" % (e,))
            s.kill()
            _groups.discard(s.pgid)
            text = s.read_log()
            for marker in SANITIZER_MARKERS:
                if marker in text:
                    problems.append("sanitizer report in %s: %r"
                                    % (s.log_path, _line_with(text, marker)))
                    break
        if failed or problems or os.environ.get("WASP_TEST_VERBOSE"):
            for s in self.servers:
                sys.stderr.write("----- %s -----\n%s----- end of log -----\n"
                                 % (s.log_path, s.read_log()[-20000:]))
        if os.environ.get("WASP_TEST_KEEP"):
            log("kept %s" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        return problems


SANITIZER_MARKERS = ("runtime error:", "ERROR: AddressSanitizer",
                     "ERROR: LeakSanitizer", "ERROR: UndefinedBehaviorSanitizer")


def _line_with(text, marker):
    for line in text.splitlines():
        if marker in line:
            return line
    return marker


def main(fn, name=None):
    """Run fn(test) and exit 0 (pass), 77 (skip) or 1 (fail)."""
    name = name or os.path.splitext(os.path.basename(sys.argv[0]))[0]
    atexit.register(_cleanup_all)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    status = EXIT_FAIL
    t = None
    try:
        t = Test(name)
        fn(t)
        status = EXIT_PASS
    except Skip as e:
        log("SKIP %s: %s" % (name, e))
        status = EXIT_SKIP
    except Exception:  # noqa: BLE001 - any exception fails the test
        traceback.print_exc()
        status = EXIT_FAIL
    finally:
        if t is not None:
            try:
                problems = t.cleanup(status == EXIT_FAIL)
            except Exception:  # noqa: BLE001
                traceback.print_exc()
                problems = ["cleanup failed"]
            if problems and status != EXIT_SKIP:
                for p in problems:
                    log("FAIL: %s" % p)
                status = EXIT_FAIL
        _cleanup_all()
    log("%s %s" % ({0: "PASS", 77: "SKIP"}.get(status, "FAIL"), name))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
