"""The local gateway routes like Traefik, sets X-Real-Ip itself, and serves the page and the
address page of every container's address (with its case read from the record in Redis)."""

from __future__ import annotations

import gzip
import http.client
import json
import re
import shutil
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import redis

from deploy.local.gateway import Compression, Gateway, accepts_gzip
from deploy.local.redis_server import RedisServer
from shared import keys

DIST = Path(__file__).resolve().parents[2] / "frontend" / "dist"
ADDRESS = "abcdefgh2345.localhost:8080"  # a container's address, as the browser sends it


class Echo(BaseHTTPRequestHandler):
    """An upstream that answers with what it received."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.dumps(
            {
                "upstream": self.server.name,  # type: ignore[attr-defined]
                "method": self.command,
                "path": self.path,
                "headers": dict(self.headers.items()),
                "body": self.rfile.read(length).decode() if length else "",
            }
        ).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Set-Cookie", "a=b; HttpOnly")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_DELETE = do_GET

    def log_message(self, *args: object) -> None:
        pass


def serve(server: ThreadingHTTPServer) -> str:
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}"


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[str]:
    upstreams = {}
    servers = []
    for name in ("containers", "captcha"):
        server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
        server.name = name  # type: ignore[attr-defined]
        upstreams[name] = serve(server)
        servers.append(server)
    upstreams["gone"] = "http://127.0.0.1:1"
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<html>sprout</html>")
    (tmp_path / "assets" / "app-123.js").write_text("console.log(1)")
    (tmp_path / "assets" / "page-456.js").write_text("console.log('a page');\n" * 200)
    (tmp_path / "assets" / "logo-789.png").write_bytes(b"\x89PNG" + bytes(500))
    (tmp_path / "address.html").write_text(built_address_page())
    routes = [("/", "frontend"), ("/containers", "containers"), ("/captcha", "captcha"),
              ("/gone", "gone")]  # fmt: skip
    gateway = Gateway(("127.0.0.1", 0), routes, upstreams, tmp_path)
    url = serve(gateway)
    yield url
    gateway.shutdown()
    gateway.server_close()
    for server in servers:
        server.shutdown()
        server.server_close()


def fetch(url: str, method: str = "GET", headers: dict[str, str] | None = None,
          data: bytes | None = None) -> tuple[int, dict[str, str], bytes]:  # fmt: skip
    request = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


def test_longest_prefix_wins_and_the_path_is_kept(gateway: str) -> None:
    status, headers, body = fetch(gateway + "/containers/abc?x=1", "POST", data=b'{"a": 1}',
                                  headers={"Content-Type": "application/json"})  # fmt: skip
    seen = json.loads(body)
    assert status == 201 and seen["upstream"] == "containers"
    assert seen["path"] == "/containers/abc?x=1" and seen["body"] == '{"a": 1}'
    assert headers["Set-Cookie"] == "a=b; HttpOnly"
    assert json.loads(fetch(gateway + "/captcha/request", "POST", data=b"{}")[2])["upstream"] == (
        "captcha"
    )


def test_x_real_ip_is_set_by_the_gateway_not_the_client(gateway: str) -> None:
    spoof = {"X-Real-Ip": "198.51.100.1", "X-Forwarded-For": "198.51.100.2"}
    seen = json.loads(fetch(gateway + "/containers", headers=spoof)[2])["headers"]
    assert seen["X-Real-Ip"] == "127.0.0.1"
    assert seen["X-Forwarded-For"] == "198.51.100.2, 127.0.0.1"


def test_static_files_and_spa_fallback(gateway: str) -> None:
    status, headers, body = fetch(gateway + "/")
    assert status == 200 and body == b"<html>sprout</html>"
    assert headers["Cache-Control"] == "no-cache"
    status, headers, body = fetch(gateway + "/assets/app-123.js")
    assert status == 200 and "immutable" in headers["Cache-Control"]
    assert headers["Content-Type"] == "text/javascript"
    assert fetch(gateway + "/some/page")[2] == b"<html>sprout</html>"
    assert fetch(gateway + "/assets/missing.js")[0] == 404
    assert fetch(gateway + "/../../etc/passwd")[2] == b"<html>sprout</html>"


def test_an_upstream_that_is_down_is_a_502_in_the_error_shape(gateway: str) -> None:
    status, _, body = fetch(gateway + "/gone")
    assert status == 502
    assert json.loads(body)["error"]["code"] == "bad_gateway"


def built_address_page() -> str:
    page = DIST / "address.html"
    assert page.is_file(), "the frontend is not built: make bootstrap-test (or npm run build)"
    return page.read_text(encoding="utf-8")


def page_case(body: bytes) -> str:
    """The case the address page shows (the `data-case` of its <main>)."""
    cases = re.findall(r'<main data-case="([a-z]+)"', body.decode())
    assert len(cases) == 1, cases
    return str(cases[0])


@pytest.fixture
def addresses(
    tmp_path: Path, redis_server: RedisServer, redis_client: redis.Redis
) -> Iterator[str]:
    """A gateway that reads the containers' records from the suite's Redis."""
    shutil.copytree(DIST, tmp_path / "dist")
    gateway = Gateway(("127.0.0.1", 0), [("/", "frontend")], {}, tmp_path / "dist",
                      redis_url=redis_server.url)  # fmt: skip
    url = serve(gateway)
    yield url
    gateway.shutdown()
    gateway.server_close()


def put_record(client: redis.Redis, container_id: str, state: str, **fields: object) -> None:
    """A record as `shared.lifecycle` leaves it (the fields the address page reads)."""
    values = {
        "id": container_id, "state": state, "phase": "", "template": "nginx",
        "created_at": 1000.0, "expires_at": 1900.0, "updated_at": 1100.0, **fields,
    }  # fmt: skip
    client.hset(keys.record(container_id), mapping=values)  # type: ignore[arg-type]


def test_without_redis_every_address_is_the_clusters_one_404(gateway: str) -> None:
    """No records to read: the gateway answers as the cluster's nginx does (one 404 page)."""
    for method in ("GET", "POST"):
        status, headers, body = fetch(gateway + "/some/path", method, {"Host": ADDRESS})
        assert status == 404 and headers["Content-Type"] == "text/html; charset=utf-8"
        assert page_case(body) == "ended" and headers["Cache-Control"] == "no-store"


def test_a_live_containers_address_is_the_styled_simulated_placeholder(
    addresses: str, redis_client: redis.Redis
) -> None:
    put_record(redis_client, "abcdefgh2345", "running", url="http://abcdefgh2345.localhost:8080")
    status, headers, body = fetch(addresses + "/", headers={"Host": ADDRESS})
    assert status == 200 and page_case(body) == "simulated"
    page = body.decode()
    assert "the container's\n            own web server" in page  # what a real cluster shows
    assert f'data-site-link href="{addresses}/"' in page  # the way back to the playground
    # The site's stylesheet, served on the container's host as nginx serves it there.
    (stylesheet,) = re.findall(r'<link rel="stylesheet" crossorigin href="(/assets/[^"]+)"', page)
    status, headers, css = fetch(addresses + stylesheet, headers={"Host": ADDRESS})
    assert status == 200 and headers["Content-Type"] == "text/css"
    assert b"group-data-\\[case\\=simulated\\]\\:block" in css


@pytest.mark.parametrize(
    ("state", "fields", "case"),
    [
        ("deleted", {"updated_at": 1500.0}, "deleted"),  # its owner deleted it before its end
        ("deleting", {"updated_at": 1500.0}, "deleted"),
        ("deleted", {"updated_at": 1900.5}, "expired"),  # the reaper ended it at its end
        ("deleting", {"updated_at": 1900.0}, "expired"),
        ("failed", {"error": "It crashed (OOMKilled)."}, "failed"),
    ],
)
def test_an_ended_containers_address_is_410_gone_and_says_how_it_ended(
    addresses: str, redis_client: redis.Redis, state: str, fields: dict[str, object], case: str
) -> None:
    put_record(redis_client, "abcdefgh2345", state, **fields)
    for method in ("GET", "POST", "DELETE"):
        status, _, body = fetch(addresses + "/index.php", method, {"Host": ADDRESS})
        assert status == 410 and page_case(body) == case, method
    status, headers, body = fetch(addresses + "/", "HEAD", {"Host": ADDRESS})
    assert status == 410 and body == b"" and int(headers["Content-Length"]) > 1000
    # A body sent to the dead address is read and dropped: the next request on the same
    # kept-alive connection is answered in step.
    host, port = addresses.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    for body in (b'{"a": 1}' * 100, b""):
        connection.request("POST", "/api", body=body, headers={"Host": ADDRESS})
        answer = connection.getresponse()
        assert answer.status == 410 and page_case(answer.read()) == case
    connection.close()


def test_an_id_that_never_existed_is_404(addresses: str, redis_client: redis.Redis) -> None:
    put_record(redis_client, "zzzzzzzzzzzz", "running")  # another container's record
    status, _, body = fetch(addresses + "/", headers={"Host": ADDRESS})
    assert status == 404 and page_case(body) == "unknown"
    assert b"zzzzzzzzzzzz" not in body  # nothing about anyone else's container


def test_a_starting_containers_address_is_503_until_it_runs(
    addresses: str, redis_client: redis.Redis
) -> None:
    put_record(redis_client, "abcdefgh2345", "pending", phase="starting")
    status, headers, body = fetch(addresses + "/", headers={"Host": ADDRESS})
    assert status == 503 and headers["Retry-After"] == "1" and page_case(body) == "starting"


def test_redis_down_is_a_503_in_the_error_shape(tmp_path: Path) -> None:
    shutil.copytree(DIST, tmp_path / "dist")
    gateway = Gateway(("127.0.0.1", 0), [("/", "frontend")], {}, tmp_path / "dist",
                      redis_url="redis://127.0.0.1:1/0")  # fmt: skip
    url = serve(gateway)
    try:
        status, _, body = fetch(url + "/", headers={"Host": ADDRESS})
        assert status == 503 and json.loads(body)["error"]["code"] == "state_unavailable"
    finally:
        gateway.shutdown()
        gateway.server_close()


def test_the_address_page_is_not_a_page_of_the_site(gateway: str) -> None:
    """As nginx's `internal`: the page only answers on containers' addresses."""
    for path in ("/address.html", "//address.html", "/%61ddress.html"):
        status, _, body = fetch(gateway + path)
        assert status == 404 and json.loads(body)["error"]["code"] == "not_found", path


def test_text_is_compressed_as_the_clusters_nginx_compresses_it(gateway: str) -> None:
    compression = Compression.from_nginx()
    # What deploy/images/frontend/nginx.conf says: its gzip_types, HTML always, its level.
    assert {"text/html", "text/css", "application/javascript", "application/json"} <= (
        compression.types
    )
    assert "image/png" not in compression.types and compression.level == 1
    source = ("console.log('a page');\n" * 200).encode()
    status, headers, body = fetch(gateway + "/assets/page-456.js",
                                  headers={"Accept-Encoding": "gzip, deflate, br"})  # fmt: skip
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert headers["Vary"] == "Accept-Encoding"
    assert int(headers["Content-Length"]) == len(body) < len(source)
    assert gzip.decompress(body) == source
    # The fixture's index.html is 19 bytes: under nginx's minimum length, sent as it is.
    _, headers, body = fetch(gateway + "/some/page", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in headers and body == b"<html>sprout</html>"
    for refused in ({}, {"Accept-Encoding": "gzip;q=0"}, {"Accept-Encoding": "br"}):
        _, headers, body = fetch(gateway + "/assets/page-456.js", headers=refused)
        assert "Content-Encoding" not in headers and body == source, refused
    _, headers, body = fetch(gateway + "/assets/logo-789.png", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in headers and body.startswith(b"\x89PNG")
    # HEAD tells the length of what GET would send.
    _, headers, _ = fetch(gateway + "/assets/page-456.js", "HEAD", {"Accept-Encoding": "gzip"})
    assert headers["Content-Encoding"] == "gzip"
    assert int(headers["Content-Length"]) == len(gzip.compress(source, 1, mtime=0))


def test_accept_encoding_is_read_as_a_list_with_qualities() -> None:
    assert accepts_gzip("gzip")
    assert accepts_gzip("deflate, GZIP;q=0.5")
    assert accepts_gzip("*")
    assert not accepts_gzip("")
    assert not accepts_gzip("gzip;q=0, br")
    assert not accepts_gzip("gzip;q=zero")
    assert not accepts_gzip("x-gzip-ish")
