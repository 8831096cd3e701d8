"""FastCGI requests beyond maxInstances wait in the application's queue
(queueLength); one more gets IIS's 503.4 ("FastCGI queue full"). The
queued request is served once the process is free."""
import os
import threading

import fcgitest
import wasptest
from wasptest import check

SLOW = """<?php
touch($_GET['mark']);
while (!file_exists($_GET['go'])) usleep(10000);
echo 'done ', getmypid();
"""


def test(t):
    php = fcgitest.php_cgi()
    xml = fcgitest.web_server_xml(php, app_attrs={"maxInstances": 1, "queueLength": 1})
    srv = wasptest.Server(t, pools={"A": {}}, web_server_xml=xml)
    fcgitest.write_php(srv, "A", "slow.php", SLOW)
    marks = os.path.join(t.dir, "marks")
    os.makedirs(marks)
    os.chmod(t.dir, 0o755)
    os.chmod(marks, 0o777)
    srv.start()
    host = srv.host("A")
    results = {}

    def get(name):
        results[name] = wasptest.http_request(
            srv.port, "/slow.php?mark=%s/%s&go=%s/go" % (marks, name, marks), host=host,
            timeout=30)

    a = threading.Thread(target=get, args=("a",))
    a.start()
    wasptest.wait_until(lambda: os.path.exists(os.path.join(marks, "a")), what="a running")
    b = threading.Thread(target=get, args=("b",))
    b.start()
    srv.wait_log("a request waits for a process of '%s' (1 waiting)" % php)
    r = wasptest.http_request(srv.port, "/slow.php?mark=%s/c&go=%s/go" % (marks, marks),
                              host=host)
    check(r.status == 503 and b"503.4" in r.body, "queue full: %r %r" % (r, r.body[:400]))
    check(not os.path.exists(os.path.join(marks, "c")), "the refused request ran")
    with open(os.path.join(marks, "go"), "w"):
        pass
    a.join(30)
    b.join(30)
    for name in ("a", "b"):
        check(results[name].status == 200 and results[name].body.startswith(b"done "),
              "%s: %r" % (name, results[name]))


wasptest.main(test)
