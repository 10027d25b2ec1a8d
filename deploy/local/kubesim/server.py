"""HTTP front end: routing, bearer-token authentication, JSON encoding, chunked watches.

Mirrors the API server's HTTP surface as the official client drives it: REST paths for core/v1
and networking.k8s.io/v1 (cluster-wide and per-namespace collections, and objects), 401
Unauthorized for a wrong token, 404/405 Status bodies for unknown paths and methods, 400 for
malformed bodies, and ``watch=true`` answered as a chunked stream of newline-delimited JSON
events. Fault injection (latency, error answers) and request counting happen here, at the HTTP
seam, and the ``/_sim/*`` admin endpoints (config, stats, reset, save) are served beside it.
"""

from __future__ import annotations

import hmac
import json
import select
import socket
import sys
import time
import traceback
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from pydantic import ValidationError

from . import errors
from .errors import ApiError
from .resources import BY_GROUP_AND_PLURAL, ResourceType
from .store import dumps

if TYPE_CHECKING:
    from .simulator import Simulator

JSON = dict[str, Any]
MAX_BODY_BYTES = 3 * 1024 * 1024  # the API server's request size limit


@dataclass(frozen=True)
class Route:
    verb: str
    resource: ResourceType
    namespace: str | None  # None: across all namespaces
    name: str = ""


def parse_route(method: str, path: str, query: dict[str, str]) -> Route:
    """``/api/v1[/namespaces/{ns}]/{plural}[/{name}]``, or ``/apis/{group}/v1/...``."""
    parts = [part for part in path.split("/") if part]
    if parts[:2] == ["api", "v1"]:
        group, rest = "", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis" and parts[2] == "v1":
        group, rest = parts[1], parts[3:]
    else:
        raise errors.resource_not_found()
    namespace: str | None = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    resource = BY_GROUP_AND_PLURAL.get((group, rest[0])) if rest else None
    if resource is None or len(rest) > 2 or (namespace is None and len(rest) > 1):
        raise errors.resource_not_found()
    if len(rest) == 2:
        if method not in ("GET", "DELETE"):
            raise errors.method_not_allowed()
        return Route("get" if method == "GET" else "delete", resource, namespace, rest[1])
    if method == "POST" and namespace is not None:
        return Route("create", resource, namespace)
    if method != "GET":
        raise errors.method_not_allowed()
    watch = query.get("watch", "").lower() in ("true", "1")
    return Route("watch" if watch else "list", resource, namespace)


class SimHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], simulator: Simulator) -> None:
        self.simulator = simulator
        super().__init__(address, KubeApiHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client hanging up is normal
            super().handle_error(request, client_address)


class KubeApiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kubesim"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server: SimHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.simulator.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")  # neither is served: 405, as for a verb a resource lacks

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # --- plumbing ----------------------------------------------------------------------------

    def _send(
        self,
        code: int,
        body: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, code: int, text: str, headers: dict[str, str] | None = None) -> None:
        self._send(code, text.encode(), headers=headers)

    def _send_error(self, error: ApiError) -> None:
        self._send_json(error.code, dumps(error.status()), error.headers)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise ApiError(
                413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728"
            )
        return self.rfile.read(length) if length else b""

    def _parse_body(self, raw: bytes, required: bool = True) -> Any:
        if not raw.strip():
            if required:
                raise errors.bad_request("the body of the request was empty")
            return None
        try:
            return json.loads(raw)
        except ValueError as error:
            raise errors.bad_request(
                f"couldn't get version/kind; json parse error: {error}"
            ) from error

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization") or ""
        scheme, _, token = header.partition(" ")
        expected = self.server.simulator.token
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), expected.encode()
        )

    def _client_gone(self) -> bool:
        """True when the watching client closed its connection."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            peeked: bytes = self.connection.recv(1, socket.MSG_PEEK)
            return peeked == b""
        except (OSError, ValueError):
            return True

    # --- dispatch ----------------------------------------------------------------------------

    def _handle(self, method: str) -> None:
        simulator = self.server.simulator
        url = urlsplit(self.path)
        query = {
            key: values[-1] for key, values in parse_qs(url.query, keep_blank_values=True).items()
        }
        path = url.path.rstrip("/") or "/"
        try:
            raw = self._read_body()
            if path in ("/healthz", "/readyz", "/livez"):
                self._send(200, b"ok", "text/plain; charset=utf-8")
                return
            if not self._authorized():
                simulator.stats.request("unauthorized", path)
                simulator.stats.response(401)
                self._send_error(errors.unauthorized())
                return
            if path.startswith("/_sim/"):
                self._admin(method, path, raw)
                return
            route = parse_route(method, path, query)
            self._api(route, query, raw)
        except ApiError as error:
            simulator.stats.response(error.code)
            self._send_error(error)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as error:  # one bad request must not take the server down
            traceback.print_exc(file=sys.stderr)
            self._send_error(errors.internal_error(f"kubesim: {type(error).__name__}: {error}"))

    def _api(self, route: Route, query: dict[str, str], raw: bytes) -> None:
        simulator = self.server.simulator
        stats = simulator.stats
        stats.request(route.verb, route.resource.plural)
        decision = simulator.faults.decide(simulator.config, route.verb, route.resource.plural)
        if decision.delay_seconds > 0:
            stats.delayed()
            time.sleep(decision.delay_seconds)  # no lock is held here
        if decision.error is not None and not decision.after_commit:
            stats.fault(decision.error.code, after_commit=False)
            raise decision.error
        if route.verb == "watch":
            self._watch(route, query)
            return
        code, body = self._execute(route, query, raw)
        if decision.error is not None:
            stats.fault(decision.error.code, after_commit=True)
            raise decision.error
        stats.response(code)
        self._send(code, body)

    def _execute(self, route: Route, query: dict[str, str], raw: bytes) -> tuple[int, bytes]:
        api = self.server.simulator.api
        resource, namespace, name = route.resource, route.namespace, route.name
        if route.verb == "list":
            items, version = api.list_collection(resource, namespace, query)
            metadata = dumps({"resourceVersion": str(version)})
            head = (
                f'{{"kind":"{resource.kind}List","apiVersion":"{resource.api_version}",'
                f'"metadata":{metadata},"items":['
            )
            return 200, (head + ",".join(item.body_json() for item in items) + "]}").encode()
        assert namespace is not None
        if route.verb == "create":
            return 201, api.create(resource, namespace, self._parse_body(raw)).typed_json().encode()
        if route.verb == "get":
            return 200, api.get(resource, namespace, name).typed_json().encode()
        options = self._parse_body(raw, required=False) or {}
        if not isinstance(options, dict):
            raise errors.bad_request("DeleteOptions must be a JSON object")
        snapshot = api.delete(resource, namespace, name, options, query)
        return 200, snapshot.typed_json().encode()

    def _watch(self, route: Route, query: dict[str, str]) -> None:
        simulator = self.server.simulator
        stream = simulator.api.open_watch(route.resource, route.namespace, query, self._client_gone)
        simulator.stats.response(200)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        for line in stream.events():
            self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
        self.wfile.write(b"0\r\n\r\n")

    # --- admin endpoints ---------------------------------------------------------------------

    def _admin(self, method: str, path: str, raw: bytes) -> None:
        simulator = self.server.simulator
        body = self._parse_body(raw, required=False) or {}
        if not isinstance(body, dict):
            raise errors.bad_request("the admin endpoints take a JSON object")
        if path == "/_sim/config" and method == "GET":
            self._send_json(200, dumps(simulator.config.model_dump()))
        elif path == "/_sim/config" and method == "POST":
            try:
                config = simulator.configure(**body)
            except ValidationError as error:
                raise ApiError(422, "Invalid", f"invalid simulator config: {error}") from error
            self._send_json(200, dumps(config.model_dump()))
        elif path == "/_sim/stats" and method == "GET":
            self._send_json(200, dumps(simulator.stats.snapshot()))
        elif path == "/_sim/reset" and method == "POST":
            simulator.reset(
                objects=bool(body.get("objects", True)),
                stats=bool(body.get("stats", True)),
                config=bool(body.get("config", True)),
            )
            self._send_json(
                200,
                dumps({"reset": True, "resourceVersion": str(simulator.store.resource_version)}),
            )
        elif path == "/_sim/save" and method == "POST":
            saved = simulator.save_state()
            self._send_json(200, dumps({"saved": saved}))
        elif path in ("/_sim/config", "/_sim/stats", "/_sim/reset", "/_sim/save"):
            raise errors.method_not_allowed()
        else:
            raise errors.resource_not_found()
