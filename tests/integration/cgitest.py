"""What the CgiModule tests share: the applicationHost.config parts that
run *.py through python3 (scriptProcessor) and *.cgi as programs, and
scripts written where a pool's identity can run them."""
import os
import shutil

import wasptest


# A script that reads its whole stdin and answers "<bytes> <md5> <CONTENT_LENGTH>
# HTTPS=<HTTPS>" (the uploads' checks).
UPLOAD_PY = r"""import hashlib, os, sys
n, h = 0, hashlib.md5()
while True:
    b = sys.stdin.buffer.read(65536)
    if not b:
        break
    n += len(b)
    h.update(b)
sys.stdout.write("Content-Type: text/plain\r\n\r\n%d %s %s HTTPS=%s" % (
    n, h.hexdigest(), os.environ["CONTENT_LENGTH"], os.environ.get("HTTPS")))
"""


def python3():
    """The system's python3 (skip without one): what the scripts run on."""
    py = shutil.which("python3", path="/usr/bin:/bin")
    if not py:
        wasptest.skip("no /usr/bin/python3 for the CGI scripts")
    return os.path.realpath(py)


def processor(py):
    """The *.py handler's scriptProcessor, as IIS writes one."""
    return "%s -u %%s %%s" % py


def web_server_xml(py, allowed=None, timeout=None, not_listed=False, extra="", denied=()):
    """<cgi>, <isapiCgiRestriction> allowing `allowed` (default: the *.py
    processor) and listing `denied` with allowed="false", the two CGI
    handlers before StaticFile."""
    if allowed is None:
        allowed = [processor(py)]
    adds = "".join('<add path="%s" allowed="true" description="test" />' % p
                   for p in allowed)
    adds += "".join('<add path="%s" allowed="false" />' % p for p in denied)
    cgi = '<cgi timeout="%s" />' % timeout if timeout else ""
    return """
    %s
    <security>
      <isapiCgiRestriction notListedCgisAllowed="%s">%s</isapiCgiRestriction>
      <requestFiltering><requestLimits maxAllowedContentLength="4294967295" /></requestFiltering>
    </security>
    <handlers accessPolicy="Read, Script, Execute">
      <add name="CGI-py" path="*.py" verb="*" modules="CgiModule" scriptProcessor="%s"
           resourceType="File" requireAccess="Script" allowPathInfo="true" />
      <add name="CGI-exe" path="*.cgi" verb="*" modules="CgiModule"
           resourceType="File" requireAccess="Execute" allowPathInfo="true" />
      <add name="StaticFile" path="*" verb="*"
           modules="StaticFileModule,DefaultDocumentModule,DirectoryListingModule"
           resourceType="Either" requireAccess="Read" />
    </handlers>
    %s""" % (cgi, "true" if not_listed else "false", adds, processor(py), extra)


def write_script(t, srv, pool, name, text):
    """A script in the pool's content, executable by its identity."""
    os.chmod(t.dir, 0o755)
    path = os.path.join(srv.content_dir(pool), name)
    wasptest.write_content(path, text)
    os.chmod(path, 0o755)
    return path
