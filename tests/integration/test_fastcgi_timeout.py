"""requestTimeout ends a FastCGI request that runs too long and kills its
process: before the response head the client gets 500 (the page says
requestTimeout), after it the connection is cut. activityTimeout (30 s)
does not come first."""
import os
import re
import threading
import time

import fcgitest
import wasptest
from wasptest import check

HANG = "<?php echo getmypid(); if (isset($_GET['head'])) flush(); else ob_start(); sleep(60);\n"


def test(t):
    php = fcgitest.php_cgi()
    xml = fcgitest.web_server_xml(php, app_attrs={"requestTimeout": 10, "maxInstances": 2},
                                  arguments="-d output_buffering=0")
    srv = wasptest.Server(t, pools={"A": {}}, web_server_xml=xml)
    fcgitest.write_php(srv, "A", "hang.php", HANG)
    srv.start()
    host = srv.host("A")
    cut = {}

    def streamed():
        cut["data"] = fcgitest.raw_get(srv.port, "/hang.php?head=1", host)

    th = threading.Thread(target=streamed)
    th.start()
    start = time.monotonic()
    r = wasptest.http_request(srv.port, "/hang.php", host=host, timeout=30)
    took = time.monotonic() - start
    check(r.status == 500 and b"requestTimeout" in r.body, "%r %r" % (r, r.body[:400]))
    check(9 <= took < 20, "answered after %.1f s" % took)
    th.join(30)
    data = cut.get("data", b"")
    check(data.startswith(b"HTTP/1.1 200") and not data.endswith(b"0\r\n\r\n"),
          "after the head: %r" % data[-80:])
    pids = [int(m) for m in re.findall(r"FastCGI process (\d+) of .*: the request exceeded "
                                       r"requestTimeout", srv.read_log())]
    check(len(pids) == 2, "log %r" % pids)
    for pid in pids:
        wasptest.wait_until(lambda: not os.path.exists("/proc/%d" % pid),
                            what="php-cgi %d killed" % pid)


wasptest.main(test)
