"""HttpRedirectionModule: system.webServer/httpRedirect. A destination
configured for a path redirects everything below it: relative to the
destination (the rest of the path appended) or exactly; childOnly limits it
to the directory's own content; httpResponseStatus picks 301/302/307/308;
IIS's $S $V $Q $P variables; wildcard rules (with $0..) when there is no
destination; a web.config's directory is its base; enabled="false" below
turns it off; a redirect to the requested URL itself is not sent."""
import os
import wasptest
from wasptest import check, write_content

WEB_SERVER = """
  </system.webServer>
  <location path="A/old">
    <system.webServer>
      <httpRedirect enabled="true" destination="/new" />
    </system.webServer>
  </location>
  <location path="A/old/keep">
    <system.webServer>
      <httpRedirect enabled="false" />
    </system.webServer>
  </location>
  <location path="A/perm">
    <system.webServer>
      <httpRedirect enabled="true" destination="http://example.com/landing"
                    exactDestination="true" httpResponseStatus="Permanent" />
    </system.webServer>
  </location>
  <location path="A/vars">
    <system.webServer>
      <httpRedirect enabled="true" destination="http://example.com/v$S$Q"
                    exactDestination="true" httpResponseStatus="Temporary" />
    </system.webServer>
  </location>
  <location path="A/vvar">
    <system.webServer>
      <httpRedirect enabled="true" destination="https://other.test$V?p=$P&amp;x=$x"
                    exactDestination="true" httpResponseStatus="PermRedirect" />
    </system.webServer>
  </location>
  <location path="A/child">
    <system.webServer>
      <httpRedirect enabled="true" destination="/target/" childOnly="true" />
    </system.webServer>
  </location>
  <location path="A/wild">
    <system.webServer>
      <httpRedirect enabled="true" exactDestination="true">
        <add wildcard="*.php" destination="/default.htm" />
        <add wildcard="/wild/docs/*/*.txt" destination="/documents/$1-$0.text" />
        <add wildcard="*a*a*a*a*a*a*a*a*b" destination="/never" />
      </httpRedirect>
    </system.webServer>
  </location>
  <location path="A/one"><system.webServer><httpRedirect enabled="true" destination="/x" /></system.webServer></location><location path="A/one/two"><system.webServer><httpRedirect destination="/y" /></system.webServer></location>
  <location path="A/self">
    <system.webServer>
      <httpRedirect enabled="true" destination="/self/" exactDestination="true" />
    </system.webServer>
  </location>
  <system.webServer>"""

WEB_CONFIG = """<configuration><system.webServer>
  <httpRedirect enabled="true" destination="http://moved.test/base" />
</system.webServer></configuration>
"""


def test(t):
    srv = t.server(pools={"A": {}}, web_server_xml=WEB_SERVER)
    c = srv.content_dir("A")
    for name in ("a.txt", "old/keep/k.txt", "child/sub/s.txt", "wild/other.txt",
                 "self/index.html", "webcfg/sub/w.txt"):
        write_content(os.path.join(c, name), "x\n")
    write_content(os.path.join(c, "webcfg", "web.config"), WEB_CONFIG)
    for d in ("old", "old/keep", "child", "child/sub", "wild", "self", "webcfg", "webcfg/sub"):
        os.chmod(os.path.join(c, d), 0o755)
    srv.start()
    host = srv.host("A")

    def redirected(path, status, location, what=None):
        r = srv.get(path, pool="A")
        check(r.status == status and r.header("Location") == location,
              "%s: expected %d %s, got %r %r" % (what or path, status, location, r,
                                                r.header("Location")))
        return r

    def served(path, status=200):
        r = srv.get(path, pool="A")
        check(r.status == status and r.header("Location") is None,
              "%s: expected %d without a redirect, got %r %r" % (path, status, r, r.headers))

    # relative to the destination: the rest of the path follows (no query)
    r = redirected("/old/a/b.htm", 302, "http://%s/new/a/b.htm" % host)
    check(b"/new/a/b.htm" in r.body and r.header("Content-Type", "").startswith("text/html"),
          "redirect body %r" % r.body)
    redirected("/old", 302, "http://%s/new" % host)
    redirected("/old/", 302, "http://%s/new/" % host)
    redirected("/old/x.htm?q=1", 302, "http://%s/new/x.htm" % host, "query dropped")
    redirected("/old/a%20b%3F.htm", 302, "http://%s/new/a%%20b%%3F.htm" % host, "encoding")
    # turned off below
    served("/old/keep/k.txt")
    # nothing configured here
    served("/a.txt")

    # exact destination, httpResponseStatus
    redirected("/perm/any/thing.htm", 301, "http://example.com/landing")
    r = redirected("/vars/p/q.htm?x=1&y=2", 307, "http://example.com/v/p/q.htm?x=1&y=2")
    check(b'HREF="http://example.com/v/p/q.htm?x=1&amp;y=2"' in r.body, "escaped body %r" % r.body)
    # an apostrophe stays as it is in the double-quoted HREF
    r = redirected("/vars/it's.htm?q='", 307, "http://example.com/v/it's.htm?q='")
    check(b'HREF="http://example.com/v/it\'s.htm?q=\'"' in r.body, "apostrophe body %r" % r.body)
    redirected("/vars/p.htm", 307, "http://example.com/v/p.htm", "$Q without a query")
    redirected("/vvar/f.htm?a=1", 308, "https://other.test/vvar/f.htm?p=a=1&x=$x")

    # childOnly: the directory's own content, not its subdirectories
    redirected("/child/f.htm", 302, "http://%s/target/f.htm" % host)
    served("/child/sub/s.txt")

    # wildcard rules (no destination), first match wins, $0 $1 from the '*'s
    # (each '*' as short as it can be but the last)
    redirected("/wild/x/y.php", 302, "http://%s/default.htm" % host)
    redirected("/wild/docs/a/b/c.txt", 302, "http://%s/documents/b/c-a.text" % host)
    served("/wild/other.txt")
    # a pattern with many '*'s against a long URL costs len(pattern) * len(URL)
    served("/wild/" + "a" * 3000 + ".txt", 404)

    # two settings on one line: each one's base is where it applies
    redirected("/one/f.htm", 302, "http://%s/x/f.htm" % host)
    redirected("/one/two/f.htm", 302, "http://%s/y/f.htm" % host)

    # a redirect to the URL itself is not sent
    served("/self/")
    redirected("/self/x.htm", 302, "http://%s/self/" % host)

    # a web.config's directory is the base
    redirected("/webcfg/sub/w.txt", 302, "http://moved.test/base/sub/w.txt")
    redirected("/webcfg/", 302, "http://moved.test/base/")


wasptest.main(test)
