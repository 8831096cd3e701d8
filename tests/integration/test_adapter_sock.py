"""Adapters that register from outside waspd over adapter.sock
(system.applicationHost/listenerAdapters): tests/adapter/test-adapter, written
only against <wasp/adapter.h> and libwasp-adapter, is started by the test,
registers tcp (declared with registerUser: waspd starts no wasp-tcp), gets the
tcp binding's listening socket (bound before it came: a connection made
then is served once it registers) and hands connections to a pool whose
stream handler is echo. Refused, each with its reason sent back: a second
adapter for tcp, an undeclared protocol, http (waspd's own), a user the
entry does not name (as root also the adapter run as nobody). A garbage
peer (random bytes, half a HELLO), one that says nothing (cut off after
5 s) and connections beyond the pending limit are cut off while HTTP and
the adapter serve on. The adapter killed is forgotten (the pool keeps its
worker) and a new one registers and serves. A reload that declares a
protocol (registerGroup) with a binding: the running adapter gets the new
generation, and a member of the group registers the new protocol. A declared protocol of its own
(echo.test) gets its IP:port: binding's socket. A registerUser naming no
user is a configuration error naming file, line and attribute; `waspctl
list config` shows the section."""
import grp
import os
import pwd
import select
import signal
import socket
import subprocess
import time
import wasptest
from wasptest import check, pid_alive
from test_tcp_lifecycle import LOCATION, content, echo, http_site, recv_or_eof

ADAPTERS = """    <listenerAdapters>
      <add name="http" />
      <add name="tcp" identity="LocalService" protocolManagerDll="x.dll"
           protocolManagerDllInitFunction="Init" registerUser="%(me)s" />
      <add name="echo.test" registerUser="%(me)s" />
      <add name="locked" registerUser="%(other)s" />
    </listenerAdapters>
  </system.applicationHost>"""


class Adapter:
    """test-adapter RUNTIME_DIR PROTOCOL, its stdout read line by line."""

    def __init__(self, srv, protocol, user=None):
        def drop():
            if user is not None:
                pw = pwd.getpwnam(user)
                os.setgroups([])
                os.setgid(pw.pw_gid)
                os.setuid(pw.pw_uid)
        self.proc = subprocess.Popen(
            [wasptest.program("tests/adapter/test-adapter"), srv.runtime_dir, protocol],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, preexec_fn=drop, bufsize=0)
        self.lines = []

    def line(self, prefix, timeout=10.0):
        """The first line of its output starting with prefix (or exit)."""
        deadline = time.monotonic() + timeout * wasptest.TIME_SCALE
        while time.monotonic() < deadline:
            for ln in self.lines:
                if ln.startswith(prefix):
                    return ln
            ready, _, _ = select.select([self.proc.stdout], [], [],
                                        max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            ln = self.proc.stdout.readline().decode()
            if not ln:
                return None
            self.lines.append(ln.strip())
        return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self.proc.stdout.close()


def refused(srv, protocol, reason, user=None):
    a = Adapter(srv, protocol, user)
    try:
        ln = a.line("refused")
        check(ln and ln.startswith("refused reason=%d " % reason),
              "%s%s: %r (%r)" % (protocol, " as " + user if user else "", ln, a.lines))
        check(a.proc.wait(10) == 3, "refused adapter's exit status")
    finally:
        a.stop()


def cut_off(s, timeout=10.0):
    """s is closed by waspd (after its HELLO, maybe) within timeout."""
    s.settimeout(timeout * wasptest.TIME_SCALE)
    try:
        while s.recv(65536):
            pass
    except ConnectionResetError:
        pass
    return True


def seqpacket(srv):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(os.path.join(srv.runtime_dir, "adapter.sock"))
    return s


def bad_config(t, me):
    """--test-config: a registerUser naming no user is an error naming file,
    line and attribute; a binding of an undeclared protocol is a warning, a
    declared one's is not. waspctl refuses such an edit."""
    path = os.path.join(t.dir, "bad.config")
    site = {"name": "S", "id": 1, "bindings": ["gopher/127.0.0.1:7001:",
                                               "decl.test/127.0.0.1:7002:"],
            "apps": [{"path": "/", "pool": "P", "physicalPath": t.dir}]}
    good = wasptest.config_xml([{"name": "P"}], [site]).replace(
        "  </system.applicationHost>", """    <listenerAdapters>
      <add name="decl.test" registerUser="%s" />
    </listenerAdapters>
  </system.applicationHost>""" % me)
    bad = good.replace('registerUser="%s"' % me, 'registerUser="no-such-user-wasp"')
    for text, status in ((bad, 1), (good, 0)):
        with open(path, "w") as f:
            f.write(text)
        r = subprocess.run([wasptest.program("activator/waspd"), "-c", path,
                            "--test-config"], capture_output=True, text=True, timeout=30)
        out = r.stdout + r.stderr
        check(r.returncode == status, "--test-config: %d %r" % (r.returncode, out))
        if status:
            check("registerUser" in out and "bad.config:" in out and "no-such-user-wasp" in out,
                  "a registerUser naming no user: %r" % out)
        else:
            check("protocol 'gopher'" in out and "protocol 'decl.test'" not in out,
                  "bindings' warnings: %r" % out)
    # waspctl refuses an edit that adds what a load would refuse
    r = subprocess.run([wasptest.program("activator/waspctl"), "-c", path, "set", "config",
                        "/section:system.applicationHost/listenerAdapters",
                        "/+[name='x.test',registerUser='no-such-user-wasp']"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode != 0 and "registerUser" in r.stderr, "waspctl edit: %d %r %r"
          % (r.returncode, r.stdout, r.stderr))
    with open(path) as f:
        check(f.read() == good, "the refused edit changed the file")


def test(t):
    wasptest.require_programs("tests/adapter/test-adapter")
    me = pwd.getpwuid(os.getuid()).pw_name
    root = os.getuid() == 0
    try:
        nobody = pwd.getpwnam("nobody").pw_name
    except KeyError:
        nobody = None
    if not root or nobody is None:
        other = "root" if not root else None
    else:
        other = nobody
    if other is None:
        wasptest.skip("no user other than root to name")
    bad_config(t, me)

    tport, eport, lport = wasptest.free_port(), wasptest.free_port(), wasptest.free_port()
    srv = t.server(
        pools={"T": {}, "H": {}},
        sites=[http_site(t),
               {"name": "T", "id": 2, "bindings": ["tcp/127.0.0.1:%d:" % tport,
                                                   "echo.test/127.0.0.1:%d:" % eport],
                "apps": [{"path": "/", "pool": "T", "physicalPath": content(t, "T"),
                          "attrs": {"enabledProtocols": "tcp,echo.test"}}]}])
    srv.config_text = srv.config_text.replace(
        "  </system.applicationHost>", ADAPTERS % {"me": me, "other": other})
    srv.config_text = srv.config_text.replace("</configuration>",
                                              LOCATION % "T" + "</configuration>")
    srv.start()
    srv.wait_log("protocol 'tcp': waiting for its adapter to register")
    shown = srv.waspctl("-c", srv.config_path, "list", "config", "--section",
                        "system.applicationHost/listenerAdapters", json_output=False)
    check('name="echo.test"' in shown and 'registerUser="%s"' % me in shown,
          "waspctl list config: %s" % shown)
    check(srv.children("wasp-tcp") == [], "waspd started wasp-tcp for a tcp registered "
          "from outside")
    adapters = []
    try:
        # bound before any adapter: the connection waits in the backlog
        early = socket.create_connection(("127.0.0.1", tport), timeout=10)
        a1 = Adapter(srv, "tcp")
        adapters.append(a1)
        ln = a1.line("registered")
        check(ln and "127.0.0.1:%d" % tport in ln, "tcp adapter: %r (%r)" % (ln, a1.lines))
        srv.wait_log("adapter 'tcp' (pid %d) registered" % a1.proc.pid)
        check(echo(early, b"early\n") == b"early\n", "echo of the connection made before")
        early.close()
        with socket.create_connection(("127.0.0.1", tport), timeout=10) as c:
            check(echo(c, b"hello\n") == b"hello\n", "echo through the outside adapter")
        workers = srv.worker_pids("T")
        check(len(workers) == 1, "T's workers: %r" % workers)

        refused(srv, "tcp", 3)          # taken
        refused(srv, "gopher", 1)       # undeclared
        refused(srv, "http", 4)         # wasp-http's
        refused(srv, "locked", 2)       # registerUser is someone else
        if root:
            refused(srv, "tcp", 2, user=nobody)  # not tcp's registerUser
        srv.wait_log("adapter.sock: refused pid")

        # a declared protocol of its own: its IP:port: binding's socket
        e = Adapter(srv, "echo.test")
        adapters.append(e)
        ln = e.line("registered")
        check(ln and "127.0.0.1:%d" % eport in ln, "echo.test adapter: %r" % ln)
        e.stop()
        srv.wait_log("adapter 'echo.test' (pid %d, registered over adapter.sock) went away"
                     % e.proc.pid)

        # garbage: random bytes, half a HELLO, silence, too many at once
        g = seqpacket(srv)
        g.send(os.urandom(300))
        check(cut_off(g), "random bytes")
        g.close()
        g = seqpacket(srv)
        g.send(b"\x10\x00\x00\x00\x01\x00")
        check(cut_off(g), "half a HELLO")
        g.close()
        silent = [seqpacket(srv) for _ in range(16)]
        extra = seqpacket(srv)
        extra.settimeout(5)
        check(recv_or_eof(extra, 65536) == b"", "a 17th unregistered connection kept")
        extra.close()
        srv.wait_log("connections have not registered yet")
        t0 = time.monotonic()
        for s in silent:
            check(cut_off(s, timeout=15), "a silent peer")
            s.close()
        check(time.monotonic() - t0 >= 3.0, "silent peers cut off before the deadline")
        srv.wait_log("did not register within 5 s")
        check(srv.alive() and srv.proc.poll() is None, "waspd died")
        r = srv.get("/index.html", host="h.test")
        check(r.status == 200 and r.body == b"pool H\n", "HTTP after the garbage: %r" % r)
        with socket.create_connection(("127.0.0.1", tport), timeout=10) as c:
            check(echo(c, b"still\n") == b"still\n", "echo after the garbage")

        # the adapter killed: forgotten, the pool keeps its worker, a new one serves
        a1.proc.send_signal(signal.SIGKILL)
        srv.wait_log("adapter 'tcp' (pid %d, registered over adapter.sock) went away"
                     % a1.proc.pid)
        check(all(pid_alive(p) for p in workers), "T's worker went with the adapter")
        a3 = Adapter(srv, "tcp")
        adapters.append(a3)
        ln = a3.line("registered")
        check(ln and "127.0.0.1:%d" % tport in ln, "a new tcp adapter: %r (%r)" % (ln, a3.lines))
        with socket.create_connection(("127.0.0.1", tport), timeout=10) as c:
            check(echo(c, b"again\n") == b"again\n", "echo through the new adapter")
        check(srv.worker_pids("T") == workers, "T's worker changed: %r" % srv.worker_pids("T"))

        # a reload declares late.test (registerGroup) with a binding: its
        # socket is bound, the running adapter gets the new generation, and
        # a member of the group registers it
        gid = pwd.getpwnam(nobody).pw_gid if root else os.getgid()
        text = srv.config_text.replace(
            '      <add name="locked"',
            '      <add name="late.test" registerGroup="%s" />\n      <add name="locked"'
            % grp.getgrgid(gid).gr_name)
        text = text.replace(
            '<binding protocol="tcp" bindingInformation="127.0.0.1:%d:" />' % tport,
            '<binding protocol="tcp" bindingInformation="127.0.0.1:%d:" />\n'
            '          <binding protocol="late.test" bindingInformation="127.0.0.1:%d:" />'
            % (tport, lport))
        check(text.count("late.test") == 2, "late.test not put in the configuration")
        with open(srv.config_path, "w") as f:
            f.write(text)
        srv.waspctl("reload")
        check(a3.line("registered generation=2"), "the new generation: %r" % a3.lines)
        late = Adapter(srv, "late.test", user=nobody if root else None)
        adapters.append(late)
        ln = late.line("registered")
        check(ln and "127.0.0.1:%d" % lport in ln, "late.test by registerGroup: %r (%r)"
              % (ln, late.lines))
    finally:
        for a in adapters:
            a.stop()


if __name__ == "__main__":
    wasptest.main(test)
