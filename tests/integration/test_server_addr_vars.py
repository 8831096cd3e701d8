"""The connection's addresses as server variables: LOCAL_ADDR,
REMOTE_ADDR (and REMOTE_HOST), SERVER_PORT and REMOTE_PORT of an IPv4 and,
where the machine has it, an IPv6 connection, on the first request of a
connection and on the next one of the same keep-alive connection (the
worker makes the text once per connection)."""
import socket

import wasptest
from wasptest import check


def has_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def get_vars(port, address, family, names):
    """Each variable's value, asked on one keep-alive connection; and the
    client's own port."""
    out = {}
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect((address, port))
        f = s.makefile("rb")
        for name in names:
            s.sendall(("GET /__wasp_test/var/%s HTTP/1.1\r\nHost: a.test\r\n\r\n"
                       % name).encode())
            status, headers = wasptest.read_response_head(f)
            check(status.startswith(b"HTTP/1.1 200"), "%s: %r" % (name, status))
            out[name] = f.read(int(headers.get("content-length", "0"))).decode()
        return out, s.getsockname()[1]


def expect(port, address, family, shown):
    names = ["REMOTE_ADDR", "LOCAL_ADDR", "REMOTE_HOST", "SERVER_PORT", "REMOTE_PORT",
             "REMOTE_ADDR", "LOCAL_ADDR"]
    got, client_port = get_vars(port, address, family, names)
    want = {"REMOTE_ADDR": shown, "LOCAL_ADDR": shown, "REMOTE_HOST": shown,
            "SERVER_PORT": str(port), "REMOTE_PORT": str(client_port)}
    for name in names:
        check(got[name] == "%s=%s" % (name, want[name]),
              "%s over %s: %r, expected %r" % (name, address, got[name], want[name]))


def test(t):
    v6 = has_ipv6_loopback()
    bindings = ["127.0.0.1:{port}:a.test"] + (["[::1]:{port}:a.test"] if v6 else [])
    srv = t.server({"A": {}}, sites=[{
        "name": "A", "id": 1, "bindings": bindings,
        "apps": [{"path": "/", "pool": "A", "physicalPath": t.dir}],
    }])
    srv.start()
    expect(srv.port, "127.0.0.1", socket.AF_INET, "127.0.0.1")
    if v6:
        expect(srv.port, "::1", socket.AF_INET6, "::1")
    else:
        wasptest.log("no IPv6 loopback: the IPv6 half is not run")


if __name__ == "__main__":
    wasptest.main(test)
