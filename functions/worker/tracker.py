"""One list-and-watch of Sprout's pods for the whole job: what each container's pod is doing.

A job waits for many pods at once; it does so through this one watch (label
`app.kubernetes.io/part-of=sprout`), never one watch or one poll loop per pod. The watch
thread keeps a small summary per container (`podstatus.PodState`); an entry's thread blocks
in `wait()` until its container's pod is ready, failed or gone (the watch thread wakes only
the threads waiting on the container that changed). When the watch breaks off (a dropped
connection, a 410 Gone, an API error) the tracker lists again and resumes from the list's
resourceVersion; a pod missing from a list that started after we last heard of it is gone.

A deleted pod leaves a tombstone (`GONE`), so a waiter learns the pod vanished even when it
asks after the fact. `seed()` records the object a create call answered, so a waiter never
mistakes "not reported by the watch yet" for "gone".
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
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
        *,
        clock: Callable[[], float] = time.monotonic,
        backoff_base: float = 0.2,
        backoff_max: float = 5.0,
    ) -> None:
        self.kube = kube
        self.clock = clock
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._lock = threading.Lock()
        self._pods: dict[str, _Seen] = {}
        self._waiting: dict[str, threading.Condition] = {}  # on `_lock`, per container
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
                self._learn(container_id, summarize(pod), self.clock())

    def wait(self, container_id: str, timeout: float) -> PodState | None:
        """Block until the container's pod is ready, failed or gone, and say which; None if
        it is still starting (or unheard of) after `timeout` seconds."""
        deadline = self.clock() + timeout
        with self._lock:
            while True:
                seen = self._pods.get(container_id)
                if seen is not None and seen.state.kind != "starting":
                    return seen.state
                left = deadline - self.clock()
                if left <= 0:
                    return None
                changed = self._waiting.setdefault(container_id, threading.Condition(self._lock))
                changed.wait(left)

    def _learn(self, container_id: str, state: PodState, at: float) -> None:
        """Record a pod's state (holding `_lock`) and wake the threads waiting on it."""
        self._pods[container_id] = _Seen(state, at)
        if state.kind != "starting" and (changed := self._waiting.pop(container_id, None)):
            changed.notify_all()

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """List, then watch, in a thread of its own: the job goes on at once (a waiter has what
        its create call answered meanwhile). While the API does not answer, the thread keeps
        trying; waiters wait, up to their deadline."""
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
        listed = False
        while not self._stopping.is_set():
            try:
                if not listed:
                    self._relist()
                    listed = True
                    continue  # stopped meanwhile? (the loop's test) else watch from that list
                if self._watch_once():
                    failures = 0
                    continue  # the server closed a good watch (its timeout): resume from there
            except KubeError as exc:
                if self._stopping.is_set():
                    return
                log.info("listing or watching pods failed: %s", exc)
            listed = False  # the watch broke off, or the list failed: list again, after a while
            failures += 1
            if self._stopping.wait(backoff_delay(failures, self.backoff_base, self.backoff_max)):
                return

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
                self._learn(container_id, state, self.clock())
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
        with self._lock:
            for container_id, state in present.items():
                self._learn(container_id, state, now)
            for container_id, seen in list(self._pods.items()):
                if container_id in present:
                    continue
                if seen.state == GONE:
                    if now - seen.at > TOMBSTONE_SECONDS:
                        del self._pods[container_id]
                elif seen.at < started:
                    self._learn(container_id, GONE, now)
        self._resource_version = str((answer.get("metadata") or {}).get("resourceVersion") or "")
