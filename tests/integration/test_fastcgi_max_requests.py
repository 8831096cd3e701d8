"""instanceMaxRequests turns FastCGI processes over under load with no
failed request: 4 clients make 60 requests to 2 processes that each serve
at most 3; php-cgi is told the same (PHP_FCGI_MAX_REQUESTS). A php-cgi told
to end itself sooner (environmentVariables) fails no request either: one
that closed before answering hands the request to another process."""
import collections
import threading

import fcgitest
import wasptest
from wasptest import check

PID = "<?php echo getmypid(), ' ', getenv('PHP_FCGI_MAX_REQUESTS');\n"


def test(t):
    php = fcgitest.php_cgi()
    xml = fcgitest.web_server_xml(php, app_attrs={"maxInstances": 2,
                                                  "instanceMaxRequests": 3})
    srv = wasptest.Server(t, pools={"A": {}}, web_server_xml=xml)
    fcgitest.write_php(srv, "A", "pid.php", PID)
    srv.start()
    host = srv.host("A")
    served = collections.Counter()
    failed = []
    lock = threading.Lock()

    def client():
        for _ in range(15):
            try:
                r = wasptest.http_request(srv.port, "/pid.php", host=host, timeout=30)
            except Exception as e:  # noqa: BLE001 - counted as a failure
                with lock:
                    failed.append(repr(e))
                continue
            with lock:
                if r.status != 200:
                    failed.append("%r %r" % (r, r.body[200:330]))
                else:
                    pid, limit = r.body.split()
                    check(limit == b"3", "PHP_FCGI_MAX_REQUESTS %r" % limit)
                    served[int(pid)] += 1

    threads = [threading.Thread(target=client) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    check(not failed, "failed requests: %r %r %s" % (failed[:5], served, "\n".join(l for l in srv.read_log().splitlines() if "FastCGI" in l)))
    check(sum(served.values()) == 60, "served %d" % sum(served.values()))
    check(max(served.values()) <= 3, "a process served more than 3: %r" % served)
    check(len(served) >= 20, "only %d processes for 60 requests" % len(served))

    # php-cgi told to end itself sooner than instanceMaxRequests (the
    # environmentVariables set PHP_FCGI_MAX_REQUESTS=2): a request given to
    # one that has just ended goes to another, no request fails
    xml = fcgitest.web_server_xml(php, app_attrs={"maxInstances": 1},
                                  env={"PHP_FCGI_MAX_REQUESTS": "2"})
    srv.stop()
    srv2 = wasptest.Server(t, pools={"B": {}}, web_server_xml=xml)
    fcgitest.write_php(srv2, "B", "pid.php", PID)
    srv2.start()
    pids = set()
    for _ in range(12):
        r = srv2.get("/pid.php", pool="B")
        check(r.status == 200, "%r %r" % (r, r.body[200:400]))
        pid, limit = r.body.split()
        check(limit == b"2", "PHP_FCGI_MAX_REQUESTS %r" % limit)
        pids.add(pid)
    check(len(pids) >= 6, "%d processes for 12 requests" % len(pids))


wasptest.main(test)
