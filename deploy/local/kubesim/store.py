"""The object store: etcd plus the API server's watch cache, in memory behind one lock.

Mirrors what clients can observe of etcd and the watch cache: one cluster-wide, monotonically
increasing ``resourceVersion`` stamped on every write; objects listed in key order
(namespace, then name); a bounded history of ADDED/MODIFIED/DELETED events that watches read
from a resourceVersion on, with "too old resource version" once history was compacted away.

Stored objects are immutable snapshots (a write stores a new dict), so readers serialize them
outside the lock and each snapshot's JSON is computed once however many watchers send it.
"""

from __future__ import annotations

import bisect
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .errors import too_old_resource_version
from .resources import ResourceType

JSON = dict[str, Any]


def dumps(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def now_timestamp(after_seconds: float = 0) -> str:
    """An RFC 3339 time in whole seconds, as metadata and status carry times."""
    return (datetime.now(UTC) + timedelta(seconds=after_seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def clone(obj: JSON) -> JSON:
    """A deep copy of a JSON object (faster than ``copy.deepcopy`` for plain JSON)."""
    result: JSON = json.loads(dumps(obj))
    return result


class Snapshot:
    """One stored version of an object; never mutated once stored."""

    __slots__ = ("_json", "obj", "resource")

    def __init__(self, resource: ResourceType, obj: JSON) -> None:
        self.resource = resource
        self.obj = obj
        self._json: str | None = None

    def body_json(self) -> str:
        """The object without kind/apiVersion, as list items are sent."""
        if self._json is None:
            self._json = dumps(self.obj)
        return self._json

    def typed_json(self) -> str:
        """The object with kind and apiVersion first, as get, create and watch send it."""
        body = self.body_json()
        prefix = f'{{"kind":"{self.resource.kind}","apiVersion":"{self.resource.api_version}"'
        return prefix + ("," + body[1:] if body != "{}" else "}")

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])

    @property
    def namespace(self) -> str:
        return str(self.obj["metadata"].get("namespace", ""))


@dataclass(eq=False)
class WatchEvent:
    type: str  # ADDED, MODIFIED or DELETED
    snapshot: Snapshot
    previous: Snapshot | None
    resource_version: int
    _line: bytes | None = field(default=None, repr=False)

    def line(self) -> bytes:
        """The newline-terminated JSON of this event as a watch stream carries it."""
        if self._line is None:
            text = f'{{"type":"{self.type}","object":{self.snapshot.typed_json()}}}\n'
            self._line = text.encode()
        return self._line


class Store:
    """All objects of all resource types, their resourceVersion counter and event history."""

    def __init__(self, history_limit: int = 10_000) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.history_limit = max(history_limit, 1)
        self._objects: dict[str, dict[str, dict[str, Snapshot]]] = {}
        # Never 0: a list's resourceVersion "0" would mean "any version" to a watch.
        self._resource_version = 1
        self._events: list[WatchEvent] = []
        self._first_event_index = 0
        # Watches may resume from any resourceVersion >= this one.
        self._oldest_resumable = 1
        self._listeners: list[Callable[[WatchEvent], None]] = []
        self.closed = False

    # --- reads (callers hold the lock when they need a consistent view) ----------------------

    @property
    def resource_version(self) -> int:
        return self._resource_version

    def get(self, resource: ResourceType, namespace: str, name: str) -> Snapshot | None:
        with self.lock:
            return self._objects.get(resource.plural, {}).get(namespace, {}).get(name)

    def snapshots(self, resource: ResourceType, namespace: str | None) -> list[Snapshot]:
        """Objects in key order; ``namespace=None`` lists every namespace."""
        with self.lock:
            by_namespace = self._objects.get(resource.plural, {})
            if namespace is not None:
                found = by_namespace.get(namespace, {})
                return [found[name] for name in sorted(found)]
            result: list[Snapshot] = []
            for space in sorted(by_namespace):
                found = by_namespace[space]
                result.extend(found[name] for name in sorted(found))
            return result

    # --- writes ------------------------------------------------------------------------------

    def add_listener(self, listener: Callable[[WatchEvent], None]) -> None:
        """``listener`` runs under the lock after every write; it must not block."""
        self._listeners.append(listener)

    def put(self, resource: ResourceType, obj: JSON, event_type: str) -> Snapshot:
        """Stores ``obj`` (which the caller must no longer mutate) under a new resourceVersion."""
        with self.lock:
            self._resource_version += 1
            obj["metadata"]["resourceVersion"] = str(self._resource_version)
            snapshot = Snapshot(resource, obj)
            bucket = self._objects.setdefault(resource.plural, {}).setdefault(
                snapshot.namespace, {}
            )
            previous = bucket.get(snapshot.name)
            bucket[snapshot.name] = snapshot
            self._record(WatchEvent(event_type, snapshot, previous, self._resource_version))
            return snapshot

    def remove(self, resource: ResourceType, namespace: str, name: str) -> Snapshot | None:
        """Deletes an object; the DELETED event carries it with the deletion's resourceVersion."""
        with self.lock:
            bucket = self._objects.get(resource.plural, {}).get(namespace, {})
            previous = bucket.pop(name, None)
            if previous is None:
                return None
            self._resource_version += 1
            final = dict(previous.obj)
            final["metadata"] = dict(previous.obj["metadata"])
            final["metadata"]["resourceVersion"] = str(self._resource_version)
            snapshot = Snapshot(resource, final)
            self._record(WatchEvent("DELETED", snapshot, previous, self._resource_version))
            return snapshot

    def _record(self, event: WatchEvent) -> None:
        self._events.append(event)
        if len(self._events) >= 2 * self.history_limit:
            # Compact in batches so appends stay O(1) amortized.
            dropped = len(self._events) - self.history_limit
            self._oldest_resumable = self._events[dropped - 1].resource_version
            del self._events[:dropped]
            self._first_event_index += dropped
        for listener in self._listeners:
            listener(event)
        self.changed.notify_all()

    # --- watch support -----------------------------------------------------------------------

    def end_index(self) -> int:
        """The cursor just past the newest event."""
        return self._first_event_index + len(self._events)

    def index_after(self, resource_version: int) -> int:
        """The cursor of the first event newer than ``resource_version``; raises 410 if gone."""
        with self.lock:
            if resource_version < self._oldest_resumable:
                raise too_old_resource_version(resource_version, self._oldest_resumable + 1)
            position = bisect.bisect_right(
                self._events, resource_version, key=lambda event: event.resource_version
            )
            return self._first_event_index + position

    def events_from(self, index: int) -> tuple[list[WatchEvent], int]:
        """Events from cursor ``index`` on and the next cursor; raises 410 if compacted away."""
        with self.lock:
            if index < self._first_event_index:
                raise too_old_resource_version(
                    self._events[0].resource_version - 1 if self._events else 0,
                    self._oldest_resumable + 1,
                )
            start = index - self._first_event_index
            return self._events[start:], self.end_index()

    def wait_for_change(self, index: int, timeout: float) -> None:
        """Blocks until an event exists at ``index`` or later, the store closes, or timeout."""
        with self.lock:
            if index >= self.end_index() and not self.closed:
                self.changed.wait(timeout)

    def close(self) -> None:
        with self.lock:
            self.closed = True
            self.changed.notify_all()

    # --- bulk operations (persistence and reset) ---------------------------------------------

    def dump(self) -> tuple[int, dict[str, list[Snapshot]]]:
        with self.lock:
            snapshots = {
                plural: [snap for found in spaces.values() for snap in found.values()]
                for plural, spaces in self._objects.items()
            }
            return self._resource_version, snapshots

    def load(self, resource_version: int, objects: Iterable[tuple[ResourceType, JSON]]) -> None:
        """Replaces the contents without emitting events (history starts after the load)."""
        with self.lock:
            self._objects.clear()
            for resource, obj in objects:
                snapshot = Snapshot(resource, obj)
                self._objects.setdefault(resource.plural, {}).setdefault(snapshot.namespace, {})[
                    snapshot.name
                ] = snapshot
            self._resource_version = max(self._resource_version, resource_version)
            # Skip one index so cursors of open watches fall before the new history (410).
            self._first_event_index += len(self._events) + 1
            self._events.clear()
            self._oldest_resumable = self._resource_version
            self.changed.notify_all()
