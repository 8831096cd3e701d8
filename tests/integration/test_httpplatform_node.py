"""httpPlatform with a Node backend: it gets HTTP_PLATFORM_PORT and sees
the method, the target, the body and the forwarding fields."""
import json

import hptest
import wasptest
from wasptest import check


def test(t):
    node, js = hptest.node_backend(t)
    xml = hptest.web_server_xml("httpPlatform", node, js)
    srv = wasptest.Server(t, pools={"B": {}}, web_server_xml=xml)
    srv.start()
    r = srv.get("/hello?a=b", pool="B", method="POST", body=b"abc",
                headers={"Content-Type": "text/plain"})
    check(r.status == 200, "node %r %r" % (r, r.body[:300]))
    j = json.loads(r.body)
    check(j["url"] == "/hello?a=b" and j["method"] == "POST" and j["received"] == 3,
          "node saw %r" % j)
    check(j["headers"].get("x-forwarded-proto") == "http" and
          j["headers"].get("x-forwarded-for", "").startswith("127.0.0.1:"), "node %r" % j)


wasptest.main(test)
