"""A configuration reload that brings the first tcp binding starts wasp-tcp
(waspd binds the socket and gives it to the new adapter); HTTP is not
interrupted."""
import os
import socket
import wasptest
from wasptest import check, wait_until
from test_tcp_lifecycle import LOCATION, content, echo, http_site


def test(t):
    tport = wasptest.free_port()
    srv = t.server(
        pools={"T": {}, "H": {}},
        sites=[http_site(t),
               {"name": "T", "id": 2, "bindings": ["127.0.0.1:{port}:t.test"],
                "apps": [{"path": "/", "pool": "T", "physicalPath": content(t, "T"),
                          "attrs": {"enabledProtocols": "http,tcp"}}]}])
    srv.config_text = srv.config_text.replace("</configuration>",
                                              LOCATION % "T" + "</configuration>")
    srv.start()
    check(srv.children("wasp-tcp") == [], "wasp-tcp runs without a tcp binding")
    http_lsn = srv.listener_pids()
    r = srv.get("/index.html", host="t.test")
    check(r.status == 200 and r.body == b"pool T\n", "T over HTTP: %r" % r)

    old = 'bindingInformation="127.0.0.1:%d:t.test"' % srv.port
    check(old in srv.config_text, "binding not in the configuration")
    text = srv.config_text.replace(
        '<binding protocol="http" ' + old,
        '<binding protocol="tcp" bindingInformation="127.0.0.1:%d:"' % tport)
    with open(srv.config_path, "w") as f:
        f.write(text)
    srv.waspctl("reload")
    wait_until(lambda: srv.children("wasp-tcp"), what="wasp-tcp started by the reload")

    def echo_ok():
        try:
            with socket.create_connection(("127.0.0.1", tport), timeout=5) as c:
                return echo(c, b"hi") == b"hi"
        except OSError:
            return False
    wait_until(echo_ok, what="echo through wasp-tcp after the reload")
    r = srv.get("/index.html", host="h.test")
    check(r.status == 200 and r.body == b"pool H\n", "HTTP after the reload: %r" % r)
    check(srv.listener_pids() == http_lsn, "wasp-http restarted by the reload")


wasptest.main(test)
