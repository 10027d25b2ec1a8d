"""The API server's request handling for stored resources, independent of HTTP.

Mirrors the generic registry of ``k8s.io/apiserver``: create (namespace lifecycle, defaulting,
generateName, validation, Pod Security, AlreadyExists), get, list (label and field selectors,
limit/continue), update and patch (optimistic concurrency on resourceVersion, no-op writes that
keep the resourceVersion, status kept apart from spec by the status subresource, generation
bumped on spec changes), delete (preconditions, graceful pod deletion, finalizers, namespace
termination), deletecollection and watch (initial events, resume from a resourceVersion, 410
Expired, selector transitions turned into ADDED/DELETED, bookmarks, timeoutSeconds).
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from . import errors
from .admission import pod_security_violation
from .errors import ApiError
from .ipam import IpPool, PoolExhausted
from .lifecycle import now_timestamp, qos_class
from .patch import apply_patch
from .resources import NAMESPACES, PODS, SERVICES, ResourceType
from .selectors import FieldSelector, LabelSelector, Selection
from .store import Snapshot, Store, WatchEvent, clone, dumps
from .validation import apply_defaults, check_quantities, validate, validate_update

JSON = dict[str, Any]
Query = dict[str, str]

SERVICE_CIDR = "10.96.0.0/12"
SERVICE_ACCOUNT_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
PROTECTED_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})
GENERATED_SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"
SERVER_MANAGED_META = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "selfLink",
    "managedFields",
)
BOOKMARK_INTERVAL = 5.0
DEFAULT_WATCH_TIMEOUT = 1800.0


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1")


def _dry_run(query: Query, body: JSON | None = None) -> bool:
    requested = query.get("dryRun") or ""
    if body and isinstance(body.get("dryRun"), list):
        requested = ",".join(body["dryRun"])
    if requested and requested != "All":
        raise errors.bad_request(f'invalid dry run option: "{requested}"')
    return requested == "All"


def selection_from(resource: ResourceType, query: Query) -> Selection:
    return Selection(
        LabelSelector.parse(query.get("labelSelector")),
        FieldSelector.parse(query.get("fieldSelector"), resource),
    )


def _decode_error(resource: ResourceType, error: Exception) -> ApiError:
    return errors.bad_request(
        f'{resource.kind} in version "{resource.version}" cannot be handled as a '
        f"{resource.kind}: {error}"
    )


@dataclass
class ListResult:
    items: list[Snapshot]
    resource_version: int
    continue_token: str | None
    remaining: int | None


class ApiServer:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.service_ips = IpPool(SERVICE_CIDR, first_offset=11)
        store.add_listener(self._on_event)

    def _on_event(self, event: WatchEvent) -> None:
        if event.type == "DELETED" and event.snapshot.resource is SERVICES:
            self.service_ips.release((event.snapshot.obj.get("spec") or {}).get("clusterIP"))

    def reserve_loaded_addresses(self) -> None:
        """After loading a state file, mark the stored services' cluster IPs as taken."""
        self.service_ips.clear()
        for snapshot in self.store.snapshots(SERVICES, None):
            ip = (snapshot.obj.get("spec") or {}).get("clusterIP")
            if ip and ip != "None":
                self.service_ips.reserve(ip)

    # --- reads -------------------------------------------------------------------------------

    def get(self, resource: ResourceType, namespace: str, name: str) -> Snapshot:
        snapshot = self.store.get(resource, namespace, name)
        if snapshot is None:
            raise errors.not_found(resource, name)
        return snapshot

    def list_collection(
        self, resource: ResourceType, namespace: str | None, query: Query
    ) -> ListResult:
        selection = selection_from(resource, query)
        limit = self._int_param(query, "limit") or 0
        start_after = self._decode_continue(query.get("continue"))
        with self.store.lock:
            snapshots = self.store.snapshots(resource, namespace)
            resource_version = self.store.resource_version
        if start_after is not None:
            snapshots = [s for s in snapshots if (s.namespace, s.name) > start_after]
        matching = [s for s in snapshots if selection.matches(s.obj)]
        if limit and len(matching) > limit:
            last = matching[limit - 1]
            token = base64.urlsafe_b64encode(
                dumps(
                    {
                        "v": "meta.k8s.io/v1",
                        "rv": resource_version,
                        "start": [last.namespace, last.name],
                    }
                ).encode()
            ).decode()
            return ListResult(matching[:limit], resource_version, token, len(matching) - limit)
        return ListResult(matching, resource_version, None, None)

    @staticmethod
    def _int_param(query: Query, key: str) -> int | None:
        raw = query.get(key)
        if raw in (None, ""):
            return None
        try:
            return int(str(raw))
        except ValueError as error:
            raise errors.bad_request(f'invalid value for {key}: "{raw}"') from error

    @staticmethod
    def _decode_continue(token: str | None) -> tuple[str, str] | None:
        if not token:
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode()))
            namespace, name = data["start"]
            return str(namespace), str(name)
        except (ValueError, KeyError, TypeError, binascii.Error) as error:
            raise errors.bad_request(f"continue key is not valid: {error}") from error

    # --- create ------------------------------------------------------------------------------

    def _check_namespace_for_write(self, resource: ResourceType, namespace: str, name: str) -> JSON:
        found = self.store.get(NAMESPACES, "", namespace)
        if found is None:
            raise errors.not_found(NAMESPACES, namespace)
        if found.obj["metadata"].get("deletionTimestamp"):
            raise errors.forbidden(
                resource,
                name,
                f"unable to create new content in namespace {namespace} "
                "because it is being terminated",
            )
        return found.obj

    def _decode_body(self, resource: ResourceType, body: object, namespace: str) -> JSON:
        if not isinstance(body, dict):
            raise errors.bad_request(
                f"the object provided is unrecognized (must be of type {resource.kind})"
            )
        kind, api_version = body.get("kind"), body.get("apiVersion")
        if kind not in (None, "", resource.kind) or api_version not in (
            None,
            "",
            resource.api_version,
        ):
            raise errors.bad_request(
                f'{kind} in version "{api_version}" cannot be handled as a {resource.kind}: '
                f"the object provided is unrecognized (must be of type {resource.kind})"
            )
        obj = clone(body)
        obj.pop("kind", None)
        obj.pop("apiVersion", None)
        meta = obj.get("metadata")
        if meta is None:
            meta = obj["metadata"] = {}
        if not isinstance(meta, dict):
            raise _decode_error(resource, TypeError("metadata must be an object"))
        if resource.namespaced:
            if meta.get("namespace") not in (None, "", namespace):
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        return obj

    def _prepare(self, resource: ResourceType, obj: JSON, admit: bool = False) -> None:
        """Defaulting (and on create, mutating admission); malformed field types answer 400
        as the real decoder does."""
        try:
            apply_defaults(resource, obj)
            if resource is PODS:
                check_quantities(obj)
                if admit:
                    self._admit_pod_defaults(obj)
        except (AttributeError, TypeError) as error:
            raise _decode_error(resource, error) from error

    def _validate(
        self, resource: ResourceType, name: str, check: Callable[[], list[errors.FieldError]]
    ) -> None:
        try:
            problems = check()
        except (AttributeError, TypeError, KeyError) as error:
            raise _decode_error(resource, error) from error
        if problems:
            raise errors.invalid(resource, name, problems)

    def create(
        self, resource: ResourceType, namespace: str, body: object, query: Query
    ) -> Snapshot:
        dry_run = _dry_run(query)
        obj = self._decode_body(resource, body, namespace if resource.namespaced else "")
        meta = obj["metadata"]
        if meta.get("resourceVersion"):
            raise errors.bad_request("resourceVersion should not be set on objects to be created")
        for key in SERVER_MANAGED_META:
            meta.pop(key, None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = str(meta["generateName"])[:58] + "".join(
                secrets.choice(GENERATED_SUFFIX_CHARS) for _ in range(5)
            )
        name = str(meta.get("name") or "")
        namespace_obj = (
            self._check_namespace_for_write(resource, namespace, name)
            if resource.namespaced
            else None
        )
        self._prepare(resource, obj, admit=True)
        obj["status"] = self._initial_status(resource, obj)
        self._validate(resource, name, lambda: validate(resource, obj))
        if resource is PODS and namespace_obj is not None:
            violation = pod_security_violation(namespace_obj, obj)
            if violation:
                raise errors.forbidden(resource, name, violation)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_timestamp()
        if resource is not NAMESPACES:
            meta["generation"] = 1
        with self.store.lock:
            if self.store.get(resource, obj["metadata"].get("namespace", ""), name) is not None:
                raise errors.already_exists(resource, name)
            if resource is SERVICES:
                self._allocate_cluster_ip(obj, name, dry_run)
            if dry_run:
                return Snapshot(resource, obj)
            return self.store.put(resource, obj, "ADDED")

    def _initial_status(self, resource: ResourceType, obj: JSON) -> JSON:
        if resource is PODS:
            return {"phase": "Pending", "qosClass": qos_class(obj)}
        if resource is NAMESPACES:
            return {"phase": "Active"}
        return {"loadBalancer": {}}

    def _admit_pod_defaults(self, pod: JSON) -> None:
        """Mutating admission of a default cluster: service account token and tolerations."""
        spec = pod["spec"]
        tolerations = spec.setdefault("tolerations", [])
        for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
            if not any(
                t.get("key") == key and t.get("effect") in (None, "", "NoExecute")
                for t in tolerations
            ):
                tolerations.append(
                    {
                        "key": key,
                        "operator": "Exists",
                        "effect": "NoExecute",
                        "tolerationSeconds": 300,
                    }
                )
        if spec.get("automountServiceAccountToken") is False:
            return
        volume = "kube-api-access-" + "".join(
            secrets.choice(GENERATED_SUFFIX_CHARS) for _ in range(5)
        )
        spec.setdefault("volumes", []).append(
            {
                "name": volume,
                "projected": {
                    "defaultMode": 420,
                    "sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                        {
                            "configMap": {
                                "name": "kube-root-ca.crt",
                                "items": [{"key": "ca.crt", "path": "ca.crt"}],
                            }
                        },
                        {
                            "downwardAPI": {
                                "items": [
                                    {
                                        "path": "namespace",
                                        "fieldRef": {
                                            "apiVersion": "v1",
                                            "fieldPath": "metadata.namespace",
                                        },
                                    }
                                ]
                            }
                        },
                    ],
                },
            }
        )
        for key in ("initContainers", "containers"):
            for container in spec.get(key) or []:
                mounts = container.setdefault("volumeMounts", [])
                if not any(m.get("mountPath") == SERVICE_ACCOUNT_MOUNT for m in mounts):
                    mounts.append(
                        {"name": volume, "readOnly": True, "mountPath": SERVICE_ACCOUNT_MOUNT}
                    )

    def _allocate_cluster_ip(self, service: JSON, name: str, dry_run: bool) -> None:
        spec = service["spec"]
        if spec.get("type") == "ExternalName":
            return
        requested = spec.get("clusterIP") or ""
        if requested == "None":
            spec["clusterIPs"] = ["None"]
        elif requested:
            if not self.service_ips.contains(requested):
                raise errors.invalid(
                    SERVICES,
                    name,
                    [
                        errors.FieldError(
                            "Invalid",
                            "spec.clusterIPs",
                            [requested],
                            f"failed to allocate IP {requested}: the provided IP ({requested}) "
                            f"is not in the valid range. The range of valid IPs is {SERVICE_CIDR}",
                        )
                    ],
                )
            if not dry_run and not self.service_ips.reserve(requested):
                raise errors.invalid(
                    SERVICES,
                    name,
                    [
                        errors.FieldError(
                            "Invalid",
                            "spec.clusterIPs",
                            [requested],
                            f"failed to allocate IP {requested}: provided IP is already allocated",
                        )
                    ],
                )
            spec["clusterIPs"] = [requested]
        else:
            try:
                ip = "10.96.0.100" if dry_run else self.service_ips.allocate()
            except PoolExhausted as error:
                raise errors.internal_error(f"failed to allocate a serviceIP: {error}") from error
            spec["clusterIP"] = ip
            spec["clusterIPs"] = [ip]
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")

    # --- update and patch --------------------------------------------------------------------

    def update(
        self,
        resource: ResourceType,
        namespace: str,
        name: str,
        body: object,
        query: Query,
        subresource: str = "",
    ) -> Snapshot:
        dry_run = _dry_run(query)
        obj = self._decode_body(resource, body, namespace)
        body_name = obj["metadata"].get("name")
        if body_name != name:
            raise errors.bad_request(
                f"the name of the object ({body_name}) does not match the name on the URL ({name})"
            )
        with self.store.lock:
            current = self.get(resource, namespace, name)
            return self._write(resource, current, obj, subresource, dry_run)

    def patch(
        self,
        resource: ResourceType,
        namespace: str,
        name: str,
        content_type: str,
        patch: object,
        query: Query,
        subresource: str = "",
    ) -> Snapshot:
        dry_run = _dry_run(query)
        with self.store.lock:
            current = self.get(resource, namespace, name)
            document = json.loads(current.typed_json())
            patched = apply_patch(content_type, document, patch)
            if not isinstance(patched, dict):
                raise errors.bad_request("the patch produced an object that is not a JSON object")
            obj = self._decode_body(resource, patched, namespace)
            if obj["metadata"].get("name") != name:
                raise errors.invalid(
                    resource,
                    name,
                    [
                        errors.FieldError(
                            "Invalid",
                            "metadata.name",
                            obj["metadata"].get("name"),
                            "field is immutable",
                        )
                    ],
                )
            return self._write(resource, current, obj, subresource, dry_run)

    def _write(
        self, resource: ResourceType, current: Snapshot, obj: JSON, subresource: str, dry_run: bool
    ) -> Snapshot:
        """The shared tail of update and patch; the caller holds the store lock."""
        old = current.obj
        name = current.name
        meta = obj["metadata"]
        requested_version = meta.get("resourceVersion")
        if requested_version and requested_version != old["metadata"]["resourceVersion"]:
            raise errors.conflict(resource, name, errors.STALE_OBJECT)
        if subresource == "status":
            # The status subresource changes status only; everything else stays as stored.
            new = clone(old)
            new["status"] = obj.get("status") if isinstance(obj.get("status"), dict) else {}
        else:
            new = obj
            new["status"] = clone(old).get("status", {})
            old_meta = old["metadata"]
            # Server-managed metadata cannot be changed by an update (a differing uid is 422).
            for key in (
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
            ):
                if key in old_meta:
                    meta[key] = old_meta[key]
                else:
                    meta.pop(key, None)
            if not meta.get("uid"):
                meta["uid"] = old_meta["uid"]
            if resource is SERVICES:
                self._keep_allocated_ips(old, new)
            if resource is NAMESPACES:
                new["spec"] = clone(old).get("spec", {})
            self._prepare(resource, new)
            self._validate(resource, name, lambda: validate_update(resource, old, new))
            if old["metadata"].get("deletionTimestamp"):
                added = set(meta.get("finalizers") or []) - set(
                    old["metadata"].get("finalizers") or []
                )
                if added:
                    raise errors.invalid(
                        resource,
                        name,
                        [
                            errors.FieldError(
                                "Forbidden",
                                "metadata.finalizers",
                                detail="no new finalizers can be added if the object is being "
                                "deleted",
                            )
                        ],
                    )
            if new.get("spec") != old.get("spec") and "generation" in old["metadata"]:
                meta["generation"] = int(old["metadata"]["generation"]) + 1
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if new == old or dry_run:
            # Like etcd's GuaranteedUpdate: an unchanged object is not written again.
            return current if new == old else Snapshot(resource, new)
        snapshot = self.store.put(resource, new, "MODIFIED")
        self._remove_if_finalized(resource, snapshot)
        return snapshot

    @staticmethod
    def _keep_allocated_ips(old: JSON, new: JSON) -> None:
        old_spec, new_spec = old.get("spec") or {}, new.get("spec")
        if not isinstance(new_spec, dict):
            return
        for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
            if key in old_spec and not new_spec.get(key):
                new_spec[key] = old_spec[key]

    def _remove_if_finalized(self, resource: ResourceType, snapshot: Snapshot) -> None:
        meta = snapshot.obj["metadata"]
        if not meta.get("deletionTimestamp") or meta.get("finalizers"):
            return
        if resource is PODS and meta.get("deletionGracePeriodSeconds") not in (0, None):
            return  # the kubelet has not finished stopping it yet
        if resource is NAMESPACES:
            return  # the namespace controller removes it once its content is gone
        self.store.remove(resource, snapshot.namespace, snapshot.name)

    # --- delete ------------------------------------------------------------------------------

    def delete(
        self, resource: ResourceType, namespace: str, name: str, options: JSON, query: Query
    ) -> Snapshot:
        dry_run = _dry_run(query, options)
        grace = self._grace_period(options, query)
        with self.store.lock:
            current = self.get(resource, namespace, name)
            self._check_preconditions(resource, current, options)
            if resource is NAMESPACES and name in PROTECTED_NAMESPACES:
                raise errors.forbidden(resource, name, "this namespace may not be deleted")
            if dry_run:
                return current
            return self._delete_one(resource, current, grace)

    def delete_collection(
        self, resource: ResourceType, namespace: str | None, options: JSON, query: Query
    ) -> tuple[list[Snapshot], int]:
        dry_run = _dry_run(query, options)
        grace = self._grace_period(options, query)
        selection = selection_from(resource, query)
        deleted: list[Snapshot] = []
        with self.store.lock:
            for snapshot in self.store.snapshots(resource, namespace):
                if not selection.matches(snapshot.obj):
                    continue
                deleted.append(snapshot if dry_run else self._delete_one(resource, snapshot, grace))
            return deleted, self.store.resource_version

    @staticmethod
    def _grace_period(options: JSON, query: Query) -> int | None:
        value = options.get("gracePeriodSeconds")
        if value is None:
            value = query.get("gracePeriodSeconds")
        if value in (None, ""):
            return None
        try:
            return max(int(str(value)), 0)
        except ValueError as error:
            raise errors.bad_request(f'invalid value for gracePeriodSeconds: "{value}"') from error

    @staticmethod
    def _check_preconditions(resource: ResourceType, current: Snapshot, options: JSON) -> None:
        preconditions = options.get("preconditions") or {}
        meta = current.obj["metadata"]
        uid, version = preconditions.get("uid"), preconditions.get("resourceVersion")
        if uid and uid != meta["uid"]:
            raise errors.conflict(
                resource,
                current.name,
                f"Precondition failed: UID in precondition: {uid}, "
                f"UID in object meta: {meta['uid']}",
            )
        if version and version != meta["resourceVersion"]:
            raise errors.conflict(
                resource,
                current.name,
                f"Precondition failed: ResourceVersion in precondition: {version}, "
                f"ResourceVersion in object meta: {meta['resourceVersion']}",
            )

    def _delete_one(self, resource: ResourceType, current: Snapshot, grace: int | None) -> Snapshot:
        obj = current.obj
        meta = obj["metadata"]
        if resource is PODS:
            if grace is None:
                grace = int(obj["spec"].get("terminationGracePeriodSeconds", 30))
            phase = (obj.get("status") or {}).get("phase")
            if not obj["spec"].get("nodeName") or phase in ("Succeeded", "Failed"):
                grace = 0  # nothing runs on a node: a pod that never started goes at once
        else:
            grace = 0
        if meta.get("deletionTimestamp"):
            old_grace = meta.get("deletionGracePeriodSeconds")
            if resource is not PODS or old_grace is None or grace >= old_grace:
                return current
        keeps_object = (
            bool(meta.get("finalizers"))
            or resource is NAMESPACES
            or (resource is PODS and grace > 0)
        )
        if not keeps_object:
            removed = self.store.remove(resource, current.namespace, current.name)
            assert removed is not None
            return removed
        updated = clone(obj)
        deletion_time = datetime.now(UTC) + timedelta(seconds=grace)
        updated["metadata"]["deletionTimestamp"] = deletion_time.strftime("%Y-%m-%dT%H:%M:%SZ")
        updated["metadata"]["deletionGracePeriodSeconds"] = grace
        if resource is NAMESPACES:
            updated["status"] = {"phase": "Terminating"}
            updated["metadata"].pop("deletionGracePeriodSeconds")
        snapshot = self.store.put(resource, updated, "MODIFIED")
        self._remove_if_finalized(resource, snapshot)
        return snapshot

    # --- watch -------------------------------------------------------------------------------

    def open_watch(
        self,
        resource: ResourceType,
        namespace: str | None,
        query: Query,
        client_gone: Callable[[], bool],
    ) -> WatchStream:
        """Validates a watch request (errors here are plain HTTP errors) and positions it."""
        selection = selection_from(resource, query)
        timeout = self._int_param(query, "timeoutSeconds")
        version_text = query.get("resourceVersion") or ""
        send_initial = _truthy(query.get("sendInitialEvents"))
        initial: list[Snapshot] = []
        expired: ApiError | None = None
        with self.store.lock:
            current = self.store.resource_version
            if version_text in ("", "0") or send_initial:
                initial = [
                    s for s in self.store.snapshots(resource, namespace) if selection.matches(s.obj)
                ]
                cursor = self.store.end_index()
            else:
                try:
                    requested = int(version_text)
                except ValueError as error:
                    raise errors.bad_request(
                        f'invalid resource version: "{version_text}"'
                    ) from error
                if requested > current:
                    raise ApiError(
                        504,
                        "Timeout",
                        f"Too large resource version: {requested}, current: {current}",
                        {
                            "causes": [
                                {
                                    "reason": "ResourceVersionTooLarge",
                                    "message": "Too large resource version",
                                }
                            ],
                            "retryAfterSeconds": 1,
                        },
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
            selection=selection,
            initial=initial,
            cursor=cursor,
            start_version=current,
            expired=expired,
            timeout=DEFAULT_WATCH_TIMEOUT if timeout is None or timeout <= 0 else float(timeout),
            bookmarks=_truthy(query.get("allowWatchBookmarks")),
            initial_events_end=send_initial,
            client_gone=client_gone,
        )


@dataclass
class WatchStream:
    """One watch: newline-delimited JSON events, as the API server streams them."""

    store: Store
    resource: ResourceType
    namespace: str | None
    selection: Selection
    initial: list[Snapshot]
    cursor: int
    start_version: int
    expired: ApiError | None
    timeout: float
    bookmarks: bool
    initial_events_end: bool
    client_gone: Callable[[], bool]

    def _classify(self, event: WatchEvent) -> str | None:
        snapshot = event.snapshot
        if snapshot.resource is not self.resource:
            return None
        if self.namespace is not None and snapshot.namespace != self.namespace:
            return None
        if self.selection.labels.empty and self.selection.fields.empty:
            return event.type
        if event.type == "DELETED":
            return "DELETED" if self.selection.matches(snapshot.obj) else None
        now_matches = self.selection.matches(snapshot.obj)
        before_matches = (
            event.previous is not None
            and event.type == "MODIFIED"
            and self.selection.matches(event.previous.obj)
        )
        if now_matches:
            return "MODIFIED" if before_matches else "ADDED"
        return "DELETED" if before_matches else None

    def _bookmark(self, resource_version: int, initial_end: bool = False) -> bytes:
        metadata: JSON = {"resourceVersion": str(resource_version)}
        if initial_end:
            metadata["annotations"] = {"k8s.io/initial-events-end": "true"}
        obj = {
            "kind": self.resource.kind,
            "apiVersion": self.resource.api_version,
            "metadata": metadata,
        }
        return (dumps({"type": "BOOKMARK", "object": obj}) + "\n").encode()

    @staticmethod
    def _error(error: ApiError) -> bytes:
        return (dumps({"type": "ERROR", "object": error.status()}) + "\n").encode()

    def events(self) -> Iterator[bytes]:
        for snapshot in self.initial:
            yield f'{{"type":"ADDED","object":{snapshot.typed_json()}}}\n'.encode()
        if self.initial_events_end and self.bookmarks:
            yield self._bookmark(self.start_version, initial_end=True)
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
            sent = False
            for event in events:
                event_type = self._classify(event)
                if event_type is not None:
                    sent = True
                    yield event.line(event_type)
            if sent:
                last_sent = time.monotonic()
                continue
            if self.client_gone():
                return
            if self.bookmarks and time.monotonic() - last_sent >= BOOKMARK_INTERVAL:
                last_sent = time.monotonic()
                yield self._bookmark(seen_version)
            self.store.wait_for_change(self.cursor, min(remaining, 1.0))
