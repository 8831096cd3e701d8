"""The built-in <modules> list names every module (as IIS's server-level
list names every module installed), and a web.config's <modules> changes
it entry by entry, served through a worker, in sites whose <location>
unlocks the section:
- <remove name="WebDAVModule"/> (no wasp module: nothing to remove) keeps
  every module: static files and the default document are served, request
  filtering still hides App_Data and web.config (404.8);
- <remove name="DefaultDocumentModule"/> takes that one out: "/" no longer
  answers with the default document, /index.html still is served;
- <clear/> leaves no module: nothing is served (404);
- <add> of an unknown name adds it to the list (the others still run);
- where the section is not unlocked (overrideModeDefault Deny), the same
  web.config is a configuration error (500.19)."""
import os
import wasptest
from wasptest import check, write_content


def modules(body):
    return ("<configuration><system.webServer><modules>%s</modules>"
            "</system.webServer></configuration>\n" % body)


def sub(r):
    return r.header("X-Wasp-Substatus", "0")


UNLOCKED = ("A", "B", "C", "D")


def test(t):
    locations = "".join(
        """
  <location path="%s" overrideMode="Allow">
    <system.webServer><modules /></system.webServer>
  </location>""" % name for name in UNLOCKED)
    srv = t.server(pools={name: {} for name in UNLOCKED + ("E",)},
                   web_server_xml="  </system.webServer>%s\n  <system.webServer>" % locations)
    webconfigs = {
        "A": modules("<remove name=\"WebDAVModule\" />"),
        "B": modules("<remove name=\"DefaultDocumentModule\" />"),
        "C": modules("<clear />"),
        "D": modules("<add name=\"NoSuchModule\" />"),
        "E": modules("<remove name=\"WebDAVModule\" />"),
    }
    for name, text in webconfigs.items():
        content = srv.content_dir(name)
        write_content(os.path.join(content, "web.config"), text)
        write_content(os.path.join(content, "index.html"), "index %s\n" % name)
        write_content(os.path.join(content, "App_Data", "x"), "secret\n")
    srv.start()

    # a <remove> of a name not in the list: every module still runs
    for name in ("A", "D"):
        r = srv.get("/index.html", pool=name)
        check(r.status == 200 and r.body == ("index %s\n" % name).encode(),
              "%s: /index.html %r" % (name, r))
        r = srv.get("/", pool=name)
        check(r.status == 200 and r.body == ("index %s\n" % name).encode(),
              "%s: default document %r" % (name, r))
        for p in ("/App_Data/x", "/web.config"):
            r = srv.get(p, pool=name)
            check(r.status == 404 and sub(r) == "8" and b"secret" not in r.body
                  and b"<configuration>" not in r.body,
                  "%s: %s %r sub %s" % (name, p, r, sub(r)))

    # DefaultDocumentModule removed: the others run
    r = srv.get("/index.html", pool="B")
    check(r.status == 200 and r.body == b"index B\n", "B: /index.html %r" % r)
    r = srv.get("/", pool="B")
    check(r.status != 200 and b"index B" not in r.body,
          "B: default document without DefaultDocumentModule %r %r" % (r, r.body))
    r = srv.get("/App_Data/x", pool="B")
    check(r.status == 404 and sub(r) == "8", "B: App_Data %r sub %s" % (r, sub(r)))

    # <clear/>: no module, nothing served
    for p in ("/index.html", "/", "/App_Data/x"):
        r = srv.get(p, pool="C")
        check(r.status == 404 and b"index C" not in r.body and b"secret" not in r.body,
              "C: %s with no module %r" % (p, r))

    # locked (the default): a configuration error, not served
    r = srv.get("/index.html", pool="E")
    check(r.status == 500 and sub(r) == "19" and b"index E" not in r.body,
          "E: <modules> where it is locked %r sub %s" % (r, sub(r)))


wasptest.main(test)
