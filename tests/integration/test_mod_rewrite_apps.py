"""RewriteModule across applications and levels: globalRules from
applicationHost.config run first, on the whole path, and a global or a
site's rewrite into another application of the site is routed there
(the same pool's other application, or another pool's: never served by the
wrong one), with the client's URL in X-Original-URL, at most once (two
rules that send a request back and forth end in 500.50). Inherited rules
run first, each with its own web.config's directory as base. serverVariables
reach later modules (and the rerouted request as headers); UNENCODED_URL and
REQUEST_URI stay the client's."""
import glob
import os

import wasptest
from wasptest import check, read_text, wait_until, write_content

GLOBAL = """
  <rewrite>
    <globalRules>
      <rule name="global to B" stopProcessing="true">
        <match url="^g/b/(.*)" />
        <action type="Rewrite" url="/b/{R:1}" />
      </rule>
      <rule name="global in A" stopProcessing="true">
        <match url="^g/a/(.*)" />
        <action type="Rewrite" url="/{R:1}" />
      </rule>
    </globalRules>
    <allowedServerVariables>
      <add name="HTTP_X_FROM_RULE" />
    </allowedServerVariables>
  </rewrite>
"""


def web_config(rules):
    return ("<configuration><system.webServer><rewrite><rules>%s</rules></rewrite>"
            "</system.webServer></configuration>\n" % rules)


def rule(name, match, action, extra=""):
    return ('<rule name="%s" stopProcessing="true"><match url="%s" />%s%s</rule>'
            % (name, match, extra, action))


ROOT = web_config(
    rule("to same pool", "^s/(.*)", '<action type="Rewrite" url="/same/{R:1}" />') +
    rule("to B", "^b2/(.*)", '<action type="Rewrite" url="/b/{R:1}" />') +
    rule("ping", "^ping/(.*)", '<action type="Rewrite" url="/b/pong/{R:1}" />') +
    rule("unencoded", "^u/(.*)", '<action type="Rewrite" url="/{R:1}" />') +
    rule("logged", "^lr/(.*)", '<action type="Rewrite" url="/{R:1}?r=1" logRewrittenUrl="true" />') +
    rule("set var", "^sv/(.*)", '<action type="Rewrite" url="/{R:1}" />',
         '<serverVariables><set name="HTTP_X_FROM_RULE" value="from {R:1}" /></serverVariables>') +
    rule("set var to B", "^svb/(.*)", '<action type="Rewrite" url="/b/{R:1}" />',
         '<serverVariables><set name="HTTP_X_FROM_RULE" value="rule" /></serverVariables>'))

B_ROOT = web_config(rule("pong", "^pong/(.*)", '<action type="Rewrite" url="/ping/{R:1}" />'))

INH = web_config(rule("parent", "^child/q$",
                      '<action type="Redirect" url="/seen-by-parent/{R:0}" />'))
INH_CHILD = web_config(rule("child", "^(.*)$",
                            '<action type="Redirect" url="/seen-by-child/{R:0}" />'))


def test(t):
    pools = {"A": {}, "B": {}}
    srv = t.server(pools=pools, sites=[])
    a, same, b = srv.content_dir("A"), srv.content_dir("A2"), srv.content_dir("B")
    srv.sites = [{"name": "S", "id": 1,
                  "bindings": ["127.0.0.1:%d:s.test" % srv.port],
                  "apps": [{"path": "/", "pool": "A", "physicalPath": a},
                           {"path": "/same", "pool": "A", "physicalPath": same},
                           {"path": "/b", "pool": "B", "physicalPath": b}]}]
    logdir = os.path.join(t.dir, "logs")
    os.makedirs(logdir)
    os.chmod(logdir, 0o755)
    srv.config_text = wasptest.config_xml([{"name": n} for n in pools], srv.sites,
                                          web_server_xml=GLOBAL).replace(
        "    </sites>", "      <siteDefaults><logFile directory=%s /></siteDefaults>\n"
        "    </sites>" % wasptest.quoteattr(logdir))
    write_content(os.path.join(a, "web.config"), ROOT)
    write_content(os.path.join(b, "web.config"), B_ROOT)
    write_content(os.path.join(a, "inh", "web.config"), INH)
    write_content(os.path.join(a, "inh", "child", "web.config"), INH_CHILD)
    write_content(os.path.join(a, "f.txt"), "in A\n")
    write_content(os.path.join(same, "f.txt"), "in A2\n")
    write_content(os.path.join(b, "f.txt"), "in B\n")
    for d in ("inh", "inh/child"):
        os.chmod(os.path.join(a, d), 0o755)
    srv.start()

    def get(path, **kw):
        return srv.get(path, host="s.test", **kw)

    def expect(path, status, body=None, pool=None, location=None):
        r = get(path)
        check(r.status == status, "%s: %d, expected %d %r" % (path, r.status, status,
                                                            r.body[:300]))
        if body is not None:
            check(r.body == body.encode(), "%s: body %r, expected %r" % (path, r.body, body))
        if pool is not None:
            check(r.pool == pool, "%s: served by %r, expected %r" % (path, r.pool, pool))
        if location is not None:
            check(r.header("Location") == location,
                  "%s: Location %r" % (path, r.header("Location")))
        return r

    # global rules: in the same application, and into another pool's
    expect("/g/a/f.txt", 200, "in A\n", "A")
    expect("/g/b/f.txt", 200, "in B\n", "B")
    expect("/g/b/__wasp_test/var/HTTP_X_ORIGINAL_URL?q=1", 200,
           "HTTP_X_ORIGINAL_URL=/g/b/__wasp_test/var/HTTP_X_ORIGINAL_URL?q=1", "B")
    expect("/g/a/__wasp_test/var/HTTP_X_ORIGINAL_URL", 200,
           "HTTP_X_ORIGINAL_URL=/g/a/__wasp_test/var/HTTP_X_ORIGINAL_URL", "A")

    # the site's rules into another application: the same pool's, another pool's
    expect("/s/f.txt", 200, "in A2\n", "A")
    expect("/b2/f.txt", 200, "in B\n", "B")
    # back and forth between two pools' rules: rerouted once, then 500.50
    expect("/ping/f.txt", 500)

    # the client's URL stays in UNENCODED_URL and REQUEST_URI
    expect("/u/__wasp_test/var/UNENCODED_URL?x=%41", 200,
           "UNENCODED_URL=/u/__wasp_test/var/UNENCODED_URL?x=%41")
    expect("/u/__wasp_test/var/REQUEST_URI", 200, "REQUEST_URI=/u/__wasp_test/var/REQUEST_URI")
    expect("/u/__wasp_test/var/URL", 200, "URL=/__wasp_test/var/URL")

    # serverVariables reach later modules, and a rerouted request as a header
    expect("/sv/__wasp_test/var/HTTP_X_FROM_RULE", 200,
           "HTTP_X_FROM_RULE=from __wasp_test/var/HTTP_X_FROM_RULE")
    expect("/svb/__wasp_test/var/HTTP_X_FROM_RULE", 200, "HTTP_X_FROM_RULE=rule", "B")

    # inherited rules first, each on the path relative to its own directory
    expect("/inh/child/q", 301, location="/seen-by-parent/child/q")
    expect("/inh/child/other", 301, location="/seen-by-child/other")

    # the W3C log: the client's URL, or the rewritten one with logRewrittenUrl
    expect("/u/f.txt?m=2", 200, "in A\n")
    expect("/lr/f.txt?m=1", 200, "in A\n")

    def lines():
        text = "".join(read_text(f) for f in glob.glob(os.path.join(logdir, "W3SVC1", "*.log")))
        return text if " /f.txt r=1&m=1 " in text else None
    text = wait_until(lines, 10, what="the logRewrittenUrl request in the log")
    check(" /u/f.txt m=2 " in text, "the client's URL not logged: %r" % text[-600:])


wasptest.main(test)
