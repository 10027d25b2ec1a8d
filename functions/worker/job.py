"""One worker job: drain the stream, then exit (the KEDA ScaledJob shape, like an arq burst).

Each entry gets a thread for its whole life (`_work`): handle it (`handlers`: read the record,
build and create the objects, wait for the pod to run or the deadline, write the outcome),
acknowledge it; after a temporary failure, handle it again once delivered again after a
backoff, or dead-letter it after `max_deliveries` (the one retry layer). Beside them: the main
thread takes entries, a watch thread follows the pods (entries wait on it), a heartbeat
thread keeps held entries fresh, and reconciles run in threads of their own, one at a time.

    start: ensure the group, start the watch and the heartbeat, read at once (the start-up
           reconcile runs beside the first entries: a cold start waits for no list)
    loop:  take entries, dead jobs' first (`Stream.take`), up to `max_in_flight` held at
           once; reconcile every `reconcile_interval`
    exit:  nothing held and nothing new for `linger` seconds, or past `max_run_time`, or
           stop() (SIGTERM): take no more entries, finish those in hand

Threads, not asyncio: the official Kubernetes client is synchronous (the tests and the
simulator are built around it), a job holds tens of entries, and a blocked thread reads as
its entry's story, top to bottom.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import redis

from functions.worker import builders
from functions.worker.errors import TemporaryError, retry_delay
from functions.worker.handlers import Done, Handlers
from functions.worker.kube import Kube
from functions.worker.metrics import JobMetrics
from functions.worker.reconcile import Reconciler
from functions.worker.report import JobReport
from functions.worker.settings import WorkerSettings
from functions.worker.stream import ENTRY_TYPES, Delivery, Stream
from functions.worker.tracker import PodTracker
from shared import logs
from shared.redis_client import Scripts
from shared.settings import SiteSettings, Template

log = logging.getLogger("sprout.worker")

TICK_RECONCILE_AFTER = 5.0  # a tick reconciles unless this job did so this recently
WAKE = 0.25  # the main thread looks at least this often (stop, the last entry done, claims)
REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError)


class Job:
    def __init__(
        self,
        *,
        settings: WorkerSettings,
        site: SiteSettings,
        templates: Mapping[str, Template],
        redis_client: redis.Redis,
        kube: Kube,
        consumer: str | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings, self.kube, self.clock, self.monotonic = settings, kube, clock, monotonic
        scripts = self.scripts = Scripts(redis_client)
        self.stream = Stream(redis_client, consumer)
        self.tracker = PodTracker(kube, clock=monotonic)
        self.handlers = Handlers(
            kube=kube, scripts=scripts, tracker=self.tracker, settings=settings, site=site,
            templates=templates, clock=clock,
        )  # fmt: skip
        self.reconciler = Reconciler(
            kube=kube, stream=self.stream, scripts=scripts, settings=settings, clock=clock
        )
        self.report = JobReport(JobMetrics(redis_client, monotonic=monotonic))
        self._stop = threading.Event()  # take no more entries
        self._lock = threading.Lock()  # guards `_held`, the entries this job's threads work on
        self._held: set[str] = set()

    def stop(self) -> None:
        """Take no more entries; finish those in hand. Safe in a signal handler."""
        self._stop.set()

    # -- the main thread ----------------------------------------------------------------------

    def run(self) -> JobReport:
        settings, started, report = self.settings, self.monotonic(), self.report
        self.stream.ensure_group()
        self.tracker.start()
        ended = threading.Event()
        heartbeat = threading.Thread(target=self._heartbeat, args=(ended,), daemon=True)
        heartbeat.start()
        idle_since, outage_since = started, 0.0
        try:
            while not self._stop.is_set() and self.monotonic() < started + settings.max_run_time:
                try:
                    lingering = idle_since + settings.linger - self.monotonic()
                    if self._step(WAKE if self._busy() else min(WAKE, lingering)) or self._busy():
                        idle_since = self.monotonic()
                    elif self.monotonic() >= idle_since + settings.linger:
                        report.stopped_by = "drained"
                        break
                    outage_since = 0.0
                except REDIS_DOWN as exc:
                    # Wait out a restart of Redis (its entries in hand), up to the grace.
                    outage_since = outage_since or self.monotonic()
                    if self.monotonic() - outage_since >= settings.redis_outage_grace:
                        raise
                    log.warning("Redis unreachable, waiting: %s", exc)
                    self._stop.wait(1.0)
            if not report.stopped_by:
                report.stopped_by = "stop" if self._stop.is_set() else "max-run-time"
        finally:
            self._stop.set()  # entries waiting to be delivered again are left to the next job
            while self._busy():
                time.sleep(WAKE / 5)
            ended.set()
            self.tracker.stop()
            heartbeat.join(timeout=5)
            self.stream.forget_consumer()
            seconds, api_calls = self.monotonic() - started, self.kube.calls
            report.end(seconds=seconds, api_calls=api_calls, reconciles=self.reconciler.runs)
        log.info(report.summary())
        return report

    def _step(self, wait: float) -> bool:
        """Take entries (waiting up to `wait` seconds for one), a thread for each; start a
        reconcile when one is due, after the first read. True if entries came."""
        while len(self._held) >= self.settings.max_in_flight and not self._stop.wait(WAKE / 5):
            pass
        want = min(self.settings.batch_size, self.settings.max_in_flight - len(self._held))
        block = max(1, int(wait * 1000)) if wait > 0 else None
        taken = self.stream.take(want, min_idle=self.settings.claim_min_idle, block_ms=block)
        if takeovers := sum(d.deliveries > 1 for d in taken):  # a dead job's: delivered before
            self.report.count("sprout_worker_takeovers_total", value=takeovers)
        self.report.deliveries += len(taken)
        for delivery in taken:
            with self._lock:
                new = delivery.entry_id not in self._held  # else taken back from ourselves
                self._held.add(delivery.entry_id)
            if new:
                self._thread(f"entry-{delivery.entry_id}", self._work, delivery)
        if self.reconciler.claim(self.settings.reconcile_interval):
            self._thread("reconcile", self._reconcile)
        self.report.flush()
        return bool(taken)

    def _busy(self) -> bool:
        return bool(self._held) or self.reconciler.running

    def _thread(self, name: str, target: Callable[..., None], *args: Any) -> None:
        threading.Thread(target=target, args=args, name=name, daemon=True).start()

    # -- an entry's thread --------------------------------------------------------------------

    def _work(self, delivery: Delivery) -> None:
        """The entry's whole life: handle it, acknowledge it; after a temporary failure,
        handle it again once it is delivered again, or dead-letter it."""
        entry: Delivery | None = delivery
        with logs.bound(delivery.request_id):
            try:
                while entry is not None:
                    try:
                        if done := self._handle(entry):
                            self._finish(entry, done)
                        return
                    except Exception as error:  # every failure is the entry's; none ends the job
                        entry = self._again(entry, error)
            finally:
                with self._lock:
                    self._held.discard(delivery.entry_id)

    def _handle(self, delivery: Delivery) -> Done | None:
        """What the entry does; None if it went to the dead-letter stream instead."""
        if delivery.type == "reconcile":
            if self.reconciler.claim(TICK_RECONCILE_AFTER):
                self._reconcile()
            return Done("tick")
        valid = delivery.type in ENTRY_TYPES and builders.valid_container_id(delivery.container_id)
        if not valid or delivery.deliveries > self.settings.max_deliveries:
            self._dead_letter(delivery, "delivered too often" if valid else "malformed entry")
            return None
        return self.handlers.handle(delivery)

    def _again(self, delivery: Delivery, error: Exception) -> Delivery | None:
        """The entry failed for now: the same entry delivered again, after a backoff; or None:
        dead-lettered, or left pending for another delivery (this job stops, Redis is away,
        or another job took it over)."""
        if not isinstance(error, (TemporaryError, *REDIS_DOWN)):
            log.error("entry %s failed unexpectedly", delivery.entry_id, exc_info=error)
        try:
            if delivery.deliveries >= self.settings.max_deliveries:
                self._dead_letter(delivery, str(error) or type(error).__name__)
                return None
            s = self.settings
            delay = retry_delay(error, delivery.deliveries, s.backoff_base, s.backoff_max)
            log.info("entry %s will be retried in %.1fs: %s", delivery.entry_id, delay, error)
            labels = {"type": delivery.type}
            self.report.count("sprout_worker_retries_total", labels, outcome="retried")
            if self._stop.wait(delay):
                return None
            again = self.stream.reclaim_own([delivery.entry_id])  # counts a delivery
            return again[0] if again else None
        except REDIS_DOWN as exc:  # still pending: taken over once idle for claim_min_idle
            log.warning("entry %s left for another delivery: %s", delivery.entry_id, exc)
            return None

    def _finish(self, delivery: Delivery, done: Done) -> None:
        """Acknowledge and delete the entry; count and log its outcome."""
        self.stream.finish([delivery.entry_id])
        labels = {"type": delivery.type, "outcome": done.outcome}
        self.report.count("sprout_worker_entries_total", labels, outcome=done.outcome,
                          launch=done.launch_seconds)  # fmt: skip
        extra = {"entry": delivery.entry_id, "container_id": delivery.container_id,
                 "outcome": done.outcome, "deliveries": delivery.deliveries}  # fmt: skip
        log.info("%s %s: %s", delivery.type, delivery.container_id, done.outcome, extra=extra)

    def _dead_letter(self, delivery: Delivery, reason: str) -> None:
        """Move the entry to the dead-letter stream; its container fails."""
        self.handlers.give_up(delivery, reason)
        self.stream.dead_letter(
            delivery, reason, now=self.clock(), maxlen=self.settings.dead_letter_maxlen
        )
        labels = {"type": delivery.type}
        self.report.count("sprout_worker_dead_lettered_total", labels, outcome="dead-lettered")

    # -- the reconcile and the heartbeat threads ----------------------------------------------

    def _reconcile(self) -> None:
        """The reconcile claimed (`Reconciler.claim`); count what it did."""
        try:
            done = self.reconciler.run_claimed()
        except Exception:  # the next one (a tick, the interval) tries again
            log.exception("reconcile failed")
            return
        for action in ("reaped", "orphans", "vanished", "requeued", "lost"):
            if items := getattr(done, action):
                self.report.count("sprout_worker_reconciled_total", {"action": action}, len(items))

    def _heartbeat(self, ended: threading.Event) -> None:
        """Keep the held entries fresh, however long their pods take, until the job ends."""
        while not ended.wait(self.settings.heartbeat_interval):
            with self._lock:
                held = list(self._held)
            try:
                self.stream.heartbeat(held)
            except redis.RedisError as exc:
                log.warning("heartbeat failed: %s", exc)
