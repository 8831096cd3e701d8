"""waspd --test-config reads every site's web.config files (each virtual
directory's tree) and reports their errors and warnings apart from
applicationHost.config's (they do not stop waspd: the paths they apply to
answer 500.19); it reports bindings of a protocol no adapter comes for
(net.tcp) and an https binding without a certificate and %VAR%s that are not set; and the bundled example
configuration has no error of its own (its web.config once added a .md
mimeMap that applicationHost.config has). Without -c, waspd reads
$sysconfdir/wasp/applicationHost.config."""
import os
import subprocess
import wasptest
from wasptest import check

WC = "<configuration><system.webServer>%s</system.webServer></configuration>\n"


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def test_config(path):
    wasptest.require_programs("activator/waspd")
    p = subprocess.run([wasptest.program("activator/waspd"), "-c", path, "--test-config"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def test(t):
    content = os.path.join(t.dir, "content")
    write(os.path.join(content, "index.html"), "hi\n")
    root_wc = os.path.join(content, "web.config")
    write(root_wc, WC % "<staticContent color=\"blue\" />")
    sub_wc = os.path.join(content, "a", "b", "web.config")
    write(sub_wc, "<configuration><system.webServer>\n")
    auth_wc = os.path.join(content, "private", "web.config")
    write(auth_wc, WC % "<security><authorization><add accessType=\"Deny\" users=\"*\" />"
          "</authorization></security>")
    os.environ.pop("WASP_TEST_SURELY_UNSET", None)
    sites = [{"name": "S", "id": 1,
              "bindings": ["127.0.0.1:8080:", "https/*:8443:", "net.tcp/808:*"],
              "apps": [{"path": "/", "pool": "P", "physicalPath": content},
                       {"path": "/v", "pool": "P",
                        "physicalPath": "%WASP_TEST_SURELY_UNSET%/v"}]}]
    cfg = os.path.join(t.dir, "applicationHost.config")
    write(cfg, wasptest.config_xml([{"name": "P"}], sites))
    status, out = test_config(cfg)
    check(status == 0, "exit %d (web.config errors do not stop waspd):\n%s" % (status, out))
    check("%s:1: error: attribute 'color': unknown attribute on <staticContent>" % root_wc
          in out, "the root's web.config:\n" + out)
    check(sub_wc + ":" in out and "not well-formed" in out, "the deep web.config:\n" + out)
    check(auth_wc in out and "system.webServer/security/authorization" in out,
          "the authorization section:\n" + out)
    check(out.count("unknown attribute on <staticContent>") == 1, "reported once:\n" + out)
    check("web.config files: 3 in " in out, "count of files:\n" + out)
    check("web.config files: 3 error(s)" in out, "summary:\n" + out)
    check("no adapter for protocol 'net.tcp'" in out, "bindings:\n" + out)
    # https has one (wasp-http), and this binding no certificate
    check("no adapter for protocol 'https'" not in out and
          "binding 'https *:8443:' has no certificateHash" in out, "https:\n" + out)
    check("no adapter for protocol 'http'" not in out, "http has one:\n" + out)
    check("%WASP_TEST_SURELY_UNSET% is not set" in out, "unset variable:\n" + out)

    # the bundled example: no error anywhere, web.config files included
    example = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                           "examples", "applicationHost.config")
    status, out = test_config(example)
    check(status == 0 and "web.config files: 0 error(s), 0 warning(s)" in out and
          ": 0 error(s)" in out, "the example:\n" + out)

    # without -c: the file under $sysconfdir that docs/configuration.md names
    p = subprocess.run([wasptest.program("activator/waspd"), "--test-config"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    out = p.stdout.decode("utf-8", "replace")
    check(p.returncode in (0, 1) and "/wasp/applicationHost.config: " in out,
          "the default file: %d\n%s" % (p.returncode, out))


wasptest.main(test)
