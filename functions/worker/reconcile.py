"""Close the gap between what Redis asked for and what runs on the cluster.

Run by every job when it starts (beside its first entries), again while it runs every
`reconcile_interval`, and when a job reads a `reconcile` tick; one run at a time per job
(`claim`). In order:

1. Reap: containers past their lifetime move to `deleting` with an `expire` entry (atomic,
   `lifecycle.reap`), so deletion goes through the stream like any other, with its retries;
   places in the waiting line that lapsed end (a slot freed meanwhile goes to the next).
2. Snapshot the live records (the expiry index holds every live or deleting container).
3. List Sprout's pods, services and ingresses (by label).
4. Orphans: objects whose container's record is missing, failed or deleted are deleted
   (a deleting one is left to its delete entry; an object already being deleted is not an
   orphan). The lists are taken before the records are read, so an object made for a
   container still pending is never taken for an orphan.
5. Vanished: records that were `running` in the snapshot (taken before the list, so their
   pod was ready before we looked) whose pod is missing or dead become `failed`; except a
   pod its `activeDeadlineSeconds` ended once the container's lifetime is over: that is an
   expiry, and the reaper deletes the container (a visitor sees `deleted`, not `failed`).
6. Lost: pending or deleting records untouched for `lost_after` with no entry left in the
   stream get their entry again, once; a pending one lost twice fails.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from functions.worker import builders
from functions.worker.errors import KubeError
from functions.worker.kube import Kube
from functions.worker.podstatus import LIFETIME_ENDED, POD_VANISHED, summarize
from functions.worker.settings import WorkerSettings
from functions.worker.stream import Stream
from functions.worker.tracker import container_id_of_object
from shared import keys, lifecycle
from shared.lifecycle import Refused
from shared.redis_client import Scripts

log = logging.getLogger("sprout.worker.reconcile")

LOST = "Sprout lost track of this request."
# Objects of these containers are not orphans: live ones, and deleting ones (their delete
# entry removes them; if that entry is lost, step 6 brings it back).
KEPT_STATES = frozenset({"pending", "running", "deleting"})
CONSUMER_FORGET_AFTER = 3600.0
# A pod's activeDeadlineSeconds is the lifetime left, in whole seconds, counted by the
# cluster's clock from when the pod started: it ends at the expiry or a little after.
EXPIRY_SLACK = 5.0


@dataclass
class ReconcileReport:
    reaped: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)  # "kind/name"
    vanished: list[str] = field(default_factory=list)
    requeued: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    errors: int = 0


@dataclass(frozen=True)
class _Snapshot:
    state: str
    updated_at: str
    requeues: int
    expires_at: float


class Reconciler:
    def __init__(
        self,
        *,
        kube: Kube,
        stream: Stream,
        scripts: Scripts,
        settings: WorkerSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.kube = kube
        self.stream = stream
        self.scripts = scripts
        self.client: redis.Redis = scripts.client
        self.settings = settings
        self.clock = clock
        self._lock = threading.Lock()
        self.running = False
        self.runs = 0
        self._last_run = float("-inf")  # monotonic

    def claim(self, every: float) -> bool:
        """Claim the next run (then `run_claimed()`), unless a run is going on or one began
        in the last `every` seconds. Safe from many threads."""
        with self._lock:
            if self.running or time.monotonic() - self._last_run < every:
                return False
            self.running, self._last_run = True, time.monotonic()
            self.runs += 1
            return True

    def run_claimed(self) -> ReconcileReport:
        try:
            return self.run()
        finally:
            self.running = False

    def run(self) -> ReconcileReport:
        report = ReconcileReport()
        now = self.clock()
        report.reaped = lifecycle.reap(self.scripts, now=now)
        snapshot = self._live_records()
        try:
            pods = self.kube.list_pods().get("items") or []
            services = self.kube.list_services().get("items") or []
            ingresses = self.kube.list_ingresses().get("items") or []
        except KubeError as exc:
            log.warning("reconcile could not list the cluster: %s", exc)
            report.errors += 1
        else:
            self._sweep_orphans(report, pods=pods, services=services, ingresses=ingresses)
            self._fail_vanished(report, snapshot, pods)
        self._requeue_lost(report, snapshot, now)
        self.stream.mark_reconciled(now, ttl=int(max(3600, 4 * self.settings.reconcile_interval)))
        for consumer in self.stream.idle_consumers(CONSUMER_FORGET_AFTER):
            self.stream.forget_consumer(consumer)
        if report.reaped or report.orphans or report.vanished or report.requeued or report.lost:
            log.info(
                "reconciled: reaped=%d orphans=%d vanished=%d requeued=%d lost=%d",
                len(report.reaped),
                len(report.orphans),
                len(report.vanished),
                len(report.requeued),
                len(report.lost),
            )
        return report

    def _live_records(self) -> dict[str, _Snapshot]:
        ids = [str(i) for i in self.client.zrange(keys.EXPIRY_INDEX, 0, -1)]
        pipe = self.client.pipeline(transaction=False)
        for container_id in ids:
            pipe.hmget(keys.record(container_id), "state", "updated_at", "requeues", "expires_at")
        snapshot: dict[str, _Snapshot] = {}
        for container_id, (state, updated_at, requeues, expires_at) in zip(
            ids, pipe.execute(), strict=True
        ):
            if state:
                snapshot[container_id] = _Snapshot(
                    state, updated_at or "0", int(requeues or 0), float(expires_at or 0)
                )
        return snapshot

    def _states(self, container_ids: list[str]) -> dict[str, str | None]:
        pipe = self.client.pipeline(transaction=False)
        for container_id in container_ids:
            pipe.hget(keys.record(container_id), "state")
        return dict(zip(container_ids, pipe.execute(), strict=True))

    def _sweep_orphans(
        self,
        report: ReconcileReport,
        *,
        pods: list[dict[str, Any]],
        services: list[dict[str, Any]],
        ingresses: list[dict[str, Any]],
    ) -> None:
        found: list[tuple[str, str, str]] = []  # (kind, name, container id)
        for kind, items in (("ingress", ingresses), ("service", services), ("pod", pods)):
            for obj in items:
                container_id = container_id_of_object(obj)
                metadata = obj.get("metadata") or {}
                name = metadata.get("name")
                if metadata.get("deletionTimestamp"):
                    continue  # already on its way out (a pod's grace period)
                if container_id and isinstance(name, str):
                    found.append((kind, name, container_id))
        states = self._states(sorted({container_id for _, _, container_id in found}))
        delete = {
            "ingress": self.kube.delete_ingress,
            "service": self.kube.delete_service,
            "pod": self.kube.delete_pod,
        }
        for kind, name, container_id in found:
            if states.get(container_id) in KEPT_STATES:
                continue
            try:
                deleted = delete[kind](name)
            except KubeError as exc:
                log.warning("could not delete orphan %s/%s: %s", kind, name, exc)
                report.errors += 1
                continue
            if deleted:  # not when its container's delete entry removed it meanwhile
                log.info(
                    "deleted orphan %s/%s (container %s)",
                    kind,
                    name,
                    states.get(container_id) or "missing",
                    extra={"container_id": container_id},
                )
                report.orphans.append(f"{kind}/{name}")

    def _fail_vanished(
        self,
        report: ReconcileReport,
        snapshot: dict[str, _Snapshot],
        pods: list[dict[str, Any]],
    ) -> None:
        by_id = {container_id_of_object(pod): pod for pod in pods}
        for container_id, seen in snapshot.items():
            if seen.state != "running":
                continue
            pod = by_id.get(container_id)
            if pod is None:
                reason = POD_VANISHED
            else:
                state = summarize(pod)
                if state.kind not in ("failed", "gone"):
                    continue
                if (
                    state.reason == LIFETIME_ENDED
                    and seen.expires_at <= self.clock() + EXPIRY_SLACK
                ):
                    continue  # expired: the reaper (this run's or the next) deletes it
                reason = state.reason
            try:
                lifecycle.crash(self.scripts, container_id, reason, now=self.clock())
            except Refused:
                continue
            report.vanished.append(container_id)
            try:
                self.kube.delete_all(builders.object_name(container_id))
            except KubeError as exc:
                log.info("cleanup of %s deferred: %s", container_id, exc)
                report.errors += 1

    def _requeue_lost(
        self, report: ReconcileReport, snapshot: dict[str, _Snapshot], now: float
    ) -> None:
        stale = {
            container_id: seen
            for container_id, seen in snapshot.items()
            if seen.state in ("pending", "deleting")
            and now - float(seen.updated_at) > self.settings.lost_after
        }
        if not stale:
            return
        outstanding = self.stream.outstanding_ids()
        for container_id, seen in stale.items():
            if container_id in outstanding:
                continue
            if seen.state == "pending" and seen.requeues >= 1:
                try:
                    lifecycle.fail(self.scripts, container_id, LOST, now=now)
                except Refused:
                    continue
                report.lost.append(container_id)
            elif lifecycle.requeue(
                self.scripts, container_id, state=seen.state, updated_at=seen.updated_at, now=now
            ):
                report.requeued.append(container_id)
