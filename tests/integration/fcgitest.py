"""Helpers for the FastCGI tests: php-cgi (skipped when it is not installed)
and the applicationHost.config parts that map *.php to it."""
import os
import shutil
import socket

import wasptest


def php_cgi():
    """The php-cgi program, or skip the test (meson's 77)."""
    for name in ("php-cgi8.2", "php-cgi"):
        p = shutil.which(name)
        if p:
            return os.path.realpath(p)
    wasptest.skip("php-cgi is not installed")
    return None


def web_server_xml(php, app_attrs=None, env=None, handler_attrs=None, extra="",
                   arguments=""):
    """<fastCgi> with one <application> for php (and arguments) and a *.php
    handler before StaticFile. app_attrs, handler_attrs: more attributes;
    env: the application's environmentVariables."""
    app_attrs = dict(app_attrs or {})
    script = php
    if arguments:
        app_attrs["arguments"] = arguments
        script = php + "|" + arguments
    def attrs(d):
        return "".join(' %s="%s"' % (k, v) for k, v in (d or {}).items())
    envs = "".join('<environmentVariable name="%s" value="%s" />' % kv
                   for kv in (env or {}).items())
    return """
    <fastCgi>
      <application fullPath="%s"%s>
        <environmentVariables>%s</environmentVariables>
      </application>
    </fastCgi>
    <handlers accessPolicy="Read, Script">
      <add name="PHP_via_FastCGI" path="*.php" verb="GET,HEAD,POST" modules="FastCgiModule"
           scriptProcessor="%s" resourceType="Either" requireAccess="Script"%s />
      <add name="StaticFile" path="*" verb="*"
           modules="StaticFileModule,DefaultDocumentModule,DirectoryListingModule"
           resourceType="Either" requireAccess="Read" />
    </handlers>
    <security><requestFiltering>
      <requestLimits maxAllowedContentLength="4294967295" />
    </requestFiltering></security>
    %s""" % (php, attrs(app_attrs), envs, script, attrs(handler_attrs), extra)


def write_php(srv, pool, name, text):
    path = os.path.join(srv.content_dir(pool), name)
    wasptest.write_content(path, text)
    return path


def read_to_eof(sock):
    """Everything the server sends until it closes, then close."""
    data = b""
    while True:
        b = sock.recv(65536)
        if not b:
            break
        data += b
    sock.close()
    return data


def raw_get(port, path, host, timeout=30, close=True):
    """GET on a new connection, read to the end of the connection: a cut
    response stays cut (no client library tidies it up)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n"
               % (path, host, "Connection: close\r\n" if close else "")).encode())
    return read_to_eof(s)


def fake_app(t):
    """(python, script): tests/integration/fake_fcgi.py copied where a pool's
    identity can read it, run by the system's python3 (skip without one)."""
    py = shutil.which("python3", path="/usr/bin:/bin")
    if not py:
        wasptest.skip("no /usr/bin/python3 for the fake application")
    fake = os.path.join(t.dir, "fake_fcgi.py")
    shutil.copy(os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_fcgi.py"),
                fake)
    os.chmod(t.dir, 0o755)
    os.chmod(fake, 0o644)
    return os.path.realpath(py), fake
