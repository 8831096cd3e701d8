"""Hostile applicationHost.config files: a DOCTYPE (entities, billion laughs,
an external entity) is refused by --test-config and by a reload, naming the
file and line, and the running configuration stays; a configuration too
large for a worker to read (here by %VAR% expansion) is refused the same way
instead of making every worker start fail."""
import os
import subprocess
import wasptest
from wasptest import check

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE configuration [
 <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
 <!ENTITY x SYSTEM "file:///etc/passwd">
]>
"""

BIG_VALUE = "v" * (120 * 1024)  # an environment string stays under 128 KiB


def big_config(text):
    """text with enough customHeaders whose value is %WASP_TEST_BIG% to make
    the parsed configuration larger than a worker reads (64 MiB)."""
    n = 64 * 1024 * 1024 // len(BIG_VALUE) + 2
    headers = "".join('<add name="h%d" value="%%WASP_TEST_BIG%%" />\n' % i for i in range(n))
    xml = ("<httpProtocol><customHeaders>\n%s</customHeaders></httpProtocol>\n"
           "</system.webServer>" % headers)
    check(text.count("</system.webServer>") >= 1, "test setup: no system.webServer")
    return text.replace("</system.webServer>", xml, 1)


def test_config(path, env=None):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([wasptest.program("activator/waspd"), "--test-config", "-c", path],
                       stdin=subprocess.DEVNULL, capture_output=True, env=e, timeout=120)
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")


def test(t):
    srv = t.server(pools={"A": {}}, web_server_xml="<directoryBrowse enabled=\"false\" />",
                   env={"WASP_TEST_BIG": BIG_VALUE})
    srv.start()
    good = open(srv.config_path).read()
    name = os.path.basename(srv.config_path)
    pid = srv.get(pool="A").pid

    # --test-config: the DOCTYPE is the error, with its line
    dtd_path = os.path.join(t.dir, "dtd.config")
    with open(dtd_path, "w") as f:
        f.write(BILLION_LAUGHS + good.split("?>", 1)[1] if good.startswith("<?xml") else
                BILLION_LAUGHS + good)
    rc, out = test_config(dtd_path)
    check(rc != 0 and "dtd.config:2:" in out and "<!DOCTYPE>" in out,
          "--test-config accepted a DOCTYPE: %d %r" % (rc, out))

    # reload: refused, the running configuration stays
    with open(srv.config_path, "w") as f:
        f.write(open(dtd_path).read())
    rc, out, err = srv.waspctl("reload", json_output=False, check_status=False)
    check(rc != 0 and "<!DOCTYPE>" in err and name in err,
          "a reload of a file with a DOCTYPE: %d %r %r" % (rc, out, err))
    r = srv.get(pool="A")
    check(r.status == 200 and r.pid == pid, "the running configuration after it: %r" % r)

    # too large for a worker: refused by --test-config and by reload
    big_path = os.path.join(t.dir, "big.config")
    with open(big_path, "w") as f:
        f.write(big_config(good))
    rc, out = test_config(big_path, {"WASP_TEST_BIG": BIG_VALUE})
    check(rc != 0 and "too large for a worker to read" in out,
          "--test-config accepted a configuration no worker can read: %d %r" % (rc, out[-2000:]))
    with open(srv.config_path, "w") as f:
        f.write(open(big_path).read())
    rc, out, err = srv.waspctl("reload", json_output=False, check_status=False, timeout=60)
    check(rc != 0 and "too large for a worker to read" in err,
          "a reload of a configuration no worker can read: %d %r %r" % (rc, out, err[-2000:]))
    r = srv.get(pool="A")
    check(r.status == 200 and r.pid == pid, "the running configuration after it: %r" % r)

    # and the good file still reloads
    with open(srv.config_path, "w") as f:
        f.write(good)
    check(srv.waspctl("reload")["generation"] == 2, "reload of the good file")
    check(srv.get(pool="A").status == 200, "served after the good reload")


wasptest.main(test)
