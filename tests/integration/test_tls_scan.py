"""A TLS scanner against a wasp https binding (ECDSA P-256 certificate):
sslscan finds no protocol below TLS 1.2, no weak cipher (NULL, EXPORT, RC4,
3DES, DES, MD5, anonymous, under 128 bits), no heartbleed, no TLS
compression and no insecure renegotiation; testssl.sh's vulnerability checks
(-U: CCS, Ticketbleed, ROBOT, CRIME, BREACH, POODLE, SWEET32, FREAK, DROWN,
LOGJAM, BEAST, ...) report nothing of severity MEDIUM or worse (LOW: a note
such as LUCKY13 for CBC suites, not a vulnerability). Skips when the
listener has no https support; sslscan and testssl.sh come with
scripts/install-deps (skips when they are not installed)."""
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import httpspol
import wasptest
from wasptest import check, TIME_SCALE

WEAK_CIPHER = re.compile(r"NULL|EXP|RC4|RC2|DES|MD5|ADH|AECDH|anon|IDEA|SEED|PSK",
                         re.IGNORECASE)
BAD_SEVERITY = ("MEDIUM", "HIGH", "CRITICAL")


def sslscan(port, out):
    subprocess.run(["sslscan", "--no-colour", "--xml=%s" % out, "127.0.0.1:%d" % port],
                   check=True, capture_output=True, timeout=60 * TIME_SCALE)
    return ET.parse(out).getroot().find("ssltest")


def check_sslscan(scan):
    check(scan is not None, "sslscan reported no test")
    enabled = [(p.get("type"), p.get("version")) for p in scan.findall("protocol")
               if p.get("enabled") == "1"]
    check(enabled, "sslscan found no protocol at all")
    for kind, version in enabled:
        check(kind == "tls" and version in ("1.2", "1.3"),
              "protocol below TLS 1.2 offered: %s %s" % (kind, version))
    ciphers = [c for c in scan.findall("cipher") if c.get("status") in ("accepted", "preferred")]
    check(ciphers, "sslscan found no cipher")
    for c in ciphers:
        name, bits = c.get("cipher", ""), int(c.get("bits", "0"))
        check(not WEAK_CIPHER.search(name) and bits >= 128,
              "weak cipher offered: %s %s (%d bits)" % (c.get("sslversion"), name, bits))
    for hb in scan.findall("heartbleed"):
        check(hb.get("vulnerable") != "1", "heartbleed on %s" % hb.get("sslversion"))
    for comp in scan.findall("compression"):
        check(comp.get("supported") != "1", "TLS compression offered")
    for r in scan.findall("renegotiation"):
        check(not (r.get("supported") == "1" and r.get("secure") != "1"),
              "insecure renegotiation")


def check_testssl(port, out):
    prog = shutil.which("testssl") or shutil.which("testssl.sh")
    p = subprocess.run([prog, "--quiet", "--color", "0", "--warnings", "off", "--jsonfile", out,
                        "-U", "127.0.0.1:%d" % port],
                       capture_output=True, text=True, timeout=120 * TIME_SCALE)
    try:
        with open(out) as f:
            findings = json.load(f)
    except (OSError, ValueError) as e:
        raise wasptest.Failure("testssl.sh wrote no report (%s; status %d): %s"
                               % (e, p.returncode, (p.stdout + p.stderr)[-3000:]))
    check(findings, "testssl.sh found nothing to report")
    bad = [(x.get("id"), x.get("severity"), x.get("finding")) for x in findings
           if x.get("severity") in BAD_SEVERITY]
    check(not bad, "testssl.sh: %r" % bad)
    scan_errors = [x for x in findings if x.get("id") == "scanProblem"]
    check(not scan_errors, "testssl.sh could not scan: %r" % scan_errors)


def test(t):
    httpspol.require_https()
    for tool in ("sslscan", "testssl"):
        if not shutil.which(tool) and not shutil.which(tool + ".sh"):
            wasptest.skip("%s is not installed (scripts/install-deps installs it)" % tool)
    certs = httpspol.Certs(t)
    tls_port = wasptest.free_port()
    srv = httpspol.server(t, certs, [{"name": "A", "id": 1,
                                      "bindings": ["127.0.0.1:{port}:a.test",
                                                   certs.binding(tls_port)],
                                      "apps": [{"path": "/", "pool": "A"}]}])
    srv.start()
    certs.wait_open(tls_port)
    st, _, _ = certs.get(tls_port, "/index.html", "a.test")
    check(st == 200, "GET over TLS: %d" % st)

    check_sslscan(sslscan(tls_port, os.path.join(t.dir, "sslscan.xml")))
    check_testssl(tls_port, os.path.join(t.dir, "testssl.json"))
    # the server still serves after being scanned
    st, _, _ = certs.get(tls_port, "/index.html", "a.test")
    check(st == 200, "GET over TLS after the scans: %d" % st)


wasptest.main(test)
