"""A listenerAdapters entry with an executable: waspd starts that program
(tests/adapter/test-adapter, with the entry's arguments, as its userName;
as root nobody) for the entry's protocol in place of its built-in adapter
(tcp: no wasp-tcp), on the channel it gives it as fd 3; the adapter
registers, gets the tcp binding's socket and serves echo; killed, waspd
starts it again. A userName waspd cannot take (not root: another user; as
root: no such user) starts nothing, and says why."""
import os
import pwd
import signal
import socket
import wasptest
from wasptest import check, wait_until
from test_tcp_lifecycle import LOCATION, content, echo, http_site

ADAPTERS = """    <listenerAdapters>
      <add name="tcp" executable="%(exe)s" arguments="- tcp" userName="%(user)s" />
      <add name="other.test" executable="%(exe)s" arguments="- other.test"
           userName="%(bad)s" />
    </listenerAdapters>
  </system.applicationHost>"""


def uid_of(pid):
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("Uid:"):
                return int(ln.split()[1])
    return None


def test(t):
    wasptest.require_programs("tests/adapter/test-adapter")
    root = os.getuid() == 0
    me = pwd.getpwuid(os.getuid()).pw_name
    user = "nobody" if root else me
    bad = "no-such-user-wasp" if root else "root"
    tport, oport = wasptest.free_port(), wasptest.free_port()
    srv = t.server(
        pools={"T": {}, "H": {}},
        sites=[http_site(t),
               {"name": "T", "id": 2, "bindings": ["tcp/127.0.0.1:%d:" % tport,
                                                   "other.test/127.0.0.1:%d:" % oport],
                "apps": [{"path": "/", "pool": "T", "physicalPath": content(t, "T"),
                          "attrs": {"enabledProtocols": "tcp,other.test"}}]}])
    srv.config_text = srv.config_text.replace(
        "  </system.applicationHost>",
        ADAPTERS % {"exe": wasptest.program("tests/adapter/test-adapter"), "user": user,
                    "bad": bad})
    srv.config_text = srv.config_text.replace("</configuration>",
                                              LOCATION % "T" + "</configuration>")
    srv.start()
    wait_until(lambda: srv.children("test-adapter"), what="test-adapter to start")
    pids = srv.children("test-adapter")
    check(len(pids) == 1, "started adapters: %r" % pids)
    check(srv.children("wasp-tcp") == [], "wasp-tcp started beside the entry's program")
    check(uid_of(pids[0]) == pwd.getpwnam(user).pw_uid, "adapter's uid %r" % uid_of(pids[0]))
    srv.wait_log("adapter 'tcp' (pid %d) registered" % pids[0])
    with socket.create_connection(("127.0.0.1", tport), timeout=10) as c:
        check(echo(c, b"hello\n") == b"hello\n", "echo through the started adapter")
    srv.wait_log("listener adapter 'other.test'")
    srv.wait_log("not started" if not root else "userName '%s'" % bad)

    os.kill(pids[0], signal.SIGKILL)
    wait_until(lambda: srv.children("test-adapter") not in ([], pids), timeout=15,
               what="the adapter started again")
    new = srv.children("test-adapter")
    srv.wait_log("adapter 'tcp' (pid %d) registered" % new[0])
    with socket.create_connection(("127.0.0.1", tport), timeout=10) as c:
        check(echo(c, b"again\n") == b"again\n", "echo through the restarted adapter")


if __name__ == "__main__":
    wasptest.main(test)
