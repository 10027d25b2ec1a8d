"""Dead container addresses on the cluster: Traefik's fallback route and the frontend's nginx.

The route is checked in every rendered overlay; the nginx configuration is run by a real nginx
(Debian's nginx-light, as `make bootstrap-test` installs it) over the real frontend build.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deploy.manifests import DEPLOY_DIR
from functions.worker import builders
from functions.worker.settings import WorkerSettings
from shared.records import Record
from shared.settings import SiteSettings
from tests.deploy.support import config_data, of_kind, one, rendered
from tests.deploy.test_deploy_render import OVERLAYS

NGINX_CONF = DEPLOY_DIR / "images" / "frontend" / "nginx.conf"
DIST = Path(__file__).resolve().parents[2] / "frontend" / "dist"
HOST_REGEXP = re.compile(r"^HostRegexp\(`([^`]*)`\)$")


def fallback(overlay: str) -> tuple[dict[str, Any], re.Pattern[str]]:
    resources = rendered(overlay)
    route = one(resources, "IngressRoute", "sprout-addresses")
    (rule,) = route["spec"]["routes"]
    matched = HOST_REGEXP.match(rule["match"])
    assert matched, rule["match"]
    return rule, re.compile(matched.group(1))  # Go's RE2 and Python agree on this pattern


def traefik_ingress_priority(ingress: dict[str, Any]) -> int:
    """The priority Traefik's Ingress provider gives a rule of the worker's Ingress: no
    priority annotation, so the length of the rule it builds (Host and PathPrefix)."""
    assert "traefik.ingress.kubernetes.io/router.priority" not in ingress["metadata"].get(
        "annotations", {}
    )
    (rule,) = ingress["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    assert path["pathType"] == "Prefix"
    return len(f"Host(`{rule['host']}`) && PathPrefix(`{path['path']}`)")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_fallback_route_catches_every_containers_address_and_nothing_else(
    overlay: str,
) -> None:
    resources = rendered(overlay)
    domain = config_data(resources)["SPROUT_BASE_DOMAIN"]
    site = one(resources, "Certificate", "sprout-site")["spec"]["dnsNames"][0]
    _, hosts = fallback(overlay)
    for address in ("abcdefgh2345", "zzzzzzzzzzzz", "a2b3c4d5e6f7"):
        assert hosts.match(f"{address}.{domain}"), address
    others = (
        site,
        domain,
        f"abcdefgh2345.{domain}.evil.example",
        f"abcdefgh23456.{domain}",
        f"abcdefgh2341.{domain}",  # 1 is not in the ids' alphabet
        f"x.abcdefgh2345.{domain}",
    )
    for other in others:
        assert not hosts.match(other), other
    # Never the site's own routes, whatever their priority.
    for route in one(resources, "IngressRoute", "sprout")["spec"]["routes"]:
        assert not hosts.match(route["match"].split("`")[1])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_live_containers_ingress_wins_over_the_fallback(overlay: str) -> None:
    resources = rendered(overlay)
    domain = config_data(resources)["SPROUT_BASE_DOMAIN"]
    rule, hosts = fallback(overlay)
    record = Record.from_hash({"id": "abcdefgh2345", "expires_at": "1800003600"})
    site = SiteSettings(base_domain=domain)
    ingress: dict[str, Any] = builders.build_ingress(record, WorkerSettings(), site)
    assert ingress["spec"]["rules"][0]["host"] == site.container_host(record.id)
    assert hosts.match(site.container_host(record.id))  # both routes match its address ...
    assert rule["priority"] == 1 < traefik_ingress_priority(ingress)  # ... its own wins


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_fallback_route_leads_to_the_frontends_address_page(overlay: str) -> None:
    resources = rendered(overlay)
    domain = config_data(resources)["SPROUT_BASE_DOMAIN"]
    site = one(resources, "Certificate", "sprout-site")["spec"]["dnsNames"][0]
    route = one(resources, "IngressRoute", "sprout-addresses")
    rule, _ = fallback(overlay)
    namespace = route["metadata"]["namespace"]
    (service,) = rule["services"]
    frontend = one(resources, "Service", service["name"])
    assert service["name"] == "frontend" and frontend["metadata"]["namespace"] == namespace
    assert service["port"] in [port["port"] for port in frontend["spec"]["ports"]]
    assert route["spec"]["entryPoints"] == ["websecure"]
    middlewares = {
        m["metadata"]["name"]: m["spec"]
        for m in of_kind(resources, "Middleware")
        if m["metadata"]["namespace"] == namespace
    }
    names = [m["name"] for m in rule["middlewares"]]
    assert set(names) <= set(middlewares) and "security-headers" in names
    specs = [middlewares[name] for name in names]
    # nginx's `location /_address/` is where every path of a dead address goes ...
    assert {"addPrefix": {"prefix": "/_address"}} in specs
    # ... and its link back leads to the site: Traefik sets the header, a client cannot.
    assert {"headers": {"customRequestHeaders": {"X-Sprout-Site": site}}} in specs
    # TLS for the containers' domain from a certificate in the route's own namespace.
    certificates = [
        c
        for c in of_kind(resources, "Certificate")
        if c["metadata"]["namespace"] == namespace
        and c["spec"]["secretName"] == route["spec"]["tls"]["secretName"]
    ]
    assert [c["spec"]["dnsNames"] for c in certificates] == [[f"*.{domain}"]]


# nginx ------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The frontend image's nginx.conf, run by nginx over the built frontend. Only what a
    machine outside the image needs is moved: the port, the web root, the writable paths."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(binary).is_file(), "nginx is not installed: make bootstrap-test (nginx-light)"
    assert (DIST / "address.html").is_file(), "the frontend is not built: npm run build"
    home = tmp_path_factory.mktemp("nginx")
    port = free_port()
    conf = NGINX_CONF.read_text(encoding="utf-8")
    moved = (  # /tmp/ first: the checkout itself may live under /tmp
        conf.replace("/tmp/", f"{home}/")
        .replace("listen 8080;", f"listen 127.0.0.1:{port};")
        .replace("listen [::]:8080;", "")
        .replace("/usr/share/nginx/html", str(DIST))
        .replace("/dev/stdout", f"{home}/access.log")
        .replace("/dev/stderr", f"{home}/error.log")
    )
    assert moved.count(str(DIST)) == conf.count("/usr/share/nginx/html") >= 2
    if os.geteuid() == 0:
        # In the image nginx starts unprivileged and its workers stay that user. Started as
        # root, the workers would drop to `nobody`, who may not reach a checkout in a private
        # directory (mktemp -d): keep them the user who started it, as in the image.
        moved = f"user {pwd.getpwuid(0).pw_name};\n" + moved
    (home / "nginx.conf").write_text(moved)
    command = [binary, "-p", str(home), "-c", str(home / "nginx.conf")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen([*command, "-g", "daemon off;"], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "nginx did not start listening"
                time.sleep(0.02)  # polling for the port, not waiting a fixed time
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.communicate(timeout=10)  # waits, and closes its stderr pipe


def fetch(
    url: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


def test_nginx_answers_every_dead_address_404_with_the_address_page(nginx: str) -> None:
    site = {"X-Sprout-Site": "sprout.example.org"}
    for method, path in (("GET", "/_address/"), ("GET", "/_address/index.php?x=1"),
                         ("POST", "/_address/api/items")):  # fmt: skip
        status, headers, body = fetch(nginx + path, method, site)
        assert status == 404, (method, path)
        assert headers["Content-Type"].startswith("text/html")
        assert headers["Cache-Control"] == "no-store"
        page = body.decode()
        assert '<main data-case="ended"' in page  # the case naming both ends, not a guess
        assert 'data-site-link href="https://sprout.example.org/"' in page
    # Without Traefik's header (nginx reached some other way) the link stays on this host.
    _, _, body = fetch(nginx + "/_address/")
    assert 'data-site-link href="/"' in body.decode()


def test_nginx_serves_the_address_pages_stylesheet_through_the_same_route(nginx: str) -> None:
    _, _, body = fetch(nginx + "/_address/")
    (stylesheet,) = re.findall(r'<link rel="stylesheet" crossorigin href="(/assets/[^"]+)"',
                               body.decode())  # fmt: skip
    status, headers, css = fetch(nginx + "/_address" + stylesheet)
    assert status == 200 and headers["Content-Type"] == "text/css"
    assert css == (DIST / stylesheet.lstrip("/")).read_bytes()
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    status, _, _ = fetch(nginx + "/_address/assets/missing-123.css")
    assert status == 404


def test_nginx_keeps_the_address_page_off_the_site(nginx: str) -> None:
    status, _, body = fetch(nginx + "/address.html")
    assert status == 404 and b"data-case" not in body
    status, _, body = fetch(nginx + "/some/app/route")  # the SPA fallback is unchanged
    assert status == 200 and b'<div id="root">' in body
    status, _, body = fetch(nginx + "/healthz")
    assert status == 200 and body == b"ok\n"


def test_nginx_says_its_compressed_answers_vary_by_accept_encoding(nginx: str) -> None:
    """`gzip_vary on`: a shared cache keeps the gzip and plain forms apart."""
    index = (DIST / "index.html").read_bytes()
    status, headers, body = fetch(nginx + "/", headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert headers["Vary"] == "Accept-Encoding" and len(body) < len(index)
    status, headers, body = fetch(nginx + "/")
    assert "Content-Encoding" not in headers and headers["Vary"] == "Accept-Encoding"
    assert body == index
