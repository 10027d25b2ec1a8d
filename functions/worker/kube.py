"""The worker's only door to Kubernetes: the calls it makes, rate-capped and translated.

Every method is one idempotent operation on one object (or one list or watch) in the
worker's namespace, through the official client. Each HTTP request first takes a slot from
the shared `RateLimiter` and runs inside `errors.translated`; it is tried once: a temporary
error goes up, and the entry is delivered again later (the one retry layer, see `job`).
Responses are read as JSON dicts (`_preload_content=False`):
the worker only needs a few status fields, and building client model objects for every
watch event would cost more CPU than everything else it does.

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
from kubernetes import client
from kubernetes import config as kube_config

from functions.worker.builders import SELECTOR
from functions.worker.errors import AlreadyExists, NotFound, TemporaryError, translated
from functions.worker.ratelimit import RateLimiter
from functions.worker.settings import WorkerSettings

F = TypeVar("F", bound=Callable[..., Any])
Json = dict[str, Any]


def uses(group: str, resource: str, verb: str) -> Callable[[F], F]:
    """Declare the (apiGroup, resource, verb) a method needs from RBAC."""

    def mark(method: F) -> F:
        method.__dict__.setdefault("rbac", []).append((group, resource, verb))
        return method

    return mark


class Kube:
    def __init__(
        self,
        api_client: client.ApiClient,
        settings: WorkerSettings,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.api_client = api_client
        self.core = client.CoreV1Api(api_client)
        self.networking = client.NetworkingV1Api(api_client)
        self.settings = settings
        self.namespace = settings.namespace
        self.limiter = limiter or RateLimiter(settings.api_rate)
        self._calls_lock = threading.Lock()
        self.calls = 0  # HTTP requests made, for the job's report
        self.watch_response: Any = None  # the watch being read, for `stop_watch`

    @classmethod
    def connect(cls, settings: WorkerSettings, limiter: RateLimiter | None = None) -> Kube:
        """A client from the kubeconfig in the settings, else the pod's service account."""
        configuration = client.Configuration()
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
        return cls(client.ApiClient(configuration), settings, limiter)

    def close(self) -> None:
        api_client: Any = self.api_client
        api_client.close()

    # -- plumbing ---------------------------------------------------------------------------

    def _request(self, action: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Json:
        self._count_call()
        with translated(action):
            response = method(
                *args, _preload_content=False, _request_timeout=self.settings.api_timeout, **kwargs
            )
            data = response.data
        try:
            answer = json.loads(data) if data else {}
        except ValueError as exc:
            raise TemporaryError(f"{action}: the API answered with invalid JSON") from exc
        return answer if isinstance(answer, dict) else {}

    def _count_call(self) -> None:
        """Take a slot under the rate cap, and count the request."""
        self.limiter.acquire()
        with self._calls_lock:
            self.calls += 1

    def _delete_options(self) -> client.V1DeleteOptions:
        return client.V1DeleteOptions(propagation_policy="Background")

    # -- pods -------------------------------------------------------------------------------

    @uses("", "pods", "create")
    @uses("", "pods", "get")
    def create_pod(self, pod: client.V1Pod) -> Json:
        """Create the pod; if it exists already (a redelivery), answer the existing one."""
        try:
            return self._request(
                "create the pod", self.core.create_namespaced_pod, self.namespace, pod
            )
        except AlreadyExists:
            return self.read_pod(str(pod.metadata.name if pod.metadata else ""))

    @uses("", "pods", "get")
    def read_pod(self, name: str) -> Json:
        return self._request("read the pod", self.core.read_namespaced_pod, name, self.namespace)

    @uses("", "pods", "delete")
    def delete_pod(self, name: str) -> bool:
        """Delete the pod; False if it was already gone."""
        try:
            self._request(
                "delete the pod",
                self.core.delete_namespaced_pod,
                name,
                self.namespace,
                body=self._delete_options(),
            )
        except NotFound:
            return False
        return True

    @uses("", "pods", "list")
    def list_pods(self) -> Json:
        return self._request(
            "list pods", self.core.list_namespaced_pod, self.namespace, label_selector=SELECTOR
        )

    @uses("", "pods", "watch")
    def watch_pods(self, resource_version: str) -> Iterator[Json]:
        """Watch events on Sprout's pods after `resource_version` until the server ends it.

        Yields the decoded events (`{"type": ..., "object": ...}`), including `ERROR` ones;
        raises `KubeError` if the watch cannot be opened or breaks off.
        """
        self._count_call()
        with translated("watch pods"):
            response: Any = self.core.list_namespaced_pod(
                self.namespace,
                label_selector=SELECTOR,
                watch=True,
                allow_watch_bookmarks=True,
                resource_version=resource_version,
                timeout_seconds=self.settings.watch_timeout,
                _preload_content=False,
                _request_timeout=(self.settings.api_timeout, self.settings.watch_timeout + 10.0),
            )
        self.watch_response = response
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

    @uses("", "services", "create")
    def create_service(self, service: client.V1Service) -> None:
        # AlreadyExists: made by an earlier delivery; its name is its container's, so ours.
        with contextlib.suppress(AlreadyExists):
            self._request(
                "create the service", self.core.create_namespaced_service, self.namespace, service
            )

    @uses("", "services", "delete")
    def delete_service(self, name: str) -> bool:
        try:
            self._request(
                "delete the service",
                self.core.delete_namespaced_service,
                name,
                self.namespace,
                body=self._delete_options(),
            )
        except NotFound:
            return False
        return True

    @uses("", "services", "list")
    def list_services(self) -> Json:
        return self._request(
            "list services",
            self.core.list_namespaced_service,
            self.namespace,
            label_selector=SELECTOR,
        )

    @uses("networking.k8s.io", "ingresses", "create")
    def create_ingress(self, ingress: client.V1Ingress) -> None:
        with contextlib.suppress(AlreadyExists):
            self._request(
                "create the ingress",
                self.networking.create_namespaced_ingress,
                self.namespace,
                ingress,
            )

    @uses("networking.k8s.io", "ingresses", "delete")
    def delete_ingress(self, name: str) -> bool:
        try:
            self._request(
                "delete the ingress",
                self.networking.delete_namespaced_ingress,
                name,
                self.namespace,
                body=self._delete_options(),
            )
        except NotFound:
            return False
        return True

    @uses("networking.k8s.io", "ingresses", "list")
    def list_ingresses(self) -> Json:
        return self._request(
            "list ingresses",
            self.networking.list_namespaced_ingress,
            self.namespace,
            label_selector=SELECTOR,
        )

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
