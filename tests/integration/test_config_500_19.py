"""A configuration IIS would not accept answers 500.19, never the content:
each error class in a web.config at the site root and in a subdirectory
(not well-formed, lock, overrideMode Deny, allowDefinition, wrong-typed
value, unknown attribute, undeclared section), a missing physical path,
and sections wasp does not implement that would restrict or redirect
(authorization, ipSecurity, basicAuthentication), a DTD whose
entity thousands of attributes reference (refused in bounded time, the pool still serving), from a
web.config or applicationHost.config. Cosmetic sections (appSettings,
system.web, validation, urlCompression) and such sections at their
defaults are still served. A
web.config fixed while the server runs is served again after the
revalidation interval; the detailed page (local client) names the file,
the line, the error and IIS's code."""
import os
import time
import wasptest
from wasptest import check, wait_until, replace_file

WC = "<configuration>\n<system.webServer>\n%s\n</system.webServer>\n</configuration>\n"

# A DTD entity of 4 KB referenced in thousands of attributes: each within
# libxml2's own amplification limits, together about 120 MB to expand
ENTITIES = ("<?xml version=\"1.0\"?>\n<!DOCTYPE configuration [\n<!ENTITY e \"%s\">\n]>\n"
            "<configuration><system.webServer><staticContent>%s"
            "</staticContent></system.webServer></configuration>\n"
            % ("A" * 4000, "".join("<mimeMap fileExtension=\".x%d\" mimeType=\"%s\" />"
                                   % (i, "&e;" * 10) for i in range(3000))))

# class -> (web.config text, IIS error code)
ERRORS = {
    "malformed": ("<configuration>\n<system.webServer>\n<directoryBrowse enabled=\"true\">\n"
                  "</system.webServer>\n", "0x8007000d"),
    "lock": (WC % "<directoryBrowse enabled=\"true\" />", "0x80070021"),
    "override": (WC % "<defaultDocument enabled=\"false\" />", "0x80070021"),
    # Kanboard's data/web.config: handlers are locked (overrideModeDefault Deny)
    "kanboard": (WC % "<handlers accessPolicy=\"None\" />", "0x80070021"),
    "allowdef": (WC % "<globalModules><add name=\"x\" image=\"/x.so\" /></globalModules>",
                 "0x80070021"),
    "type": (WC % "<directoryBrowse showFlags=\"Sometimes\" />", "0x8007000d"),
    "unknownattr": (WC % "<staticContent color=\"blue\" />", "0x8007000d"),
    "undeclared": (WC % "<frobnicate enabled=\"true\" />", "0x8007000d"),
    "authorization": (WC % ("<security><authorization><add accessType=\"Deny\" users=\"?\" />"
                            "</authorization></security>"), "0x8007000d"),
    # a DTD with an entity referenced in thousands of attributes
    "entities": (ENTITIES, "0x8007000d"),
}

SERVED = {
    # cosmetic: warnings only
    "cosmetic": ("<configuration>\n<appSettings><add key=\"a\" value=\"b\" /></appSettings>\n"
                 "<system.web><compilation debug=\"true\" /></system.web>\n"
                 "</configuration>\n"),
    # IIS's own default rule changes nothing
    "allowall": WC % ("<security><authorization><add accessType=\"Allow\" users=\"*\" />"
                      "</authorization></security>"),
    "norules": WC % "<rewrite><outboundRules /></rewrite>",
    # outbound rules are implemented (test_mod_rewrite_outbound)
    "rewrite": WC % ("<rewrite><outboundRules><rule name=\"all\">"
                     "<match serverVariable=\"RESPONSE_Server\" pattern=\".*\" />"
                     "<action type=\"Rewrite\" value=\"x\" /></rule>"
                     "</outboundRules></rewrite>"),
}

APPHOST_XML = """
    <directoryBrowse lockAttributes="enabled" />
  </system.webServer>
  <location path="A" overrideMode="Deny">
    <system.webServer>
      <defaultDocument />
    </system.webServer>
  </location>
  <location path="A/c_custom">
    <system.webServer>
      <httpErrors errorMode="Custom" />
    </system.webServer>
  </location>
  <location path="A/s_ip">
    <system.webServer>
      <security><ipSecurity allowUnlisted="false" /></security>
    </system.webServer>
  </location>
  <location path="A/s_basic">
    <system.webServer>
      <security><authentication><basicAuthentication enabled="true" /></authentication></security>
    </system.webServer>
  </location>
  <location path="A/s_inert">
    <system.webServer>
      <security>
        <authentication>
          <anonymousAuthentication enabled="true" />
          <basicAuthentication enabled="false" />
        </authentication>
        <access sslFlags="None" />
        <ipSecurity allowUnlisted="true" />
      </security>
    </system.webServer>
  </location>
  <system.webServer>"""


def subdir(content, name, web_config=None):
    d = os.path.join(content, name)
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    replace_file(os.path.join(d, "index.html"), "%s\n" % name)
    if web_config is not None:
        replace_file(os.path.join(d, "web.config"), web_config)
    return d


def is_500_19(r):
    return r.status == 500 and b"500.19" in r.body


def test(t):
    srv = t.server(pools={"A": {}}, web_server_xml=APPHOST_XML)
    content = srv.content_dir("A")
    missing = os.path.join(t.dir, "does-not-exist")
    srv.sites[0]["apps"].append({"path": "/gone", "pool": "A", "physicalPath": missing})
    srv.sites.append({"name": "Gone", "id": 9,
                      "bindings": ["127.0.0.1:%d:gone.test" % srv.port],
                      "apps": [{"path": "/", "pool": "A", "physicalPath": missing}]})
    srv.config_text = wasptest.config_xml([{"name": "A"}], srv.sites, None, APPHOST_XML)
    for name, (text, _) in ERRORS.items():
        subdir(content, "c_" + name, text)
    for name, text in SERVED.items():
        subdir(content, "ok_" + name, text)
    for name in ("s_ip", "s_basic", "s_inert"):
        subdir(content, name)
    custom_wc = os.path.join(subdir(content, "c_custom"), "web.config")
    replace_file(custom_wc, WC % "<directoryBrowse showFlags=\"Sometimes\" />")
    # the application root's web.config: its warnings are logged too, once
    root_wc = os.path.join(content, "web.config")
    replace_file(root_wc, "<configuration>\n<system.web><compilation debug=\"true\" /></system.web>\n"
          "<system.webServer><validation validateIntegratedModeConfiguration=\"false\" />"
          "<urlCompression doStaticCompression=\"true\" /></system.webServer>\n"
          "</configuration>\n")
    srv.start()

    r = srv.get("/index.html", pool="A")
    check(r.status == 200, "the site root %r %r" % (r, r.body))
    for _ in range(3):
        srv.get("/ok_cosmetic/index.html", pool="A")
    warning = "%s:2: <system.web> is not implemented" % root_wc
    srv.wait_log(warning)
    check(srv.read_log().count(warning) == 1, "the root's warning:\n" + srv.read_log())
    # each error class in a subdirectory: that directory only
    for name, (_, code) in ERRORS.items():
        r = srv.get("/c_%s/index.html" % name, pool="A")
        check(is_500_19(r), "%s in a subdirectory: %r %r" % (name, r, r.body))
        check(code.encode() in r.body, "%s: no %s in %r" % (name, code, r.body))
        wc = os.path.join(content, "c_" + name, "web.config")
        check(wc.encode() in r.body, "%s: the page does not name %s" % (name, wc))
    # the entity web.config costs no more than any other error (IIS's files
    # have no use for a DTD: refused before anything is expanded), and the
    # pool keeps serving
    start = time.monotonic()
    r = srv.get("/c_entities/index.html", pool="A")
    took = time.monotonic() - start
    check(is_500_19(r) and b"DOCTYPE" in r.body and took < 5.0,
          "entities: %r in %.1f s %r" % (r, took, r.body[:2000]))
    check(srv.get("/index.html", pool="A").status == 200, "the pool after the entities")
    r = srv.get("/c_malformed/index.html", pool="A")
    check(b"Config Error" in r.body and b"not well-formed" in r.body, "detail %r" % r.body)
    r = srv.get("/c_lock/", pool="A")
    check(is_500_19(r) and b"locked" in r.body, "lock detail %r" % r.body)
    # errorMode Custom: the short page, nothing about the server
    r = srv.get("/c_custom/index.html", pool="A")
    check(r.status == 500 and custom_wc.encode() not in r.body and b"500.19" not in r.body
          and b"Config" not in r.body, "custom page %r %r" % (r, r.body))
    # applicationHost.config's sections that apply to a path
    for name, section in (("s_ip", b"ipSecurity"), ("s_basic", b"basicAuthentication")):
        r = srv.get("/%s/index.html" % name, pool="A")
        check(is_500_19(r) and section in r.body, "%s: %r %r" % (name, r, r.body))
    r = srv.get("/s_inert/index.html", pool="A")
    check(r.status == 200 and r.body == b"s_inert\n", "inert sections %r %r" % (r, r.body))
    for name in SERVED:
        r = srv.get("/ok_%s/index.html" % name, pool="A")
        check(r.status == 200 and r.body == ("ok_%s\n" % name).encode(),
              "%s: %r %r" % (name, r, r.body))
    # a missing physical path: a virtual directory, and a site's root
    r = srv.get("/gone/index.html", pool="A")
    check(is_500_19(r) and b"0x80070003" in r.body, "missing vdir path %r %r" % (r, r.body))
    r = srv.get("/index.html", host="gone.test")
    check(is_500_19(r) and b"0x80070003" in r.body, "missing site path %r %r" % (r, r.body))
    check(srv.get("/index.html", pool="A").status == 200, "the root after the subdirectories")

    # each class at the site root: every request of the site, until fixed
    for name, (text, code) in ERRORS.items():
        replace_file(root_wc, text)
        wait_until(lambda: is_500_19(srv.get("/index.html", pool="A")), 10,
                   what="%s at the site root to answer 500.19" % name)
        # each cached path re-checks on its own one-second clock
        wait_until(lambda: is_500_19(srv.get("/ok_cosmetic/index.html", pool="A")), 10,
                   what="%s at the site root to answer 500.19 below it" % name)
        r = srv.get("/ok_cosmetic/index.html", pool="A")
        check(code.encode() in r.body, "%s below the root %r" % (name, r.body))
        # fixed while running: served again after the revalidation interval
        replace_file(root_wc, WC % "<directoryBrowse showFlags=\"Date\" />")
        wait_until(lambda: srv.get("/index.html", pool="A").status == 200, 10,
                   what="the fixed root web.config (%s) to be served" % name)
    r = srv.get("/index.html", pool="A")
    check(r.body == b"pool A\n", "after the fixes %r %r" % (r, r.body))

    # a subdirectory fixed while running
    replace_file(os.path.join(content, "c_type", "web.config"), WC % "<directoryBrowse />")
    wait_until(lambda: srv.get("/c_type/index.html", pool="A").status == 200, 10,
               what="the fixed subdirectory web.config to be served")
    # logged once per change of the file, not per request
    marker = os.path.join(content, "c_unknownattr", "web.config") + ":"
    for _ in range(3):
        srv.get("/c_unknownattr/index.html", pool="A")
    n = srv.read_log().count(marker)
    check(n == 1, "the unknown attribute was reported %d times" % n)


wasptest.main(test)
