"""Helpers for the httpPlatform and aspNetCore tests: the backends in
tests/apps copied where a pool's identity can read them, and the
applicationHost.config parts that send every request to them."""
import os
import shutil

import fcgitest
import wasptest

APPS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "apps")


def _copy(t, name):
    dst = os.path.join(t.dir, name)
    shutil.copy(os.path.join(APPS, name), dst)
    os.chmod(t.dir, 0o755)
    os.chmod(dst, 0o644)
    return dst


def python_backend(t):
    """(python, script): tests/apps/hp_backend.py run by the system's
    python3 (skip without one)."""
    py = shutil.which("python3", path="/usr/bin:/bin")
    if not py:
        wasptest.skip("no /usr/bin/python3 for the backend")
    return os.path.realpath(py), _copy(t, "hp_backend.py")


def node_backend(t):
    """(node, script): tests/apps/hp_backend.js (skip without node)."""
    node = shutil.which("node", path="/usr/bin:/bin") or shutil.which("nodejs",
                                                                      path="/usr/bin:/bin")
    if not node:
        wasptest.skip("node is not installed")
    return os.path.realpath(node), _copy(t, "hp_backend.js")


def _attrs(d):
    return "".join(' %s="%s"' % (k, v) for k, v in (d or {}).items())


def handlers_xml(module):
    """applicationHost.config's <handlers> sending every request to module
    (the sections themselves then in each site's web.config)."""
    return """
    <handlers>
      <add name="backend" path="*" verb="*" modules="%s" resourceType="Unspecified" />
    </handlers>""" % module


def php_and_backend_xml(php, app_attrs=None):
    """fcgitest.web_server_xml for php (*.php to php-cgi), with every other
    request going to httpPlatformHandler instead of the static files (a
    site's web.config then sets up its httpPlatform section)."""
    xml = fcgitest.web_server_xml(php, app_attrs=app_attrs).replace(
        '<add name="StaticFile" path="*" verb="*"\n'
        '           modules="StaticFileModule,DefaultDocumentModule,DirectoryListingModule"',
        '<add name="backend" path="*" verb="*" modules="httpPlatformHandler"')
    xml = xml.replace('resourceType="Either" requireAccess="Read"', 'resourceType="Unspecified"')
    if "httpPlatformHandler" not in xml:
        raise wasptest.Failure("fcgitest.web_server_xml changed: no StaticFile entry to replace")
    return xml


def web_server_xml(section, process_path, arguments, attrs=None, env=None, module=None,
                   extra=""):
    """<section> (httpPlatform or aspNetCore) with processPath, arguments,
    more attributes and environmentVariables, and a handler sending every
    request to its module."""
    module = module or {"httpPlatform": "httpPlatformHandler",
                        "aspNetCore": "AspNetCoreModuleV2"}[section]
    envs = "".join('<environmentVariable name="%s" value="%s" />' % kv
                   for kv in (env or {}).items())
    return """
    <%s processPath="%s" arguments="%s"%s>
      <environmentVariables>%s</environmentVariables>
    </%s>
    <handlers>
      <add name="backend" path="*" verb="*" modules="%s" resourceType="Unspecified" />
    </handlers>
    <security><requestFiltering>
      <requestLimits maxAllowedContentLength="4294967295" />
    </requestFiltering></security>
    %s""" % (section, process_path, arguments, _attrs(attrs), envs, section, module, extra)
