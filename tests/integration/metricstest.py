"""Reading wasp's metrics in tests: `waspctl metrics` parsed into samples,
and a check of the exposition with promtool when it is installed."""
import re
import shutil
import subprocess

from wasptest import check

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """{(name, frozenset(labels.items())): value} of an exposition; checks
    that every sample's family has HELP and TYPE first."""
    out = {}
    typed = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        check(m, "not a sample line: %r" % line)
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        base = re.sub(r'_(sum|count)$', '', name)
        check(name in typed or base in typed, "no TYPE before %r" % line)
        out[(name, frozenset(_LABEL.findall(labels)))] = float(value)
    return out


def metrics(srv):
    return parse(srv.waspctl("metrics", json_output=False))


def value(samples, name, **labels):
    """The sample's value, or None."""
    return samples.get((name, frozenset(labels.items())))


def promtool_check(text):
    """promtool check metrics (Debian's prometheus package), when installed:
    True when it ran and passed; None when it is not installed."""
    tool = shutil.which("promtool")
    if not tool:
        return None
    p = subprocess.run([tool, "check", "metrics"], input=text.encode(),
                       capture_output=True, timeout=30)
    check(p.returncode == 0, "promtool check metrics: %s%s"
          % (p.stdout.decode(), p.stderr.decode()))
    return True
