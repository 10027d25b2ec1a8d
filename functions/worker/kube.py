"""The worker's only door to Kubernetes: the calls it makes, rate-capped and translated.

Every method is one idempotent operation on one object (or one list or watch) in the
worker's namespace, through the official client. Each HTTP request first takes a slot from
the shared `RateLimiter` and runs inside `errors.translated`; it is tried once: a temporary
error goes up, and the entry is delivered again later (the one retry layer, see `job`).

The requests go through the client's `ApiClient` (its configuration, credentials, TLS and
connection pool, and its `ApiException`), by method and path, rather than through the
generated `CoreV1Api` and `NetworkingV1Api`: importing those builds a validated wrapper for
each of their hundreds of operations and a model for each type they name, about 0.6 s of CPU
that every job would pay before its first entry (a cold start's largest part after the
interpreter itself), for the nine operations below. Bodies are sent, and answers read, as
JSON: the worker only needs a few status fields.

`REQUIRED_RBAC` is derived from the `@uses` declarations on the methods below, so it is
exactly what the code calls: the deploy/ Role must grant these verbs and nothing more.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import urllib3
from kubernetes.client import ApiClient, Configuration
from kubernetes.client.exceptions import ApiException

from functions.worker.builders import SELECTOR
from functions.worker.errors import AlreadyExists, NotFound, TemporaryError, translated
from functions.worker.ratelimit import RateLimiter
from functions.worker.settings import WorkerSettings

F = TypeVar("F", bound=Callable[..., Any])
Json = dict[str, Any]
DELETE_OPTIONS = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"}


def uses(group: str, resource: str, verb: str) -> Callable[[F], F]:
    """Declare the (apiGroup, resource, verb) a method needs from RBAC."""

    def mark(method: F) -> F:
        method.__dict__.setdefault("rbac", []).append((group, resource, verb))
        return method

    return mark


class Kube:
    def __init__(
        self,
        api_client: ApiClient,
        settings: WorkerSettings,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.api_client = api_client
        self.settings = settings
        self.namespace = settings.namespace
        self.paths = {
            "pods": f"/api/v1/namespaces/{self.namespace}/pods",
            "services": f"/api/v1/namespaces/{self.namespace}/services",
            "ingresses": f"/apis/networking.k8s.io/v1/namespaces/{self.namespace}/ingresses",
        }
        self.limiter = limiter or RateLimiter(settings.api_rate)
        self._calls_lock = threading.Lock()
        self.calls = 0  # HTTP requests made, for the job's report
        self.watch_response: Any = None  # the watch being read, for `stop_watch`

    @classmethod
    def connect(cls, settings: WorkerSettings, limiter: RateLimiter | None = None) -> Kube:
        """A client from the kubeconfig in the settings, else the pod's service account."""
        from kubernetes import config as kube_config

        configuration = Configuration()
        if settings.kubeconfig:
            loader: Any = kube_config.load_kube_config
            loader(
                config_file=settings.kubeconfig,
                context=settings.kube_context,
                client_configuration=configuration,
                persist_config=False,
            )
        else:
            incluster: Any = kube_config.load_incluster_config
            incluster(client_configuration=configuration)
        # The loaders refresh credentials before every request (re-applying the whole config,
        # proxy lookup included: ~1.5 ms of CPU each); tokens live for minutes, so a refresh
        # every few seconds is plenty.
        configuration.refresh_api_key_hook = _throttled(configuration.refresh_api_key_hook)
        # Retries are the entry's (rate-capped, with backoff); urllib3 must not add hidden ones.
        configuration.retries = False
        # A connection per entry in flight at most (each entry's thread makes its own calls).
        configuration.connection_pool_maxsize = settings.max_in_flight + 4
        return cls(ApiClient(configuration), settings, limiter)

    def close(self) -> None:
        api_client: Any = self.api_client  # the client's methods are untyped
        api_client.close()

    # -- plumbing ---------------------------------------------------------------------------

    def _send(
        self,
        action: str,
        method: str,
        path: str,
        *,
        body: Json | None = None,
        query: list[tuple[str, Any]] | None = None,
        timeout: float | tuple[float, float] | None = None,
    ) -> Any:
        """One request (under the rate cap), answered 2xx: the client's raw response, not
        read yet. Anything else raises a `KubeError`."""
        self._count_call()
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        with translated(action):
            request = self.api_client.param_serialize(
                method, path, query_params=query or [], header_params=headers, body=body,
                auth_settings=["BearerToken"],
            )  # fmt: skip
            answer: Any = self.api_client.call_api(
                *request, _request_timeout=timeout or self.settings.api_timeout
            )
            if not 200 <= answer.status <= 299:
                answer.read()
                raise ApiException.from_response(http_resp=answer, body=None, data=None)
            return answer

    def _request(self, action: str, method: str, path: str, **options: Any) -> Json:
        """`_send`, and the answer read as a JSON object."""
        answer: Any = self._send(action, method, path, **options)
        with translated(action):
            data = answer.read()
        try:
            decoded = json.loads(data) if data else {}
        except ValueError as exc:
            raise TemporaryError(f"{action}: the API answered with invalid JSON") from exc
        return decoded if isinstance(decoded, dict) else {}

    def _count_call(self) -> None:
        """Take a slot under the rate cap, and count the request."""
        self.limiter.acquire()
        with self._calls_lock:
            self.calls += 1

    def _create(self, action: str, resource: str, body: Json) -> Json:
        return self._request(action, "POST", self.paths[resource], body=body)

    def _delete(self, action: str, resource: str, name: str) -> bool:
        """Delete, in the background (dependents too); False if it was already gone."""
        try:
            self._request(action, "DELETE", f"{self.paths[resource]}/{name}", body=DELETE_OPTIONS)
        except NotFound:
            return False
        return True

    def _list(self, action: str, resource: str) -> Json:
        return self._request(
            action, "GET", self.paths[resource], query=[("labelSelector", SELECTOR)]
        )

    # -- pods -------------------------------------------------------------------------------

    @uses("", "pods", "create")
    @uses("", "pods", "get")
    def create_pod(self, pod: Json) -> Json:
        """Create the pod; if it exists already (a redelivery), answer the existing one."""
        try:
            return self._create("create the pod", "pods", pod)
        except AlreadyExists:
            return self.read_pod(str(pod["metadata"]["name"]))

    @uses("", "pods", "get")
    def read_pod(self, name: str) -> Json:
        return self._request("read the pod", "GET", f"{self.paths['pods']}/{name}")

    @uses("", "pods", "delete")
    def delete_pod(self, name: str) -> bool:
        return self._delete("delete the pod", "pods", name)

    @uses("", "pods", "list")
    def list_pods(self) -> Json:
        return self._list("list pods", "pods")

    @uses("", "pods", "watch")
    def watch_pods(self, resource_version: str) -> Iterator[Json]:
        """Watch events on Sprout's pods after `resource_version` until the server ends it.

        Yields the decoded events (`{"type": ..., "object": ...}`), including `ERROR` ones;
        raises `KubeError` if the watch cannot be opened or breaks off.
        """
        query = [
            ("labelSelector", SELECTOR),
            ("watch", "true"),
            ("allowWatchBookmarks", "true"),
            ("resourceVersion", resource_version),
            ("timeoutSeconds", self.settings.watch_timeout),
        ]
        timeout = (self.settings.api_timeout, self.settings.watch_timeout + 10.0)
        answer = self._send("watch pods", "GET", self.paths["pods"], query=query, timeout=timeout)
        response = self.watch_response = answer.response
        try:
            with translated("watch pods"):
                for line in _lines(response):
                    try:
                        event = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(event, dict):
                        yield event
        finally:
            self.watch_response = None
            response.release_conn()

    def stop_watch(self) -> None:
        """Unblock a watch being read in another thread (it then ends)."""
        response = self.watch_response
        if response is not None:
            try:
                response.shutdown()
            except (AttributeError, OSError, ValueError):  # older urllib3; a watch just ended
                response.close()

    # -- services and ingresses ---------------------------------------------------------------
    # AlreadyExists on create: made by an earlier delivery; its name is its container's, so ours.

    @uses("", "services", "create")
    def create_service(self, service: Json) -> None:
        with contextlib.suppress(AlreadyExists):
            self._create("create the service", "services", service)

    @uses("", "services", "delete")
    def delete_service(self, name: str) -> bool:
        return self._delete("delete the service", "services", name)

    @uses("", "services", "list")
    def list_services(self) -> Json:
        return self._list("list services", "services")

    @uses("networking.k8s.io", "ingresses", "create")
    def create_ingress(self, ingress: Json) -> None:
        with contextlib.suppress(AlreadyExists):
            self._create("create the ingress", "ingresses", ingress)

    @uses("networking.k8s.io", "ingresses", "delete")
    def delete_ingress(self, name: str) -> bool:
        return self._delete("delete the ingress", "ingresses", name)

    @uses("networking.k8s.io", "ingresses", "list")
    def list_ingresses(self) -> Json:
        return self._list("list ingresses", "ingresses")

    # -- all of a container -------------------------------------------------------------------

    def delete_all(self, name: str) -> None:
        """Delete a container's ingress, service and pod; each may already be gone."""
        self.delete_ingress(name)
        self.delete_service(name)
        self.delete_pod(name)


def _throttled(hook: Callable[[Any], None] | None, every: float = 5.0) -> Any:
    """`hook`, run at most once per `every` seconds (thread-safe); None stays None."""
    if hook is None:
        return None
    lock = threading.Lock()
    last = [float("-inf")]

    def refresh(configuration: Any) -> None:
        with lock:
            if time.monotonic() - last[0] < every:
                return
            hook(configuration)
            last[0] = time.monotonic()
            # The kubeconfig loader's hook installs itself again; keep ours in front.
            configuration.refresh_api_key_hook = refresh

    return refresh


def _lines(response: urllib3.BaseHTTPResponse) -> Iterator[bytes]:
    buffer = b""
    for chunk in response.stream(amt=None, decode_content=False):
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        for line in complete:
            if line.strip():
                yield line
    if buffer.strip():
        yield buffer


def _required_rbac() -> dict[tuple[str, str], tuple[str, ...]]:
    grants: dict[tuple[str, str], set[str]] = {}
    for attribute in vars(Kube).values():
        for group, resource, verb in getattr(attribute, "rbac", []):
            grants.setdefault((group, resource), set()).add(verb)
    return {key: tuple(sorted(verbs)) for key, verbs in sorted(grants.items())}


# (apiGroup, resource) -> sorted verbs, in namespace `WorkerSettings.namespace` only.
REQUIRED_RBAC: dict[tuple[str, str], tuple[str, ...]] = _required_rbac()
