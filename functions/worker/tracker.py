"""One list-and-watch of Sprout's pods for the whole job: what each container's pod is doing.

A job waits for many pods at once; it does so through this one watch (label
`app.kubernetes.io/part-of=sprout`), never one watch or one poll loop per pod. The watch
thread keeps a small summary per container (`podstatus.PodState`) and calls `on_change` with
the container ids whose pods changed. When the watch breaks off (a dropped connection, a 410
Gone, an API error) the tracker lists again and resumes from the list's resourceVersion; a
pod missing from a list that started after we last heard of it is gone.

A deleted pod leaves a tombstone (`GONE`), so a waiter learns the pod vanished even when it
asks after the fact. `seed()` records the object a create call answered, so a waiter never
mistakes "not reported by the watch yet" for "gone".
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from functions.worker.builders import CONTAINER_ID_LABEL, container_id_of
from functions.worker.errors import KubeError, backoff_delay
from functions.worker.kube import Kube
from functions.worker.podstatus import GONE, PodState, summarize

log = logging.getLogger("sprout.worker.tracker")

TOMBSTONE_SECONDS = 600.0


@dataclass(frozen=True)
class _Seen:
    state: PodState
    at: float  # monotonic time we learnt it


def container_id_of_object(obj: dict[str, Any]) -> str | None:
    metadata = obj.get("metadata") or {}
    label = (metadata.get("labels") or {}).get(CONTAINER_ID_LABEL)
    if isinstance(label, str) and label:
        return label
    name = metadata.get("name")
    return container_id_of(name) if isinstance(name, str) else None


class PodTracker:
    def __init__(
        self,
        kube: Kube,
        on_change: Callable[[list[str]], None],
        *,
        clock: Callable[[], float] = time.monotonic,
        backoff_base: float = 0.2,
        backoff_max: float = 5.0,
    ) -> None:
        self.kube = kube
        self.on_change = on_change
        self.clock = clock
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._lock = threading.Lock()
        self._pods: dict[str, _Seen] = {}
        self._resource_version = ""
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.relists = 0
        self.events = 0

    # -- what waiters ask ---------------------------------------------------------------------

    def state(self, container_id: str) -> PodState | None:
        """The pod's state, or None if the tracker has not heard of it."""
        with self._lock:
            seen = self._pods.get(container_id)
        return seen.state if seen else None

    def seed(self, container_id: str, pod: dict[str, Any]) -> None:
        """Remember a pod a create (or read) call answered, unless the watch knows better."""
        with self._lock:
            if container_id not in self._pods:
                self._pods[container_id] = _Seen(summarize(pod), self.clock())

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """List once (so the job starts with the truth), then watch in a thread. If the API
        does not answer now, the thread keeps trying; waiters wait (up to their deadline)."""
        try:
            self._relist()
        except KubeError as exc:
            log.warning("listing pods failed: %s", exc)
        self._thread = threading.Thread(target=self._run, name="pod-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self.kube.stop_watch()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # -- the watch thread ---------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            healthy = False
            try:
                healthy = self._watch_once()
            except KubeError as exc:
                if self._stopping.is_set():
                    return
                log.info("pod watch broke off: %s", exc)
            if self._stopping.is_set():
                return
            if healthy:
                failures = 0
                continue  # the server closed a good watch (its timeout): resume from there
            failures += 1
            if self._stopping.wait(backoff_delay(failures, self.backoff_base, self.backoff_max)):
                return
            try:
                self._relist()
            except KubeError as exc:
                log.warning("listing pods failed: %s", exc)

    def _watch_once(self) -> bool:
        """Follow one watch; True if it ended cleanly, False if a relist is needed."""
        for event in self.kube.watch_pods(self._resource_version):
            if self._stopping.is_set():
                return True
            kind = event.get("type")
            obj = event.get("object") or {}
            if kind == "ERROR":
                log.info("pod watch error: %s", obj.get("message") or obj)
                return False  # 410 Gone (too old) or another error: list again
            version = (obj.get("metadata") or {}).get("resourceVersion")
            if version:
                self._resource_version = str(version)
            if kind == "BOOKMARK":
                continue
            container_id = container_id_of_object(obj)
            if container_id is None:
                continue
            state = GONE if kind == "DELETED" else summarize(obj)
            self.events += 1
            with self._lock:
                self._pods[container_id] = _Seen(state, self.clock())
            self.on_change([container_id])
        return True

    def _relist(self) -> None:
        started = self.clock()
        answer = self.kube.list_pods()
        self.relists += 1
        present: dict[str, PodState] = {}
        for pod in answer.get("items") or []:
            container_id = container_id_of_object(pod)
            if container_id is not None:
                present[container_id] = summarize(pod)
        now = self.clock()
        changed: list[str] = []
        with self._lock:
            for container_id, state in present.items():
                old = self._pods.get(container_id)
                if old is None or old.state != state:
                    changed.append(container_id)
                self._pods[container_id] = _Seen(state, now)
            for container_id, seen in list(self._pods.items()):
                if container_id in present:
                    continue
                if seen.state == GONE:
                    if now - seen.at > TOMBSTONE_SECONDS:
                        del self._pods[container_id]
                elif seen.at < started:
                    self._pods[container_id] = _Seen(GONE, now)
                    changed.append(container_id)
        self._resource_version = str((answer.get("metadata") or {}).get("resourceVersion") or "")
        if changed:
            self.on_change(changed)

    def known(self) -> Iterable[str]:
        with self._lock:
            return list(self._pods)
