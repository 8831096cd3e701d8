"""The kTLS hand-off in a VM whose kernel has the tls ULP (this machine's
may not): Debian's cloud kernel package, unpacked (never installed), boots
under qemu with an initramfs made here: busybox-static, the wasp programs
of the build tree and the shared libraries they need, curl and bench's
tlsload as clients, tls.ko and the crypto modules, and the test's own
directory (certificates, content, configuration) at the same paths. The
VM's /init runs an https site twice, with kTLS and with wasp/tls
kernelTls="false", prints its findings on the serial console and powers
off; this script reads them and checks: WASP_TLS_OFFLOAD is "ktls" for a
TLS 1.2 connection (both directions in the kernel) and "relay" when kTLS is
off, a request and a 10 MiB download work (same bytes), one keep-alive
connection goes from pool A to pool B and back to A (two hand-backs: the
TLS facts come back with the socket, and the client never reconnects),
/proc/net/tls_stat counted kernel TLS, and a site that asks for client
certificates keeps the relay. It also measures the CPU time
of wasp's processes per request on each path (4 KiB keep-alive and 10 MiB
downloads, TLS 1.2), printed as ratios for docs/performance.md.

Skips (77) without qemu-system-x86_64, a static busybox, curl, or a kernel
package: WASP_VM_KERNEL_DEB names one, else the newest linux-image-*-amd64
.deb in WASP_VM_CACHE (default: tests/vm-cache in the build tree), else one
`apt-get download` there (the cloud flavour: the smallest with tls.ko).
Uses KVM when /dev/kvm can be opened, else software emulation."""
import glob
import gzip
import hashlib
import os
import re
import select
import shutil
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "integration"))
import tlstest  # noqa: E402
import wasptest  # noqa: E402
from wasptest import check  # noqa: E402

MIB = 1 << 20
SOURCE_ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
VM_DEADLINE = 420.0  # seconds for the VM's whole run (software emulation is slow)
PROGRAMS = ["activator/waspd", "activator/waspctl", "protocols/http/wasp-http",
            "worker/wasp-worker", "bench/tlsload"]
KERNEL_DIR = "kernel"  # in the test's directory, left out of the initramfs
MODULE_DIRS = ["kernel/net/tls", "kernel/crypto", "kernel/arch/x86/crypto", "kernel/lib/crypto"]


def log(msg):
    sys.stderr.write("test_ktls_vm: %s\n" % msg)
    sys.stderr.flush()


# -- the kernel ---------------------------------------------------------------

def cache_dir():
    d = os.environ.get("WASP_VM_CACHE") or os.path.join(wasptest.build_root(), "tests",
                                                         "vm-cache")
    os.makedirs(d, exist_ok=True)
    return d


def kernel_deb():
    deb = os.environ.get("WASP_VM_KERNEL_DEB")
    if deb:
        return deb if os.path.exists(deb) else None
    d = cache_dir()
    debs = sorted(glob.glob(os.path.join(d, "linux-image-*-amd64_*.deb")))
    if debs:
        return debs[-1]
    if not shutil.which("apt-get") or not shutil.which("apt-cache"):
        return None
    # the package the cloud metapackage points at
    out = subprocess.run(["apt-cache", "depends", "linux-image-cloud-amd64"],
                         capture_output=True, text=True).stdout
    m = re.search(r"Depends: (linux-image-[0-9][^\s]*-cloud-amd64)", out)
    if not m:
        return None
    log("downloading %s into %s" % (m.group(1), d))
    r = subprocess.run(["apt-get", "download", m.group(1)], cwd=d, capture_output=True,
                       text=True, timeout=300)
    debs = sorted(glob.glob(os.path.join(d, "linux-image-*-amd64_*.deb")))
    if r.returncode != 0 or not debs:
        log("apt-get download failed: %s" % r.stderr.strip()[-300:])
        return None
    return debs[-1]


def unpack_kernel(deb, dest):
    subprocess.run(["dpkg-deb", "-x", deb, dest], check=True)
    vmlinuz = glob.glob(os.path.join(dest, "boot", "vmlinuz-*"))
    mods = glob.glob(os.path.join(dest, "lib", "modules", "*"))
    if not vmlinuz or not mods or not glob.glob(os.path.join(mods[0], "kernel", "net",
                                                             "tls", "tls.ko*")):
        wasptest.skip("%s has no kernel with tls.ko" % deb)
    return vmlinuz[0], mods[0]


# -- the initramfs ------------------------------------------------------------

class Cpio:
    """A newc cpio archive, gzip'd."""

    def __init__(self, path):
        self.f = gzip.open(path, "wb", compresslevel=1)
        self.ino = 1
        self.seen = set()

    def _entry(self, name, mode, data=b"", uid=0, gid=0):
        name = name.lstrip("/")
        if name in self.seen:
            return
        self.seen.add(name)
        nb = name.encode() + b"\0"
        fields = [self.ino, mode, uid, gid, 1, 0, len(data), 0, 0, 0, 0, len(nb), 0]
        hdr = b"070701" + b"".join(b"%08X" % v for v in fields)
        self.ino += 1
        self.f.write(hdr + nb + b"\0" * ((4 - (len(hdr) + len(nb)) % 4) % 4))
        self.f.write(data + b"\0" * ((4 - len(data) % 4) % 4))

    def dirs(self, path):
        parts = path.strip("/").split("/")
        for i in range(1, len(parts)):
            self._entry("/".join(parts[:i]), stat.S_IFDIR | 0o755)

    def dir(self, path, mode=0o755, uid=0, gid=0):
        self.dirs(path)
        self._entry(path, stat.S_IFDIR | mode, uid=uid, gid=gid)

    def file(self, path, data, mode=0o644, uid=0, gid=0):
        self.dirs(path)
        self._entry(path, stat.S_IFREG | mode, data, uid, gid)

    def symlink(self, path, target):
        self.dirs(path)
        self._entry(path, stat.S_IFLNK | 0o777, target.encode())

    def copy(self, src, dest=None):
        """A file (symlinks followed, kept as links when they point inside
        the same directory), or a directory tree, with modes and owners."""
        dest = dest or src
        st = os.lstat(src)
        if stat.S_ISLNK(st.st_mode):
            target = os.readlink(src)
            self.symlink(dest, target)
            if not os.path.isabs(target):
                target = os.path.join(os.path.dirname(src), target)
                self.copy(target, os.path.join(os.path.dirname(dest),
                                               os.path.relpath(target, os.path.dirname(src))))
            else:
                self.copy(target)
        elif stat.S_ISDIR(st.st_mode):
            self.dir(dest, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
            for n in sorted(os.listdir(src)):
                self.copy(os.path.join(src, n), os.path.join(dest, n))
        elif stat.S_ISREG(st.st_mode):
            with open(src, "rb") as f:
                self.file(dest, f.read(), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)

    def close(self):
        self._entry("TRAILER!!!", 0)
        self.f.close()


def libraries(programs):
    """The shared libraries (and the loader) the programs need, from ldd."""
    libs = set()
    for p in programs:
        out = subprocess.run(["ldd", p], capture_output=True, text=True).stdout
        for line in out.splitlines():
            m = re.search(r"(/\S+) \(0x", line)
            if m:
                libs.add(m.group(1))
    return sorted(libs)


def busybox_static():
    for p in ("/bin/busybox", "/usr/bin/busybox"):
        if os.path.exists(p):
            out = subprocess.run(["ldd", p], capture_output=True, text=True)
            if "not a dynamic" in out.stdout + out.stderr:
                return p
    return None


INIT = r"""#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
chmod 1777 /tmp
ip link set lo up
depmod
for m in aesni-intel ghash-clmulni-intel gcm ctr chacha20poly1305 tls; do
	modprobe $m 2>/dev/null
done
echo "KTLSVM ulp $(cat /proc/sys/net/ipv4/tcp_available_ulp)"
sh /vmtest.sh 2>&1
echo "KTLSVM done"
poweroff -f
"""

# the test body: @VARS@ replaced by the host
VMTEST = r"""
@VARS@
ok() { echo "KTLSVM $1 $2"; }
cpu() { # user+system ticks of wasp's processes
	t=0
	for p in /proc/[0-9]*; do
		n=$(cat $p/comm 2>/dev/null)
		case "$n" in waspd|wasp-http|wasp-worker)
			set -- $(cut -d' ' -f14,15 $p/stat); t=$((t + $1 + $2));;
		esac
	done
	echo $t
}
# the host's files keep the host's owners: as an ordinary user's they are
# made the listener's (key files) and searchable (the test's directory)
u=wasp-http; id $u >/dev/null 2>&1 || u=nobody
chmod 711 $DIR; chown -R $u $DIR/certs
start() { # config
	rm -rf $RT; mkdir -p $RT; chmod 755 $RT
	WASP_LOG_DIR=$DIR/logs WASP_LOG_LEVEL=info $WASPD -c $1 --runtime-dir $RT --test-hooks \
		>>$DIR/vm-waspd.log 2>&1 &
	PID=$!
	end=$(($(date +%s) + 90))
	while [ $(date +%s) -lt $end ] && kill -0 $PID 2>/dev/null; do
		curl -sk --max-time 5 -o /dev/null --resolve s.test:$PORT:127.0.0.1 \
			https://s.test:$PORT/index.html && return 0
		sleep 0.2
	done
	echo "KTLSVM error waspd did not serve"
	cat $DIR/vm-waspd.log | tail -20
}
stop() {
	kill $PID; wait $PID
}
C="curl -sk --resolve s.test:$PORT:127.0.0.1"
U=https://s.test:$PORT
stat() { grep -E 'TlsTxSw|TlsRxSw' /proc/net/tls_stat | tr -s ' \t\n' '  '; }
run() { # label
	ok $1-tls_stat0 "$(stat)"
	ok $1-offload12 "$($C --tls-max 1.2 $U/__wasp_test/var/WASP_TLS_OFFLOAD)"
	ok $1-offload13 "$($C --tlsv1.3 $U/__wasp_test/var/WASP_TLS_OFFLOAD)"
	ok $1-https "$($C --tls-max 1.2 $U/__wasp_test/var/HTTPS)"
	ok $1-webcert "$($C --tls-max 1.2 --max-time 30 -o /dev/null -w '%{http_code}' \
		$U/dir/f.txt)"
	ok $1-clientcert "$(curl -sk --resolve c.test:$PORT:127.0.0.1 --tls-max 1.2 \
		https://c.test:$PORT/__wasp_test/var/WASP_TLS_OFFLOAD)"
	ok $1-get "$($C --tls-max 1.2 $U/index.html)"
	ok $1-big "$($C --tls-max 1.2 $U/big10.bin | md5sum | cut -d' ' -f1)"
	# one connection: pool A, pool B (a hand-back), pool A (another)
	ok $1-keepalive "$($C --tls-max 1.2 -w ' connects=%{num_connects};' \
		$U/__wasp_test/var/WASP_TLS_OFFLOAD $U/b/index.html \
		$U/__wasp_test/var/WASP_TLS_OFFLOAD | tr '\n' ' ')"
	ok $1-tls_stat "$(stat)"
	# CPU per request: 4 KiB keep-alive, 10 MiB downloads (TLS 1.2)
	c0=$(cpu)
	ok $1-load4k "$($TLSLOAD 127.0.0.1 $PORT /4k.bin 4 $SECS keepalive tls1.2) cpu=$(($(cpu) - c0))"
	c0=$(cpu)
	n=0
	while [ $n -lt $BIGN ]; do $C --tls-max 1.2 -o /dev/null $U/big10.bin; n=$((n + 1)); done
	ok $1-cpu10m "n=$BIGN cpu=$(($(cpu) - c0))"
}
start $CFG_ON
run ktls
stop
start $CFG_OFF
run relay
stop
"""


WEB_CONFIG = ('<?xml version="1.0"?>\n<configuration><system.webServer><security>'
              '<access sslFlags="Ssl, SslRequireCert" /></security></system.webServer>'
              '</configuration>\n')


def site_config(t, root, h, kernel_tls):
    """Site S (pools A and B) on the port's default binding; site C on the
    same port by SNI (c.test), with an application that asks for client
    certificates: its connections keep the relay."""
    access = ('  <location path="C/secure">\n    <system.webServer>\n      <security>\n'
              '        <access sslFlags="SslNegotiateCert" />\n      </security>\n'
              '    </system.webServer>\n  </location>\n'
              # S's web.config may set access (overrideModeDefault is Deny)
              '  <location path="S" overrideMode="Allow"><system.webServer><security>'
              '<access /></security></system.webServer></location>\n')
    srv = tlstest.server(
        t, ["A", "B"],
        [tlstest.site("S", 1, [{"binding": "https/127.0.0.1:{port}:", "certificateHash": h}],
                      apps=[{"path": "/", "pool": "A"}, {"path": "/b", "pool": "B"}]),
         tlstest.site("C", 2, [{"binding": "https/127.0.0.1:{port}:c.test", "sslFlags": 1,
                                "certificateHash": h}],
                      apps=[{"path": "/", "pool": "A"}, {"path": "/secure", "pool": "A"}])],
        apphost_xml=tlstest.store_xml(root), extra_xml=access)
    if not kernel_tls:
        srv.config_text = srv.config_text.replace("<tls ", '<tls kernelTls="false" ', 1)
    return srv


def build_initramfs(t, path, mods, srv_on, srv_off):
    bb = busybox_static()
    progs = [wasptest.program(p) for p in PROGRAMS]
    curl = shutil.which("curl")
    cp = Cpio(path)
    for d in ("proc", "sys", "dev", "tmp", "etc", "root", "run"):
        cp.dir(d)
    cp.copy(bb, "/bin/busybox")
    cp.file("init", INIT.encode(), 0o755)
    for f in ("/etc/passwd", "/etc/group", "/etc/nsswitch.conf"):
        if os.path.exists(f):
            cp.copy(f)
    cp.file("etc/hosts", b"127.0.0.1 localhost s.test\n")
    for p in progs + [curl] + libraries(progs + [curl]):
        cp.copy(p)
    # the schema, where a build tree's waspd looks for it
    cp.copy(os.path.join(SOURCE_ROOT, "config", "schema"))
    ver = os.path.basename(mods)
    for d in MODULE_DIRS:
        if os.path.isdir(os.path.join(mods, d)):
            cp.copy(os.path.join(mods, d), "/lib/modules/%s/%s" % (ver, d))
    for f in ("modules.order", "modules.builtin"):
        if os.path.exists(os.path.join(mods, f)):
            cp.copy(os.path.join(mods, f), "/lib/modules/%s/%s" % (ver, f))
    for srv in (srv_on, srv_off):
        with open(srv.config_path, "w") as f:
            f.write(srv.config_text)
        os.chmod(srv.config_path, 0o644)
    cp.dir(t.dir, stat.S_IMODE(os.stat(t.dir).st_mode))
    for n in sorted(os.listdir(t.dir)):
        if n != KERNEL_DIR and n != os.path.basename(path):
            cp.copy(os.path.join(t.dir, n))
    secs = os.environ.get("WASP_VM_LOAD_SECONDS", "5")
    vars_ = "\n".join([
        "DIR=%s" % t.dir, "RT=%s/vmrun" % t.dir, "WASPD=%s" % progs[0],
        "TLSLOAD=%s" % progs[4], "PORT=%d" % srv_on.port, "CFG_ON=%s" % srv_on.config_path,
        "CFG_OFF=%s" % srv_off.config_path, "SECS=%s" % secs,
        "BIGN=%s" % os.environ.get("WASP_VM_BIG_DOWNLOADS", "4"),
    ])
    cp.file("vmtest.sh", VMTEST.replace("@VARS@", vars_).encode(), 0o755)
    cp.close()


def scan_line(line, found, console):
    text = line.decode(errors="replace").rstrip("\r")
    console.append(text)
    m = re.match(r".*?KTLSVM (\S+) ?(.*)", text)
    if m:
        log(text)
        found[m.group(1)] = m.group(2).strip()


def boot(kernel, initrd):
    """Run the VM: its KTLSVM lines as {key: value}, and the whole console."""
    # software emulation unless asked: a nested KVM may hang at boot
    if os.environ.get("WASP_VM_KVM") == "1" and os.access("/dev/kvm", os.R_OK | os.W_OK):
        accel = ["-accel", "kvm", "-cpu", "host,-arch-capabilities"]
    else:
        accel = ["-accel", "tcg", "-cpu", "max"]
    cmd = ["qemu-system-x86_64", "-m", "1536", "-smp", "2", *accel,
           "-kernel", kernel, "-initrd", initrd, "-nographic", "-no-reboot", "-nic", "none",
           "-append", "console=ttyS0 panic=-1 quiet"]
    log("booting: %s" % " ".join(cmd))
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    found, console = {}, []
    try:
        deadline = t0 + VM_DEADLINE
        buf = b""
        while "done" not in found:
            left = deadline - time.monotonic()
            if left <= 0:
                check(False, "the VM did not finish within %.0f s: %s"
                      % (VM_DEADLINE, "\n".join(console[-20:])))
            if not select.select([proc.stdout], [], [], left)[0]:
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                scan_line(line, found, console)
    finally:
        try:
            os.killpg(proc.pid, 9)
        except ProcessLookupError:
            pass
        proc.wait()
    log("the VM ran %.1f s" % (time.monotonic() - t0))
    return found, console


def load_cpu(found, key):
    """(requests, cpu ticks) from a load line; None when the load tool gave
    no figures (the measurement is for docs/performance.md, not a check:
    a sanitizer build's tlsload may not get that far in the VM)."""
    m = re.search(r"requests (\d+) errors (\d+).* cpu=(\d+)", found.get(key, ""))
    if not m or int(m.group(2)) != 0 or int(m.group(1)) == 0:
        log("%s: no figures: %r" % (key, found.get(key)))
        return None
    return int(m.group(1)), int(m.group(3))


def test(t):
    if not shutil.which("qemu-system-x86_64"):
        wasptest.skip("no qemu-system-x86_64 (apt-get install qemu-system-x86)")
    if not busybox_static():
        wasptest.skip("no static busybox (apt-get install busybox-static)")
    if not shutil.which("curl") or not shutil.which("dpkg-deb"):
        wasptest.skip("no curl or dpkg-deb")
    tlstest.require_openssl()
    wasptest.require_programs(*PROGRAMS)
    deb = kernel_deb()
    if not deb:
        wasptest.skip("no kernel package (WASP_VM_KERNEL_DEB, or apt-get download)")
    kernel, mods = unpack_kernel(deb, os.path.join(t.dir, KERNEL_DIR))

    root = os.path.join(t.dir, "certs")
    crt, key = tlstest.make_key_cert(os.path.join(t.dir, "keys"), "s", "s.test", kind="ec")
    h = tlstest.store_pem(root, crt, key)
    srv_on = site_config(t, root, h, True)
    srv_off = site_config(t, root, h, False)
    srv_off.config_path = os.path.join(t.dir, "applicationHost-nokTLS.config")
    srv_off.port = srv_on.port
    srv_off.config_text = srv_on.config_text.replace("<tls ", '<tls kernelTls="false" ', 1)
    content = srv_on.content_dir("A")
    srv_on.content_dir("B")
    big = os.urandom(MIB) * 10
    with open(os.path.join(content, "big10.bin"), "wb") as f:
        f.write(big)
    with open(os.path.join(content, "4k.bin"), "wb") as f:
        f.write(b"x" * 4096)
    for n in ("big10.bin", "4k.bin"):
        os.chmod(os.path.join(content, n), 0o644)
    # a client certificate only a web.config asks for: a kTLS connection
    # cannot be asked (served without: 403), the relay asks (none comes: 403)
    wasptest.write_content(os.path.join(content, "dir", "f.txt"), "secret\n")
    wasptest.write_content(os.path.join(content, "dir", "web.config"), WEB_CONFIG)
    initrd = os.path.join(t.dir, "initrd.gz")
    build_initramfs(t, initrd, mods, srv_on, srv_off)
    log("initramfs: %.1f MiB" % (os.path.getsize(initrd) / MIB))

    found, console = boot(kernel, initrd)
    with open(os.path.join(t.dir, "console.log"), "w") as f:
        f.write("\n".join(console))
    check("done" in found, "the VM did not finish: %s" % "\n".join(console[-40:]))
    check("tls" in found.get("ulp", ""), "no tls ULP in the VM: %r" % found.get("ulp"))
    check("error" not in found, "in the VM: %s:\n%s" % (found.get("error"),
                                                      "\n".join(console[-60:])))

    check(found.get("ktls-offload12") == "WASP_TLS_OFFLOAD=ktls",
          "TLS 1.2 with kTLS: %r" % found.get("ktls-offload12"))
    check(found.get("relay-offload12") == "WASP_TLS_OFFLOAD=relay",
          "TLS 1.2 with kernelTls=false: %r" % found.get("relay-offload12"))
    # OpenSSL 3.0 offloads TLS 1.3's sending only: the relay keeps it
    check(found.get("ktls-offload13") in ("WASP_TLS_OFFLOAD=relay", "WASP_TLS_OFFLOAD=ktls"),
          "TLS 1.3: %r" % found.get("ktls-offload13"))
    for p in ("ktls", "relay"):
        check(found.get(p + "-clientcert") == "WASP_TLS_OFFLOAD=relay",
              "%s: a site asking for client certificates: %r"
              % (p, found.get(p + "-clientcert")))
        check(found.get(p + "-webcert") == "403", "%s: a web.config's SslRequireCert: %r"
              % (p, found.get(p + "-webcert")))
        check(found.get(p + "-https") == "HTTPS=on", "%s: %r" % (p, found.get(p + "-https")))
        check(found.get(p + "-get") == "pool A", "%s: %r" % (p, found.get(p + "-get")))
        check(found.get(p + "-big") == hashlib.md5(big).hexdigest(), "%s: 10 MiB: %r" % (p, found.get(p + "-big")))
        ka = found.get(p + "-keepalive", "")
        want = ("WASP_TLS_OFFLOAD=%s connects=1; pool B\n connects=0; "
                "WASP_TLS_OFFLOAD=%s connects=0;" % (p, p)).replace("\n", "")
        check(ka.replace(" ", "") == want.replace(" ", ""),
              "%s: keep-alive over two pools: %r" % (p, ka))
    # the kernel's TLS counters: kTLS sockets on the first run, none at
    # all on the second
    def rx(key):
        m = re.search(r"TlsRxSw (\d+)", found.get(key, ""))
        check(m, "%s: %r" % (key, found.get(key)))
        return int(m.group(1))
    check(rx("ktls-tls_stat") > rx("ktls-tls_stat0"), "no kTLS receive counted: %r, %r"
          % (found.get("ktls-tls_stat0"), found.get("ktls-tls_stat")))
    check(found.get("relay-tls_stat") == found.get("relay-tls_stat0"),
          "kTLS counted with kernelTls=false: %r, %r"
          % (found.get("relay-tls_stat0"), found.get("relay-tls_stat")))

    k, r = load_cpu(found, "ktls-load4k"), load_cpu(found, "relay-load4k")
    if k and r:
        log("4 KiB keep-alive (TLS 1.2): kTLS %d requests, %d ticks; relay %d requests, %d "
            "ticks; CPU per request relay/kTLS %.2f"
            % (k[0], k[1], r[0], r[1], (r[1] / r[0]) / max(k[1] / k[0], 1e-9)))
    log("10 MiB downloads: %s (kTLS), %s (relay)" % (found.get("ktls-cpu10m"),
                                                     found.get("relay-cpu10m")))


wasptest.main(test)
