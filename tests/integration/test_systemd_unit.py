"""The shipped systemd units parse: `systemd-analyze verify` on wasp.service
(made by meson from dist/systemd/wasp.service.in, pointed at the build's
waspd and waspctl) and wasp.socket reports nothing, ExecReload= is
`waspctl reload` and the file descriptor store is on, the service's ExecStartPre
(`--test-config`) accepts the bundled example configuration, and
`systemd-analyze security --offline=yes` rates the service's exposure 4.0
or less (where this systemd can rate a unit file offline, 250 and later)."""
import os
import re
import shutil
import subprocess

import wasptest
from wasptest import check


def test(t):
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        wasptest.skip("systemd-analyze is not installed")
    root = wasptest.build_root()
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    with open(os.path.join(root, "dist", "wasp.service")) as f:
        unit = f.read()
    waspd = wasptest.program("activator/waspd")
    example = os.path.join(src, "examples", "applicationHost.config")
    check("Type=notify" in unit, "unit: %r" % unit)
    m = re.search(r"^ExecStart=(\S+)", unit, re.M)
    check(m and m.group(1).endswith("/waspd"), "ExecStart: %r" % unit)
    unit = unit.replace(m.group(1), waspd)
    # `systemctl reload` fails when the configuration does not load: waspctl
    # reload exits non-zero then (test_sd_status); kill -HUP would not.
    m = re.search(r"^ExecReload=(\S+) reload$", unit, re.M)
    check(m and m.group(1).endswith("/waspctl"), "ExecReload: %r" % unit)
    unit = unit.replace(m.group(1), wasptest.program("activator/waspctl"))
    m = re.search(r"^FileDescriptorStoreMax=(\d+)$", unit, re.M)
    check(m and int(m.group(1)) > 0, "FileDescriptorStoreMax: %r" % unit)
    unit = re.sub(r"-c \S+/applicationHost\.config", "-c " + example, unit)
    d = os.path.join(t.dir, "units")
    os.makedirs(d)
    with open(os.path.join(d, "wasp.service"), "w") as f:
        f.write(unit)
    shutil.copy(os.path.join(src, "dist", "systemd", "wasp.socket"), d)
    p = subprocess.run([analyze, "verify", "--man=no", os.path.join(d, "wasp.service"),
                        os.path.join(d, "wasp.socket")],
                       capture_output=True, text=True, timeout=60)
    out = (p.stdout + p.stderr).strip()
    check(p.returncode == 0 and not out, "systemd-analyze verify: %d %s" % (p.returncode, out))
    p = subprocess.run([analyze, "security", "--offline=yes", os.path.join(d, "wasp.service")],
                       capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for wasp.service: (\d+\.\d+)", p.stdout)
    if m:
        check(float(m.group(1)) <= 4.0, "exposure %s: %s" % (m.group(1), p.stdout))
    else:
        wasptest.log("systemd-analyze security --offline: not supported here (%s)"
                     % (p.stderr.strip()[:200]))
    pre = re.search(r"^ExecStartPre=(.*)$", unit, re.M).group(1).split()
    p = subprocess.run(pre, capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, "ExecStartPre %r: %d %s" % (pre, p.returncode, p.stderr))


wasptest.main(test)
