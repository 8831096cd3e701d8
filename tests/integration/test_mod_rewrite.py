"""RewriteModule: IIS URL Rewrite's inbound rules, with the rule sets of
real applications in web.config files (WordPress, Laravel, an Angular SPA
fallback, HTTP to HTTPS, a canonical host, a trailing slash, iisnode's rule
without <match>, a rewrite map of legacy URLs), each rule seeing the path
relative to its web.config's directory; every action type, back-references,
MatchAny, trackAllCaptures, negate, functions, stopProcessing, inherited
rules cleared below, a server variable allowedServerVariables does not list
(500.50), a rule that matches its own result (applied once), a disabled
rule, a rewrite to an absolute URL (404.4 without a proxy), a rewrite to
web.config (request filtering's 404.8), a broken pattern, a catastrophic
one and more rules than a section may hold (500.50, the worker serves
on)."""
import os
import socket
import wasptest
from wasptest import check, write_content

PHP_AS_TEXT = ('<staticContent><mimeMap fileExtension=".php" mimeType="text/plain" />'
               '</staticContent>')


def web_config(rules, extra=""):
    return ("<configuration><system.webServer>%s<rewrite>%s</rewrite>"
            "</system.webServer></configuration>\n" % (extra, rules))


NOT_FILE_NOR_DIR = """<conditions>
  <add input="{REQUEST_FILENAME}" matchType="IsFile" negate="true" />
  <add input="{REQUEST_FILENAME}" matchType="IsDirectory" negate="true" />
</conditions>"""

WORDPRESS = web_config("""<rules>
  <rule name="WordPress: wp" patternSyntax="Wildcard">
    <match url="*" />%s
    <action type="Rewrite" url="index.php" />
  </rule>
</rules>""" % NOT_FILE_NOR_DIR, PHP_AS_TEXT)

LARAVEL = web_config("""<rules>
  <rule name="Imported Rule 1" stopProcessing="true">
    <match url="^(.*)/$" ignoreCase="false" />
    <conditions>
      <add input="{REQUEST_FILENAME}" matchType="IsDirectory" ignoreCase="false" negate="true" />
    </conditions>
    <action type="Redirect" redirectType="Permanent" url="/laravel/{R:1}" />
  </rule>
  <rule name="Imported Rule 2" stopProcessing="true" responseCacheDirective="Auto">
    <match url="^" ignoreCase="false" />%s
    <action type="Rewrite" url="index.php" />
  </rule>
</rules>""" % NOT_FILE_NOR_DIR, PHP_AS_TEXT)

SPA = web_config("""<rules>
  <rule name="Angular Routes" stopProcessing="true">
    <match url=".*" />%s
    <action type="Rewrite" url="/spa/" />
  </rule>
</rules>""" % NOT_FILE_NOR_DIR)

HTTPS = web_config("""<rules>
  <rule name="HTTP to HTTPS redirect" stopProcessing="true">
    <match url="(.*)" />
    <conditions>
      <add input="{HTTPS}" pattern="^OFF$" />
    </conditions>
    <action type="Redirect" url="https://{HTTP_HOST}/{R:1}" redirectType="Permanent" />
  </rule>
</rules>""")

CANONICAL = web_config("""<rules>
  <rule name="Canonical host" stopProcessing="true">
    <match url="(.*)" />
    <conditions logicalGrouping="MatchAny">
      <add input="{HTTP_HOST}" pattern="^www\\.a\\.test$" negate="true" />
      <add input="{QUERY_STRING}" pattern="force" />
    </conditions>
    <action type="Redirect" url="http://www.a.test/{R:1}" redirectType="Found"
            appendQueryString="false" />
  </rule>
</rules>""")

SLASH = web_config("""<rules>
  <rule name="Add trailing slash" stopProcessing="true">
    <match url="(.*[^/])$" />%s
    <action type="Redirect" redirectType="Permanent" url="{R:1}/" />
  </rule>
</rules>""" % NOT_FILE_NOR_DIR)

IISNODE = web_config("""<rules>
  <rule name="DynamicContent">
    <conditions>
      <add input="{REQUEST_FILENAME}" matchType="IsFile" negate="True" />
    </conditions>
    <action type="Rewrite" url="server.js" />
  </rule>
</rules>""")

LEGACY = web_config("""<rewriteMaps>
  <rewriteMap name="Legacy URLs" defaultValue="">
    <add key="/legacy/old-page.asp" value="/legacy/new.html" />
    <add key="/legacy/Products.aspx?id=7" value="/legacy/p/7.html" />
  </rewriteMap>
  <rewriteMap name="Sections" defaultValue="misc" ignoreCase="false">
    <add key="News" value="news" />
  </rewriteMap>
</rewriteMaps>
<rules>
  <rule name="Legacy redirects" stopProcessing="true">
    <match url=".*" />
    <conditions>
      <add input="{Legacy URLs:{REQUEST_URI}}" pattern="(.+)" />
    </conditions>
    <action type="Redirect" url="{C:1}" appendQueryString="false" />
  </rule>
  <rule name="Sections" stopProcessing="true">
    <match url="^section/(\\w+)$" />
    <action type="Redirect" url="/s/{Sections:{R:1}}" redirectType="Found" />
  </rule>
</rules>""")

ACTIONS = web_config("""<rules>
  <rule name="custom" stopProcessing="true">
    <match url="^secret/(.*)" />
    <action type="CustomResponse" statusCode="403" subStatusCode="7"
            statusReason="Forbidden" statusDescription="no {R:1} here" />
  </rule>
  <rule name="abort" stopProcessing="true">
    <match url="^abort$" />
    <action type="AbortRequest" />
  </rule>
  <rule name="none stops" stopProcessing="true">
    <match url="^stop/" />
    <action type="None" />
  </rule>
  <rule name="lower" stopProcessing="true">
    <match url="^Lower/(.*)" ignoreCase="false" />
    <action type="Redirect" url="/actions/{ToLower:{R:1}}?e={UrlEncode:{R:1} &amp;}&amp;d={UrlDecode:a%2Fb}&amp;s={EscapeDataString:a b}" appendQueryString="false" redirectType="Temporary" />
  </rule>
  <rule name="track" stopProcessing="true">
    <match url="^track/(\\w+)$" />
    <conditions trackAllCaptures="true">
      <add input="{QUERY_STRING}" pattern="a=(\\w+)" />
      <add input="{HTTP_X_B}" pattern="(\\w+)" />
    </conditions>
    <action type="Redirect" url="/t/{R:1}/{C:1}/{C:3}" appendQueryString="false" redirectType="SeeOther" />
  </rule>
  <rule name="disabled" enabled="false" stopProcessing="true">
    <match url="^keep" />
    <action type="CustomResponse" statusCode="410" />
  </rule>
  <rule name="proxy without ARR" stopProcessing="true">
    <match url="^proxy/(.*)" />
    <action type="Rewrite" url="http://backend.test/{R:1}" />
  </rule>
  <rule name="to the config" stopProcessing="true">
    <match url="^cfg$" />
    <action type="Rewrite" url="web.config" />
  </rule>
  <rule name="exact" patternSyntax="ExactMatch" stopProcessing="true">
    <match url="exact.html" />
    <action type="Rewrite" url="target.html" appendQueryString="false" />
  </rule>
  <rule name="negated" stopProcessing="true">
    <match url="^(keep|target|loop|sub|stop)" negate="true" />
    <action type="Rewrite" url="target.html?from={R:0}" />
  </rule>
  <rule name="loop">
    <match url="^loop/(.*)" />
    <action type="Rewrite" url="loop/loop/{R:1}" />
  </rule>
  <rule name="never reached after loop" stopProcessing="true">
    <match url="^loop/loop/loop/loop/" />
    <action type="CustomResponse" statusCode="410" />
  </rule>
</rules>""")

CHILD_CLEARS = web_config("<rules><clear /></rules>")

SERVER_VARS = web_config("""<rules>
  <rule name="sets a variable">
    <match url=".*" />
    <serverVariables>
      <set name="HTTP_X_FORWARDED_PROTO" value="https" />
    </serverVariables>
    <action type="None" />
  </rule>
</rules>""")

BAD_PATTERN = web_config("""<rules>
  <rule name="broken"><match url="(unclosed" /><action type="None" /></rule>
</rules>""")

TOO_MANY = web_config("".join(
    '<rule name="r%d"><match url="^never%d$" /><action type="None" /></rule>' % (i, i)
    for i in range(1001)).join(("<rules>", "</rules>")))

CATASTROPHIC = web_config("""<rules>
  <rule name="catastrophic"><match url="^(a+)+$" /><action type="None" /></rule>
</rules>""")


def test(t):
    srv = t.server(pools={"A": {}})
    c = srv.content_dir("A")
    files = {
        "wp/index.php": "WP\n", "wp/style.css": "css\n", "wp/wp-admin/index.html": "admin\n",
        "laravel/index.php": "LARAVEL\n", "laravel/public.txt": "public\n",
        "spa/index.html": "SPA\n", "spa/main.js": "js\n",
        "https/x.txt": "x\n", "canon/x.txt": "x\n", "slash/about/index.html": "about\n",
        "slash/f.txt": "f\n", "node/server.js": "NODE\n", "node/static.txt": "static\n",
        "legacy/new.html": "new\n", "actions/target.html": "TARGET\n",
        "actions/keep.txt": "keep\n", "actions/stop/s.txt": "stop\n",
        "actions/loop/loop/x.txt": "LOOPED ONCE\n", "actions/sub/s.txt": "sub\n",
        "vars/v.txt": "v\n", "bad/b.txt": "b\n", "cat/c.txt": "c\n", "many/m.txt": "m\n",
    }
    for name, body in files.items():
        write_content(os.path.join(c, name), body)
    configs = {"wp": WORDPRESS, "laravel": LARAVEL, "spa": SPA, "https": HTTPS,
               "canon": CANONICAL, "slash": SLASH, "node": IISNODE, "legacy": LEGACY,
               "actions": ACTIONS, "actions/sub": CHILD_CLEARS, "vars": SERVER_VARS,
               "bad": BAD_PATTERN, "cat": CATASTROPHIC, "many": TOO_MANY}
    for d, text in configs.items():
        write_content(os.path.join(c, d, "web.config"), text)
    for root, dirs, _ in os.walk(c):
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o755)
    srv.start()

    def expect(path, status, body=None, location=None, headers=None):
        r = srv.get(path, pool="A", headers=headers)
        check(r.status == status, "%s: status %d, expected %d (%r)" % (path, r.status,
                                                                     status, r.body[:200]))
        if body is not None:
            check(r.body == body.encode(), "%s: body %r, expected %r" % (path, r.body, body))
        if location is not None or status in (301, 302, 303, 307):
            check(r.header("Location") == location,
                  "%s: Location %r, expected %r" % (path, r.header("Location"), location))
        return r

    # WordPress: what is not a file nor a directory goes to index.php
    expect("/wp/2024/01/hello-world/", 200, "WP\n")
    expect("/wp/2024/?p=12", 200, "WP\n")
    expect("/wp/style.css", 200, "css\n")
    expect("/wp/wp-admin/", 200, "admin\n")

    # Laravel: a trailing slash off (unless a directory), then the front controller
    expect("/laravel/users/", 301, location="/laravel/users")
    expect("/laravel/users?page=2", 200, "LARAVEL\n")
    expect("/laravel/public.txt", 200, "public\n")

    # an Angular SPA: routes fall back to the app's index (its default document)
    expect("/spa/dashboard/7", 200, "SPA\n")
    expect("/spa/main.js", 200, "js\n")

    # HTTP to HTTPS, the query kept, {R:1} relative to the rules' directory
    expect("/https/a/b.html?x=1", 301, location="https://a.test/a/b.html?x=1")

    # canonical host (MatchAny, negate), appendQueryString="false"
    expect("/canon/p?q=1", 302, location="http://www.a.test/p")

    # the trailing-slash rule; the Location is made absolute against the base
    expect("/slash/about", 301, location="/slash/about/")
    expect("/slash/f.txt", 200, "f\n")

    # iisnode's rule has no <match>: every URL that is not a file
    expect("/node/api/users", 200, "NODE\n")
    expect("/node/static.txt", 200, "static\n")

    # a rewrite map of legacy URLs ({MapName:...} in a condition, {C:1})
    expect("/legacy/old-page.asp", 301, location="/legacy/new.html")
    expect("/legacy/Products.aspx?id=7", 301, location="/legacy/p/7.html")
    expect("/legacy/new.html", 200, "new\n")
    # a map's defaultValue for a missing key; ignoreCase="false" compares case
    expect("/legacy/section/News", 302, location="/s/news")
    expect("/legacy/section/news", 302, location="/s/misc")

    # every action type
    r = expect("/actions/secret/plans", 403, "no plans here")
    check(r.header("X-Wasp-Substatus") == "7", "substatus %r" % r.headers)
    expect("/actions/stop/s.txt", 200, "stop\n")
    expect("/actions/keep.txt", 200, "keep\n")
    expect("/actions/Lower/ABC", 307,
           location="/actions/abc?e=ABC+%26&d=a/b&s=a%20b")
    expect("/actions/track/x?a=one", 303, location="/t/x/one/two",
           headers={"X-B": "two"})
    expect("/actions/exact.html?q=1", 200, "TARGET\n")
    expect("/actions/anything-else", 200, "TARGET\n")
    # a rule that matches its own result is applied once, as IIS's (rules
    # run once per request): no loop
    expect("/actions/loop/x.txt", 200, "LOOPED ONCE\n")
    # AbortRequest: the connection closes without a response
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(b"GET /actions/abort HTTP/1.1\r\nHost: a.test\r\n\r\n")
    check(s.recv(100) == b"", "AbortRequest sent a response")
    s.close()

    # a Rewrite to an absolute URL is a proxy's (ARR): without one, 404.4
    r = expect("/actions/proxy/x", 404)
    check(r.header("X-Wasp-Substatus") == "4", "proxy rewrite %r" % r.headers)

    # request filtering sees the rewritten URL: web.config is not served
    r = expect("/actions/cfg", 404)
    check(r.header("X-Wasp-Substatus") == "8", "hidden segment %r" % r.headers)

    # inherited rules, cleared in a child directory's web.config
    expect("/actions/sub/s.txt", 200, "sub\n")
    expect("/actions/sub/none.txt", 404)

    # a server variable allowedServerVariables does not list: 500.50
    expect("/vars/v.txt", 500)

    # a pattern that does not compile: 500.50 for every request there
    expect("/bad/b.txt", 500)
    # a catastrophic pattern stops at PCRE2's limits: 500.50, and the worker serves on
    expect("/cat/" + "a" * 40 + "b", 500)
    expect("/cat/c.txt", 200, "c\n")
    # more rules than a section may hold: 500.50, never served without them
    r = expect("/many/m.txt", 500)
    check(r.header("X-Wasp-Substatus") == "50", "too many rules %r" % r.headers)



wasptest.main(test)
