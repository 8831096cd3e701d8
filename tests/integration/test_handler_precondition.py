"""<handlers> preCondition, as IIS evaluates it against the worker's pool:
integratedMode / classicMode (managedPipelineMode), runtimeVersionvX
(managedRuntimeVersion; "" is No Managed Code, which no runtime condition
meets), bitness32 / bitness64 (enable32BitAppOnWin64); comma-separated, all
must hold; an entry whose condition fails is skipped. path="*." is "no
extension" (IIS's stock ExtensionlessUrl handlers). The 404 page's Handler
row names the entry that was chosen."""
import re

import wasptest
from wasptest import check

WEB_SERVER = """
    <handlers accessPolicy="Read, Script">
      <add name="Classic" path="*.txt" verb="GET" modules="StaticFileModule"
           preCondition="classicMode" requireAccess="Read" />
      <add name="Integrated2" path="*.txt" verb="GET" modules="StaticFileModule"
           preCondition="integratedMode,runtimeVersionv2.0" requireAccess="Read" />
      <add name="Bits32" path="*.txt" verb="GET" modules="StaticFileModule"
           preCondition="bitness32" requireAccess="Read" />
      <add name="Integrated4-64" path="*.txt" verb="GET" modules="StaticFileModule"
           preCondition="integratedMode, runtimeVersionv4.0 ,bitness64" requireAccess="Read" />
      <add name="Extensionless" path="*." verb="GET" modules="StaticFileModule"
           requireAccess="Read" />
      <add name="StaticFile" path="*" verb="GET" modules="StaticFileModule"
           requireAccess="Read" />
    </handlers>"""


def handler(srv, pool, path):
    r = srv.get(path, pool=pool)
    check(r.status == 404, "%s %s: %r" % (pool, path, r))
    m = re.search(rb"<tr><th>Handler</th><td>([^<]*)</td></tr>", r.body)
    check(m, "%s %s: no Handler row in %r" % (pool, path, r.body))
    return m.group(1).decode()


def test(t):
    pools = {
        "A": {},  # IIS's defaults: Integrated, v4.0, 64-bit
        "B": {"managedPipelineMode": "Classic"},
        "C": {"managedRuntimeVersion": "v2.0"},
        "D": {"enable32BitAppOnWin64": True},
        "E": {"managedRuntimeVersion": ""},
    }
    srv = t.server(pools=pools, web_server_xml=WEB_SERVER).start()
    for pool, want in (("A", "Integrated4-64"), ("B", "Classic"), ("C", "Integrated2"),
                       ("D", "Bits32"), ("E", "StaticFile")):
        got = handler(srv, pool, "/none.txt")
        check(got == want, "pool %s: /none.txt handled by %r, want %r" % (pool, got, want))
    for path, want in (("/none", "Extensionless"), ("/dir/none", "Extensionless"),
                       ("/none.html", "StaticFile"), ("/dir.x/none", "Extensionless")):
        got = handler(srv, "A", path)
        check(got == want, "%s handled by %r, want %r" % (path, got, want))
    r = srv.get("/index.html", pool="A")
    check(r.status == 200 and r.body == b"pool A\n", "a file is still served: %r" % r)


wasptest.main(test)
