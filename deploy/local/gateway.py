"""The local gateway: routes paths like the Traefik routes in deploy/, and serves the page.

It mirrors what Sprout relies on in Traefik: path-prefix routes with the longest prefix
winning; `X-Real-Ip` set to the client's address (overwriting whatever the client sent);
`X-Forwarded-For/-Proto/-Host` added; everything else passed through. The route table is
read from the IngressRoute manifest (`deploy.manifests.route_table`), so the two cannot drift.
Paths routed to the frontend are served from the built files, with the SPA fallback to
index.html, compressed as the cluster's nginx compresses them: gzip at its level for the types
its `gzip_types` names (and HTML), read from deploy/images/frontend/nginx.conf.

A container's address, `<id>.localhost`, gets the frontend's address page (address.html),
with the case its record in Redis shows: the pods are simulated, so a live container has no
web server of its own and the page says what a real cluster would show there. Unlike the
cluster's nginx (which has no Redis and answers one 404 for every dead address), the gateway
can tell the cases apart, and answers each with its own status (`address_case`).
"""

from __future__ import annotations

import argparse
import functools
import gzip
import http.client
import json
import mimetypes
import re
import signal
import sys
import threading
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import redis

from shared import keys
from shared.records import Record

FRONTEND = "frontend"
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
    "transfer-encoding", "upgrade", "x-real-ip", "x-forwarded-for", "x-forwarded-proto",
    "x-forwarded-host",
}  # fmt: skip
MAX_BODY = 1024 * 1024
NGINX_CONF = Path(__file__).resolve().parents[1] / "images" / "frontend" / "nginx.conf"
GZIP_MIN_LENGTH = 20  # nginx's default gzip_min_length
CONTAINER_HOST = re.compile(r"^([a-z2-7]{12})\.localhost(:\d+)?$")
ADDRESS_PAGE = "address.html"  # in the frontend's build: the page of a container's address
ADDRESS_CASE_MARK = 'data-case="ended"'  # the cluster's case, which the gateway rewrites
SITE_LINK_MARK = 'data-site-link href="/"'  # the link back, which nginx rewrites as well


@dataclass(frozen=True)
class Compression:
    """What nginx compresses (MIME types) and how hard (gzip level)."""

    types: frozenset[str]
    level: int

    @classmethod
    def from_nginx(cls, conf: Path = NGINX_CONF) -> Compression:
        text = conf.read_text()
        listed = re.search(r"^\s*gzip_types\s+([^;]+);", text, re.MULTILINE)
        level = re.search(r"^\s*gzip_comp_level\s+(\d+);", text, re.MULTILINE)
        # nginx always compresses text/html once gzip is on; its default level is 1.
        types = {"text/html", *(listed.group(1).split() if listed else ())}
        if "application/javascript" in types:
            types.add("text/javascript")  # what Python's mimetypes may call a .js file
        return cls(frozenset(types), int(level.group(1)) if level else 1)

    def applies(self, accept_encoding: str, kind: str, size: int) -> bool:
        return size >= GZIP_MIN_LENGTH and kind in self.types and accepts_gzip(accept_encoding)


def address_case(record: Record | None) -> tuple[int, str]:
    """The status and page case of a container's address, from its record (None: none).

    410 Gone for a container that existed and ended, 404 for an id Sprout does not know (or
    whose record's TTL after its end ran out), 503 while it starts (what Traefik answers
    before the pod is ready), 200 for a live container (the simulated one's placeholder).
    """
    if record is None:
        return 404, "unknown"
    if record.state == "running":
        return 200, "simulated"
    if record.state == "pending":
        return 503, "starting"
    if record.state == "failed":
        return 410, "failed"
    # deleting or deleted. The reaper expires a container at or after `expires_at`; its owner
    # deletes before. (An owner's delete whose pod went only after that time reads as expired.)
    expired = record.expires_at > 0 and record.updated_at >= record.expires_at
    return 410, "expired" if expired else "deleted"


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header allows gzip (named or `*`, with a q above 0)."""
    for item in accept_encoding.split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() not in ("gzip", "*"):
            continue
        quality = re.search(r"\bq\s*=\s*([^;\s]*)", params)
        if quality is None:
            return True
        try:
            if float(quality.group(1)) > 0:
                return True
        except ValueError:
            continue  # a quality that is not a number allows nothing
    return False


@functools.lru_cache(maxsize=64)
def gzipped(path: Path, mtime_ns: int, level: int) -> bytes:
    """A file's gzip encoding, kept while the file is unchanged (its mtime is part of the key)."""
    return gzip.compress(path.read_bytes(), compresslevel=level, mtime=0)


class Gateway(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(
        self,
        address: tuple[str, int],
        routes: Sequence[tuple[str, str]],
        upstreams: dict[str, str],
        static_dir: Path | None,
        compression: Compression | None = None,
        redis_url: str | None = None,
    ) -> None:
        super().__init__(address, GatewayHandler)
        # Where the containers' records are; without it, every address reads as the
        # cluster's nginx shows it (one 404 for ended and unknown alike).
        self.redis = (
            redis.Redis.from_url(redis_url, decode_responses=True, socket_timeout=5)
            if redis_url
            else None
        )
        self.compression = compression or Compression.from_nginx()
        # Longest prefix first: the rule Traefik applies to PathPrefix routes of one router set.
        self.routes = sorted(routes, key=lambda route: len(route[0]), reverse=True)
        self.upstreams = {name: urllib.parse.urlsplit(url) for name, url in upstreams.items()}
        self.static_dir = static_dir
        self.local = threading.local()
        self.open_connections: set[http.client.HTTPConnection] = set()
        self.connections_lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def service_for(self, path: str) -> str | None:
        for prefix, service in self.routes:
            if path.startswith(prefix):
                return service
        return None

    def connection(self, service: str) -> http.client.HTTPConnection:
        """A kept-alive connection to `service`, one per gateway thread."""
        pool: dict[str, http.client.HTTPConnection] = getattr(self.local, "pool", {})
        self.local.pool = pool
        if service not in pool:
            target = self.upstreams[service]
            connection = http.client.HTTPConnection(
                target.hostname or "127.0.0.1", target.port, timeout=30
            )
            with self.connections_lock:
                self.open_connections.add(connection)
            pool[service] = connection
        return pool[service]

    def drop_connection(self, service: str) -> None:
        pool: dict[str, http.client.HTTPConnection] = getattr(self.local, "pool", {})
        connection = pool.pop(service, None)
        if connection is not None:
            connection.close()
            with self.connections_lock:
                self.open_connections.discard(connection)

    def server_close(self) -> None:
        super().server_close()
        if self.redis is not None:
            self.redis.close()
        with self.connections_lock:
            for connection in self.open_connections:
                connection.close()
            self.open_connections.clear()


class GatewayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Gateway

    def do_GET(self) -> None:
        self.handle_any()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"{self.address_string()} {format % args}\n")

    def handle_any(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        container = CONTAINER_HOST.match(self.headers.get("Host", ""))
        if container:
            if path.startswith("/assets/"):
                self.serve_static(path)  # the page's stylesheet (nginx: /_address/assets/)
            else:
                self.serve_address_page(container.group(1))
            return
        service = self.server.service_for(path)
        if urllib.parse.unquote(path).lstrip("/") == ADDRESS_PAGE:
            self.send_json(404, "not_found", f"No such file: {path}")  # nginx: `internal`
        elif service is None:
            self.send_json(404, "not_found", f"No route for {path}")
        elif service == FRONTEND or service not in self.server.upstreams:
            self.serve_static(path)
        else:
            self.proxy(service)

    # Proxying -----------------------------------------------------------------------------

    def proxy(self, service: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.send_json(413, "payload_too_large", "Request body too large")
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        client = self.client_address[0]
        forwarded = self.headers.get("X-Forwarded-For")
        headers["X-Real-Ip"] = client
        headers["X-Forwarded-For"] = f"{forwarded}, {client}" if forwarded else client
        headers["X-Forwarded-Proto"] = "http"
        headers["X-Forwarded-Host"] = self.headers.get("Host", "")
        for attempt in (1, 2):
            connection = self.server.connection(service)
            try:
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                break
            except (ConnectionError, http.client.HTTPException, OSError):
                # A kept-alive connection the upstream closed: retry once on a fresh one.
                self.server.drop_connection(service)
                if attempt == 2:
                    self.send_json(502, "bad_gateway", f"The {service} function is not answering")
                    return
        self.send_response_only(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    # Static files -------------------------------------------------------------------------

    def serve_static(self, path: str) -> None:
        root = self.server.static_dir
        if root is None or not (root / "index.html").is_file():
            self.send_json(503, "frontend_missing", "The frontend is not built (npm run build)")
            return
        if self.command not in ("GET", "HEAD"):
            self.send_json(405, "method_not_allowed", "Static files are read-only")
            return
        candidate = (root / urllib.parse.unquote(path).lstrip("/")).resolve()
        inside = candidate.is_relative_to(root.resolve())
        if not inside or not candidate.is_file():
            # SPA fallback: paths without a file extension get the page; missing assets 404.
            if "." in Path(path).name:
                self.send_json(404, "not_found", f"No such file: {path}")
                return
            candidate = root / "index.html"
        data = candidate.read_bytes()
        kind = mimetypes.guess_type(candidate.name)[0] or "application/octet-stream"
        compression = self.server.compression
        accept = self.headers.get("Accept-Encoding", "")
        encoded = compression.applies(accept, kind, len(data))
        if encoded:
            data = gzipped(candidate, candidate.stat().st_mtime_ns, compression.level)
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        if encoded:
            self.send_header("Content-Encoding", "gzip")
        if kind in compression.types:
            # As nginx's `gzip_vary on`: a shared cache keeps both forms apart.
            self.send_header("Vary", "Accept-Encoding")
        hashed_asset = "/assets/" in path
        cache = "public, max-age=31536000, immutable" if hashed_asset else "no-cache"
        self.send_header("Cache-Control", cache)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def serve_address_page(self, container_id: str) -> None:
        """<id>.localhost: where Traefik routes to the container's pod, or to the address page."""
        root = self.server.static_dir
        page_file = root / ADDRESS_PAGE if root else None
        self.discard_body()  # what a client sent the container, before the answer
        if page_file is None or not page_file.is_file():
            self.send_json(503, "frontend_missing", "The frontend is not built (npm run build)")
            return
        if self.server.redis is None:
            status, case = 404, "ended"
        else:
            try:
                fields = self.server.redis.hgetall(keys.record(container_id))
            except redis.RedisError:
                self.send_json(503, "state_unavailable", "Redis is not answering; try again")
                return
            status, case = address_case(Record.from_hash(fields) if fields else None)
        page = page_file.read_text(encoding="utf-8")
        page = page.replace(ADDRESS_CASE_MARK, f'data-case="{case}"', 1)
        page = page.replace(SITE_LINK_MARK, f'data-site-link href="{self.server.url}/"', 1)
        data = page.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        if status == 503:
            self.send_header("Retry-After", "1")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def discard_body(self) -> None:
        """Read a request body nobody will use, so the kept-alive connection stays in step."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if 0 <= length <= MAX_BODY:
            self.rfile.read(length)
        else:
            self.close_connection = True  # too much, or no telling where it ends

    def send_json(self, status: int, code: str, message: str) -> None:
        data = json.dumps({"error": {"code": code, "message": message}}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def main(argv: Sequence[str] | None = None) -> None:
    from deploy.manifests import route_table

    parser = argparse.ArgumentParser(description="Sprout's local gateway")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--upstream", action="append", default=[], metavar="NAME=URL")
    parser.add_argument("--static", type=Path, default=None)
    parser.add_argument("--redis", default=None, help="the records, for containers' addresses")
    options = parser.parse_args(argv)
    upstreams = dict(item.split("=", 1) for item in options.upstream)
    gateway = Gateway(
        (options.host, options.port),
        route_table(),
        upstreams,
        options.static,
        redis_url=options.redis,
    )
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=gateway.shutdown).start())
    print(gateway.url, flush=True)
    try:
        gateway.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        gateway.server_close()


if __name__ == "__main__":
    main()
