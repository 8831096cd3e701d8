"""Helpers for the ARR tests: backends (tests/apps/arr_backend.py) on
loopback ports, the rules that proxy to them, applicationHost.config parts
outside <system.webServer> (<location>, webFarms)."""
import json
import os
import signal
import socket
import subprocess
import sys

import wasptest

APP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "apps", "arr_backend.py")


class Backend:
    """arr_backend.py NAME on a free port, in its own process group (the
    test's cleanup kills it)."""

    def __init__(self, t, name, address="127.0.0.1"):
        self.t = t
        self.name = name
        self.address = address
        self.port = wasptest.free_port()
        self.start()

    def start(self):
        self.proc = subprocess.Popen([sys.executable, APP, str(self.port), self.name,
                                      self.address],
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.t._register_group(self.proc.pid)
        wasptest.wait_until(self._up, what="backend %s to listen" % self.name)

    def _up(self):
        try:
            with socket.create_connection((self.address, self.port), timeout=1):
                return True
        except OSError:
            return False

    def get(self, path):
        return wasptest.http_request(self.port, path, host="%s:%d" % (self.address, self.port),
                                     address=self.address)

    def held(self):
        return json.loads(self.get("/stats").body)["held"]

    def kill(self):
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


def rule_xml(url, pattern="^(.*)"):
    """A site's web.config sending every request to url ({R:1} the path)."""
    return """<configuration><system.webServer><rewrite><rules>
<rule name="arr" stopProcessing="true"><match url="%s" />
<action type="Rewrite" url="%s" /></rule>
</rules></rewrite></system.webServer></configuration>
""" % (pattern, url)


def add_to_config(srv, xml):
    """xml (<location>s, webFarms) at the end of applicationHost.config."""
    srv.config_text = srv.config_text.replace("</configuration>\n", xml + "\n</configuration>\n")


def farm_xml(name, backends, weights=None, algorithm="WeightedRoundRobin", check=""):
    """A <webFarm> of backends (each its own 127.0.0.N address)."""
    servers = "".join(
        '<server address="%s"><applicationRequestRouting httpPort="%d" weight="%d" /></server>'
        % (b.address, b.port, (weights or {}).get(b.name, 100)) for b in backends)
    return """<webFarm name="%s">%s<applicationRequestRouting>%s
<loadBalancing algorithm="%s" /></applicationRequestRouting></webFarm>""" % (
        name, servers, check, algorithm)
