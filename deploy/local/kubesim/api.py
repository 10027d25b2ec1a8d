"""The API server's request handling for stored resources, independent of HTTP.

Mirrors the generic registry of ``k8s.io/apiserver`` for the verbs Sprout uses: create
(namespace check, defaulting, validation, Pod Security ``restricted`` admission through
``deploy.podsecurity``, AlreadyExists), get, list (label selectors), delete (graceful pod
deletion: a pod running on the node keeps a deletionTimestamp until the kubelet has stopped
it) and watch (initial events, resume from a resourceVersion, 410 Expired, bookmarks,
timeoutSeconds).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from deploy import podsecurity

from . import errors
from .errors import ApiError
from .resources import PODS, ResourceType
from .selectors import LabelSelector
from .store import Snapshot, Store, WatchEvent, clone, dumps, now_timestamp
from .validation import apply_defaults, validate

JSON = dict[str, Any]
Query = dict[str, str]

SERVER_MANAGED_META = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "selfLink",
    "managedFields",
)
BOOKMARK_INTERVAL = 5.0
DEFAULT_WATCH_TIMEOUT = 1800.0


def _int_param(query: Query, key: str) -> int | None:
    raw = query.get(key)
    if raw in (None, ""):
        return None
    try:
        return int(str(raw))
    except ValueError as error:
        raise errors.bad_request(f'invalid value for {key}: "{raw}"') from error


def _decode_error(resource: ResourceType, error: Exception) -> ApiError:
    return errors.bad_request(
        f'{resource.kind} in version "v1" cannot be handled as a {resource.kind}: {error}'
    )


def _selector(query: Query) -> LabelSelector:
    return LabelSelector.parse(query.get("labelSelector"), query.get("fieldSelector"))


def pod_security_message(pod: JSON) -> str | None:
    """Why the ``restricted`` profile refuses ``pod``, worded like the admission plugin."""
    found = podsecurity.pod_spec_violations(pod["spec"], pod["metadata"])
    if not found:
        return None
    reasons = ", ".join(f"{v.control} ({v.path}: {v.message})" for v in found)
    return f'violates PodSecurity "restricted:latest": {reasons}'


class ApiServer:
    def __init__(self, store: Store, namespace: str) -> None:
        self.store = store
        self.namespace = namespace  # the one namespace, enforcing Pod Security `restricted`

    def get(self, resource: ResourceType, namespace: str, name: str) -> Snapshot:
        snapshot = self.store.get(resource, namespace, name)
        if snapshot is None:
            raise errors.not_found(resource, name)
        return snapshot

    def list_collection(
        self, resource: ResourceType, namespace: str | None, query: Query
    ) -> tuple[list[Snapshot], int]:
        selector = _selector(query)
        with self.store.lock:
            snapshots = self.store.snapshots(resource, namespace)
            resource_version = self.store.resource_version
        matching = [s for s in snapshots if selector.matches(s.obj["metadata"].get("labels"))]
        return matching, resource_version

    # --- create ------------------------------------------------------------------------------

    def _decode_body(self, resource: ResourceType, body: object, namespace: str) -> JSON:
        if not isinstance(body, dict):
            raise errors.bad_request(
                f"the object provided is unrecognized (must be of type {resource.kind})"
            )
        if body.get("kind") not in (None, "", resource.kind) or body.get("apiVersion") not in (
            None,
            "",
            resource.api_version,
        ):
            raise errors.bad_request(
                f'{body.get("kind")} in version "{body.get("apiVersion")}" cannot be handled as '
                f"a {resource.kind}: the object provided is unrecognized (must be of type "
                f"{resource.kind})"
            )
        obj = clone(body)
        obj.pop("kind", None)
        obj.pop("apiVersion", None)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise _decode_error(resource, TypeError("metadata must be an object"))
        if meta.get("namespace") not in (None, "", namespace):
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the "
                "request"
            )
        meta["namespace"] = namespace
        if meta.get("resourceVersion"):
            raise errors.bad_request("resourceVersion should not be set on objects to be created")
        for key in SERVER_MANAGED_META:
            meta.pop(key, None)
        return obj

    def create(self, resource: ResourceType, namespace: str, body: object) -> Snapshot:
        if namespace != self.namespace:
            raise errors.namespace_not_found(namespace)
        obj = self._decode_body(resource, body, namespace)
        meta = obj["metadata"]
        name = str(meta.get("name") or "")
        try:
            apply_defaults(resource, obj)
            problems = validate(resource, obj)
            refused = pod_security_message(obj) if resource is PODS and not problems else None
        except (AttributeError, TypeError, KeyError) as error:
            raise _decode_error(resource, error) from error
        if problems:
            raise errors.invalid(resource, name, problems)
        if refused:
            raise errors.forbidden(resource, name, refused)
        obj["status"] = {"phase": "Pending"} if resource is PODS else {"loadBalancer": {}}
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=now_timestamp(), generation=1)
        with self.store.lock:
            if self.store.get(resource, namespace, name) is not None:
                raise errors.already_exists(resource, name)
            return self.store.put(resource, obj, "ADDED")

    # --- delete ------------------------------------------------------------------------------

    def delete(
        self, resource: ResourceType, namespace: str, name: str, options: JSON, query: Query
    ) -> Snapshot:
        grace = options.get("gracePeriodSeconds")
        if grace is None:
            grace = _int_param(query, "gracePeriodSeconds")
        if grace is not None and not isinstance(grace, int):
            raise errors.bad_request(f'invalid value for gracePeriodSeconds: "{grace}"')
        with self.store.lock:
            current = self.get(resource, namespace, name)
            pod, meta = current.obj, current.obj["metadata"]
            on_node = resource is PODS and bool(pod["spec"].get("nodeName"))
            if not on_node or pod["status"].get("phase") in ("Succeeded", "Failed"):
                grace = 0  # nothing runs on a node: the object goes at once
            elif grace is None:
                grace = int(pod["spec"].get("terminationGracePeriodSeconds", 30))
            grace = max(grace, 0)
            old_grace = meta.get("deletionGracePeriodSeconds")
            if old_grace is not None and grace >= old_grace:
                return current  # already being deleted at least as soon
            if grace == 0:
                removed = self.store.remove(resource, namespace, name)
                assert removed is not None
                return removed
            updated = clone(pod)
            updated["metadata"]["deletionTimestamp"] = now_timestamp(grace)
            updated["metadata"]["deletionGracePeriodSeconds"] = grace
            return self.store.put(resource, updated, "MODIFIED")

    # --- watch -------------------------------------------------------------------------------

    def open_watch(
        self,
        resource: ResourceType,
        namespace: str | None,
        query: Query,
        client_gone: Callable[[], bool],
    ) -> WatchStream:
        """Validates a watch request (errors here are plain HTTP errors) and positions it."""
        selector = _selector(query)
        timeout = _int_param(query, "timeoutSeconds")
        version_text = query.get("resourceVersion") or ""
        initial: list[Snapshot] = []
        expired: ApiError | None = None
        with self.store.lock:
            current = self.store.resource_version
            if version_text in ("", "0"):
                initial = [
                    s
                    for s in self.store.snapshots(resource, namespace)
                    if selector.matches(s.obj["metadata"].get("labels"))
                ]
                cursor = self.store.end_index()
            else:
                requested = _int_param(query, "resourceVersion") or 0
                if requested > current:
                    raise ApiError(
                        504,
                        "Timeout",
                        f"Too large resource version: {requested}, current: {current}",
                        {"causes": [{"reason": "ResourceVersionTooLarge"}], "retryAfterSeconds": 1},
                    )
                cursor = 0
                try:
                    cursor = self.store.index_after(requested)
                except ApiError as error:
                    expired = error
        return WatchStream(
            store=self.store,
            resource=resource,
            namespace=namespace,
            selector=selector,
            initial=initial,
            cursor=cursor,
            expired=expired,
            timeout=DEFAULT_WATCH_TIMEOUT if not timeout or timeout <= 0 else float(timeout),
            bookmarks=query.get("allowWatchBookmarks", "").lower() in ("true", "1"),
            client_gone=client_gone,
        )


@dataclass
class WatchStream:
    """One watch: newline-delimited JSON events, as the API server streams them."""

    store: Store
    resource: ResourceType
    namespace: str | None
    selector: LabelSelector
    initial: list[Snapshot]
    cursor: int
    expired: ApiError | None
    timeout: float
    bookmarks: bool
    client_gone: Callable[[], bool]

    def _wanted(self, event: WatchEvent) -> bool:
        # Labels never change (no update verb), so an object matches for all its life.
        snapshot = event.snapshot
        return (
            snapshot.resource is self.resource
            and (self.namespace is None or snapshot.namespace == self.namespace)
            and self.selector.matches(snapshot.obj["metadata"].get("labels"))
        )

    def _bookmark(self, resource_version: int) -> bytes:
        obj = {
            "kind": self.resource.kind,
            "apiVersion": self.resource.api_version,
            "metadata": {"resourceVersion": str(resource_version)},
        }
        return (dumps({"type": "BOOKMARK", "object": obj}) + "\n").encode()

    @staticmethod
    def _error(error: ApiError) -> bytes:
        return (dumps({"type": "ERROR", "object": error.status()}) + "\n").encode()

    def events(self) -> Iterator[bytes]:
        for snapshot in self.initial:
            yield f'{{"type":"ADDED","object":{snapshot.typed_json()}}}\n'.encode()
        if self.expired is not None:
            yield self._error(self.expired)
            return
        deadline = time.monotonic() + self.timeout
        last_sent = time.monotonic()
        while not self.store.closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                with self.store.lock:
                    events, self.cursor = self.store.events_from(self.cursor)
                    seen_version = self.store.resource_version
            except ApiError as error:
                yield self._error(error)
                return
            lines = [event.line() for event in events if self._wanted(event)]
            if lines:
                last_sent = time.monotonic()
                yield from lines
                continue
            if self.client_gone():
                return
            if self.bookmarks and time.monotonic() - last_sent >= BOOKMARK_INTERVAL:
                last_sent = time.monotonic()
                yield self._bookmark(seen_version)
            self.store.wait_for_change(self.cursor, min(remaining, 1.0))
