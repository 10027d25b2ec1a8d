"""HTTP front end: routing, bearer-token authentication, JSON/Table encoding, chunked watches.

Mirrors the API server's HTTP surface as clients use it: REST paths for core/v1 and
networking.k8s.io/v1 (cluster-wide and per-namespace collections, objects, the ``status`` and
``log`` subresources), 401 Unauthorized for a wrong token, 404/405 Status bodies for unknown
paths and methods, 400 for malformed bodies, ``watch=true`` answered as a chunked stream of
newline-delimited JSON events, and ``Accept: ...;as=Table`` answered with server-side tables.
Fault injection (latency, error answers) and request counting happen here, at the HTTP seam,
and the ``/_sim/*`` admin endpoints (config, stats, reset, save) are served beside the API.
"""

from __future__ import annotations

import hmac
import json
import select
import socket
import ssl
import sys
import time
import traceback
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import yaml
from pydantic import ValidationError

from . import errors
from .discovery import discovery_document
from .errors import ApiError
from .resources import BY_GROUP_AND_PLURAL, NAMESPACES, PODS, ResourceType
from .store import Snapshot, dumps
from .tables import to_table, wants_table

if TYPE_CHECKING:
    from .simulator import Simulator

JSON = dict[str, Any]
MAX_BODY_BYTES = 3 * 1024 * 1024  # the API server's request size limit


@dataclass(frozen=True)
class Route:
    verb: str
    resource: ResourceType
    namespace: str | None  # None: across all namespaces (or cluster-scoped)
    name: str = ""
    subresource: str = ""

    @property
    def stats_key(self) -> str:
        return (
            f"{self.resource.plural}/{self.subresource}"
            if self.subresource
            else self.resource.plural
        )


_COLLECTION_VERBS = {"GET": "list", "POST": "create", "DELETE": "deletecollection"}
_OBJECT_VERBS = {"GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def parse_route(method: str, path: str, query: dict[str, str]) -> Route:
    parts = [part for part in path.split("/") if part]
    if parts[:2] == ["api", "v1"]:
        group, rest = "", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis" and parts[2] == "v1":
        group, rest = parts[1], parts[3:]
    else:
        raise errors.resource_not_found()
    namespace: str | None = None
    # /namespaces/{ns}/{plural}... addresses namespaced resources; /namespaces[/{name}] itself.
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    resource = BY_GROUP_AND_PLURAL.get((group, rest[0])) if rest else None
    if resource is None or len(rest) > 3 or (namespace is not None and not resource.namespaced):
        raise errors.resource_not_found()
    if resource.namespaced and namespace is None and len(rest) > 1:
        raise errors.resource_not_found()
    if not resource.namespaced:
        namespace = ""
    if len(rest) == 1:
        verb = _COLLECTION_VERBS.get(method)
        if verb is None or (verb != "list" and namespace is None):
            raise errors.method_not_allowed()
        if verb == "deletecollection" and resource is NAMESPACES:
            raise errors.method_not_allowed()
        if verb == "list" and query.get("watch", "").lower() in ("true", "1"):
            verb = "watch"
        return Route(verb, resource, namespace)
    subresource = rest[2] if len(rest) == 3 else ""
    if subresource and not (
        (subresource == "status" and resource.has_status)
        or (subresource == "log" and resource is PODS)
    ):
        raise errors.resource_not_found()
    verb = _OBJECT_VERBS.get(method)
    if (
        verb is None
        or (subresource == "status" and verb == "delete")
        or (subresource == "log" and verb != "get")
    ):
        raise errors.method_not_allowed()
    return Route(verb, resource, namespace, rest[1], subresource)


class SimHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(
        self, address: tuple[str, int], simulator: Simulator, tls: ssl.SSLContext | None = None
    ) -> None:
        self.simulator = simulator
        super().__init__(address, KubeApiHandler)
        if tls is not None:
            # The handshake runs in the connection's own thread (finish_request), not in accept.
            self.socket = tls.wrap_socket(
                self.socket, server_side=True, do_handshake_on_connect=False
            )

    def finish_request(self, request: Any, client_address: Any) -> None:
        if isinstance(request, ssl.SSLSocket):
            try:
                request.settimeout(10)
                request.do_handshake()
                request.settimeout(None)
            except (OSError, ssl.SSLError):
                return
        super().finish_request(request, client_address)


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
        self._handle("PATCH")

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
        content_type = (
            (self.headers.get("Content-Type") or "application/json").split(";")[0].strip()
        )
        try:
            if "yaml" in content_type:
                return yaml.safe_load(raw)
            return json.loads(raw)
        except (ValueError, yaml.YAMLError) as error:
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
            if isinstance(self.connection, ssl.SSLSocket):
                return True  # a watching client sends nothing: readable means closed
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
            document = discovery_document(path, f"{simulator.host}:{simulator.port}")
            if document is not None and method == "GET":
                self._send_json(200, dumps(document))
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
        stats.request(route.verb, route.stats_key)
        decision = simulator.faults.decide(simulator.config, route.verb, route.stats_key)
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
        if isinstance(body, str):
            self._send(code, body.encode(), "text/plain; charset=utf-8")
        else:
            self._send(code, body)

    def _execute(self, route: Route, query: dict[str, str], raw: bytes) -> tuple[int, bytes | str]:
        api = self.server.simulator.api
        resource, namespace, name = route.resource, route.namespace, route.name
        accept = self.headers.get("Accept") or ""
        if route.verb == "list":
            result = api.list_collection(resource, namespace, query)
            if wants_table(accept):
                table = to_table(
                    resource,
                    result.items,
                    result.resource_version,
                    query.get("includeObject", "Metadata"),
                    result.continue_token,
                )
                return 200, dumps(table).encode()
            return 200, self._list_body(
                resource,
                result.items,
                result.resource_version,
                result.continue_token,
                result.remaining,
            )
        assert namespace is not None
        if route.verb == "create":
            snapshot = api.create(resource, namespace, self._parse_body(raw), query)
            return 201, snapshot.typed_json().encode()
        if route.verb == "deletecollection":
            options = self._parse_body(raw, required=False) or {}
            deleted, version = api.delete_collection(resource, namespace, options, query)
            return 200, self._list_body(resource, deleted, version, None, None)
        if route.verb == "get":
            snapshot = api.get(resource, namespace, name)
            if route.subresource == "log":
                return 200, pod_log(snapshot, query)
            if wants_table(accept):
                table = to_table(
                    resource,
                    [snapshot],
                    int(snapshot.obj["metadata"]["resourceVersion"]),
                    query.get("includeObject", "Metadata"),
                )
                return 200, dumps(table).encode()
            return 200, snapshot.typed_json().encode()
        if route.verb == "update":
            snapshot = api.update(
                resource, namespace, name, self._parse_body(raw), query, route.subresource
            )
            return 200, snapshot.typed_json().encode()
        if route.verb == "patch":
            content_type = self.headers.get("Content-Type") or ""
            snapshot = api.patch(
                resource,
                namespace,
                name,
                content_type,
                self._parse_body(raw),
                query,
                route.subresource,
            )
            return 200, snapshot.typed_json().encode()
        options = self._parse_body(raw, required=False) or {}
        if not isinstance(options, dict):
            raise errors.bad_request("DeleteOptions must be a JSON object")
        snapshot = api.delete(resource, namespace, name, options, query)
        return 200, snapshot.typed_json().encode()

    @staticmethod
    def _list_body(
        resource: ResourceType,
        items: list[Snapshot],
        resource_version: int,
        continue_token: str | None,
        remaining: int | None,
    ) -> bytes:
        metadata: JSON = {"resourceVersion": str(resource_version)}
        if continue_token:
            metadata["continue"] = continue_token
            metadata["remainingItemCount"] = remaining
        head = (
            f'{{"kind":"{resource.list_kind}","apiVersion":"{resource.api_version}",'
            f'"metadata":{dumps(metadata)},"items":['
        )
        return (head + ",".join(item.body_json() for item in items) + "]}").encode()

    def _watch(self, route: Route, query: dict[str, str]) -> None:
        simulator = self.server.simulator
        stream = simulator.api.open_watch(route.resource, route.namespace, query, self._client_gone)
        simulator.stats.response(200)
        simulator.stats.watch_opened()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Cache-Control", "no-cache, private")
            self.end_headers()
            for line in stream.events():
                self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            self.wfile.write(b"0\r\n\r\n")
        finally:
            simulator.stats.watch_closed()

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
            self._send_json(200, dumps(simulator.stats_snapshot()))
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


def pod_log(snapshot: Snapshot, query: dict[str, str]) -> str:
    """What ``kubectl logs`` shows for a simulated container, or the real error when it has none."""
    pod = snapshot.obj
    name = pod["metadata"]["name"]
    containers = [c["name"] for c in pod["spec"]["containers"]]
    container = query.get("container") or ""
    if not container:
        if len(containers) > 1:
            raise errors.bad_request(
                f"a container name must be specified for pod {name}, "
                f"choose one of: [{' '.join(containers)}]"
            )
        container = containers[0]
    if container not in containers:
        raise errors.bad_request(f"container {container} is not valid for pod {name}")
    statuses = {s["name"]: s for s in (pod.get("status") or {}).get("containerStatuses") or []}
    status = statuses.get(container) or {}
    state = status.get("state") or {}
    waiting = state.get("waiting")
    if waiting is not None and not status.get("lastState"):
        raise errors.bad_request(
            f'container "{container}" in pod "{name}" is waiting to start: '
            + str(waiting.get("reason", "ContainerCreating"))
        )
    if not state:
        raise errors.bad_request(
            f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating'
        )
    lines = [f"kubesim: container {container} started from {status.get('image', '')}"]
    terminated = state.get("terminated") or (status.get("lastState") or {}).get("terminated")
    if terminated:
        lines.append(
            f"kubesim: container exited with code {terminated.get('exitCode')} "
            f"({terminated.get('reason')})"
        )
    return "\n".join(lines) + "\n"
