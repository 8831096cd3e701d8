"""bench/run's URL Rewrite scenarios (docs/performance.md).

- 200 rules: a web.config of 200 inbound rules, none matching the request
  but the last, which rewrites it to a static 4 KiB file; the same file
  requested by its own name there (the 200 rules run, none matches); and
  the same file in a directory without rules, in the same wasp worker (the
  ratios are the rules' cost), nginx serving the file as the reference.
- An outbound body rule (A and Img links to a backend's absolute URLs, under
  a text/html preCondition) on a 3 KiB page of 40 links, against the same
  page without rules (sent with sendfile and Content-Length).
- WordPress front controller, without PHP on both sides: wasp with
  WordPress's web.config rule (Wildcard *, not a file nor a directory ->
  index.php) against nginx's `try_files $uri $uri/ /wp/index.php?$args;`,
  index.php served as a static file by both, so the comparison is the front
  controller's routing and not PHP. Two requests: a pretty permalink the
  rule rewrites, and a real file (style.css) the rule lets through.
"""
import os
import statistics

N_RULES = 200

WP_RULE = """<configuration><system.webServer>
<staticContent><mimeMap fileExtension=".php" mimeType="text/plain" />
<mimeMap fileExtension=".css" mimeType="text/css" /></staticContent>
<rewrite><rules>
  <rule name="WordPress: wp" patternSyntax="Wildcard">
    <match url="*" />
    <conditions>
      <add input="{REQUEST_FILENAME}" matchType="IsFile" negate="true" />
      <add input="{REQUEST_FILENAME}" matchType="IsDirectory" negate="true" />
    </conditions>
    <action type="Rewrite" url="index.php" />
  </rule>
</rules></rewrite></system.webServer></configuration>
"""


OUTBOUND = """<configuration><system.webServer><rewrite><outboundRules>
  <preConditions>
    <preCondition name="IsHTML"><add input="{RESPONSE_CONTENT_TYPE}" pattern="^text/html" /></preCondition>
  </preConditions>
  <rule name="links" preCondition="IsHTML">
    <match filterByTags="A, Img" pattern="^http://backend\\.internal/(.*)" />
    <action type="Rewrite" value="/{R:1}" />
  </rule>
</outboundRules></rewrite></system.webServer></configuration>
"""


def html_page():
    """About 3 KiB of HTML with 40 links, half of them to the backend."""
    links = "".join('<li><a href="%s/p/%d">page %d</a> <img src="/i/%d.png"></li>\n'
                    % ("http://backend.internal" if i % 2 else "", i, i, i) for i in range(40))
    return ("<html><head><title>t</title></head><body><ul>\n%s</ul></body></html>\n"
            % links).encode()


def rules_config(n):
    rules = []
    for i in range(n - 1):
        rules.append(f'<rule name="section {i}" stopProcessing="true">'
                     f'<match url="^section{i}/([0-9]+)/(.*)$" />'
                     f'<action type="Rewrite" url="pages/{{R:2}}?id={{R:1}}" /></rule>')
    rules.append('<rule name="alias" stopProcessing="true"><match url="^alias\\.html$" />'
                 '<action type="Rewrite" url="4k.html" /></rule>')
    return ("<configuration><system.webServer><rewrite><rules>%s</rules></rewrite>"
            "</system.webServer></configuration>\n" % "".join(rules))


def make_content(root):
    x4k = b"x" * 4096
    for d, files in (("plain", {"4k.html": x4k, "page.html": html_page()}),
                     ("out", {"page.html": html_page(), "web.config": OUTBOUND.encode()}),
                     ("rules", {"4k.html": x4k, "web.config": rules_config(N_RULES).encode()}),
                     ("wp", {"index.php": b"x" * 1024, "style.css": b"y" * 1024,
                             "web.config": WP_RULE.encode()})):
        os.makedirs(os.path.join(root, d), exist_ok=True)
        os.chmod(os.path.join(root, d), 0o755)
        for name, data in files.items():
            with open(os.path.join(root, d, name), "wb") as f:
                f.write(data)


def nginx_conf(tmp, port, root):
    conf = os.path.join(tmp, "nginx-rewrite.conf")
    with open(conf, "w") as f:
        f.write(f"""worker_processes 1;
daemon off;
pid {tmp}/nginx-rewrite.pid;
error_log {tmp}/nginx-rewrite-error.log;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    types {{ text/html html; text/plain php; text/css css; }}
    client_body_temp_path {tmp}/cbt; proxy_temp_path {tmp}/pt;
    fastcgi_temp_path {tmp}/ft; uwsgi_temp_path {tmp}/ut; scgi_temp_path {tmp}/st;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location /wp/ {{ try_files $uri $uri/ /wp/index.php?$args; }}
    }}
}}
""")
    return conf


def scenario_rewrite(args, tmp, root, results, h):
    """h: bench/run's module (Server, measure, wasp_conf, ...)."""
    root = os.path.join(tmp, "www-rewrite")
    make_content(root)
    port_n, port_w = h.free_port(), h.free_port()
    nginx = h.Server("nginx", ["nginx", "-c", nginx_conf(tmp, port_n, root)], port_n)
    rundir = os.path.join(tmp, "run-rewrite")
    os.makedirs(rundir, exist_ok=True)
    conf = h.wasp_conf(tmp, port_w, root)
    wasp = h.Server("wasp", h.waspd_argv(conf, rundir), port_w)
    try:
        # every URL answers 200 on both before measuring
        for srv_port in (port_w, port_n):
            for path in ("/plain/4k.html", "/wp/2024/01/hello-world/", "/wp/style.css"):
                status = h.http_get(srv_port, path)
                if status != 200:
                    raise RuntimeError(f"{path} on port {srv_port}: {status}")
        for path in ("/rules/alias.html", "/out/page.html"):
            if h.http_get(port_w, path) != 200:
                raise RuntimeError(f"{path}: not 200")
        cases = [
            # name, [(label, server, port, path)]
            (f"rewrite: {N_RULES} rules, the last matching (4 KiB file)",
             [("nginx", nginx, port_n, "/plain/4k.html"),
              ("wasp_no_rules", wasp, port_w, "/plain/4k.html"),
              ("wasp_none_match", wasp, port_w, "/rules/4k.html"),
              ("wasp", wasp, port_w, "/rules/alias.html")]),
            ("rewrite: outbound body rule on a 3 KiB HTML page (40 links)",
             [("nginx", nginx, port_n, "/plain/page.html"),
              ("wasp_no_rules", wasp, port_w, "/plain/page.html"),
              ("wasp", wasp, port_w, "/out/page.html")]),
            ("rewrite: WordPress front controller, permalink (no PHP)",
             [("nginx", nginx, port_n, "/wp/2024/01/hello-world/"),
              ("wasp", wasp, port_w, "/wp/2024/01/hello-world/")]),
            ("rewrite: WordPress front controller, a real file (no PHP)",
             [("nginx", nginx, port_n, "/wp/style.css"),
              ("wasp", wasp, port_w, "/wp/style.css")]),
        ]
        for name, sides in cases:
            per = {label: [] for label, _, _, _ in sides}
            for _ in range(args.runs):
                for label, srv, port, path in sides:
                    per[label].append(h.measure(srv, port, path, args.duration))
            row = {"scenario": name}
            for label in per:
                row[label] = {
                    "rps": statistics.median(r["rps"] for r in per[label]),
                    "cpu_us_per_req": statistics.median(r["cpu_us_per_req"] for r in per[label]),
                    "errors": sum(r["errors"] for r in per[label]),
                }
            row["ratio"] = row["wasp"]["cpu_us_per_req"] / row["nginx"]["cpu_us_per_req"]
            text = " | ".join(f"{label} {row[label]['cpu_us_per_req']:.2f} us/req "
                              f"{row[label]['rps']:.0f} req/s" for label in per)
            if "wasp_no_rules" in row:
                row["ratio_to_no_rules"] = (row["wasp"]["cpu_us_per_req"] /
                                            row["wasp_no_rules"]["cpu_us_per_req"])
                text += f" | wasp/no rules {row['ratio_to_no_rules']:.2f}"
            if "wasp_none_match" in row:
                row["none_match_to_no_rules"] = (row["wasp_none_match"]["cpu_us_per_req"] /
                                                 row["wasp_no_rules"]["cpu_us_per_req"])
                text += f", none matching/no rules {row['none_match_to_no_rules']:.2f}"
            results.append(row)
            h.log(f"{name}: {text} | wasp/nginx {row['ratio']:.2f} | errors "
                  + " ".join(f"{label} {row[label]['errors']}" for label in per))
    finally:
        wasp.stop()
        nginx.stop()
