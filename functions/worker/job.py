"""One worker job: drain the stream, then exit (the KEDA ScaledJob shape, like an arq burst).

The main thread coordinates; a pool of `concurrency` threads makes the API calls (all
through one `RateLimiter`); one watch thread follows the pods (`PodTracker`); one heartbeat
thread keeps the held entries fresh. Threads report back through one queue, so the job's
bookkeeping (what is in flight, awaited, due for a retry, to be acknowledged) is touched by
the main thread only.

    start: ensure the group, list+watch pods, reconcile
    loop:  take entries: own retries that are due, entries of dead jobs (XAUTOCLAIM),
           new entries (XREADGROUP), up to `max_in_flight` held at once
           hand each to the pool (handlers.begin); a create answers Await(pod): the job
           waits for the watch to say ready/failed/gone, or the deadline, then the pool
           writes the outcome (handlers.finish_create)
           acknowledge + delete what is done (one transaction per loop)
           a temporary failure: retry later as a new delivery (backoff), or dead-letter
           after `max_deliveries`
    exit:  nothing new for `linger` seconds and nothing in hand, or past `max_run_time`
           (stop taking entries, finish those in hand), or stop() (SIGTERM)
"""

from __future__ import annotations

import logging
import os
import queue
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import redis

from functions.worker import builders
from functions.worker.errors import TemporaryError, backoff_delay
from functions.worker.handlers import Await, Done, Handlers
from functions.worker.kube import Kube
from functions.worker.metrics import JobMetrics
from functions.worker.podstatus import PodState
from functions.worker.reconcile import Reconciler
from functions.worker.settings import WorkerSettings
from functions.worker.stream import ENTRY_TYPES, Delivery, Stream
from functions.worker.tracker import PodTracker
from shared import logs
from shared.redis_client import Scripts
from shared.settings import SiteSettings, Template

log = logging.getLogger("sprout.worker")

TICK_RECONCILE_AFTER = 5.0  # a tick reconciles unless this job did so this recently


def consumer_name() -> str:
    """Unique per job: the pod's hostname is the Job pod's name on Kubernetes."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


@dataclass
class JobReport:
    outcomes: Counter[str] = field(default_factory=Counter)
    deliveries: int = 0
    retried: int = 0
    dead_lettered: int = 0
    reconciles: int = 0
    api_calls: int = 0
    seconds: float = 0.0
    stopped_by: str = ""

    def summary(self) -> str:
        outcomes = " ".join(f"{k}={v}" for k, v in sorted(self.outcomes.items()))
        return (
            f"job done in {self.seconds:.1f}s ({self.stopped_by}): deliveries={self.deliveries} "
            f"{outcomes} retried={self.retried} dead_lettered={self.dead_lettered} "
            f"reconciles={self.reconciles} api_calls={self.api_calls}"
        )


@dataclass
class _Waiter:
    delivery: Delivery
    deadline: float


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
        self.settings = settings
        self.kube = kube
        self.clock = clock
        self.monotonic = monotonic
        self.scripts = Scripts(redis_client)
        self.stream = Stream(redis_client, consumer or consumer_name())
        self.events: queue.Queue[tuple[str, Any, Any]] = queue.Queue()
        self.tracker = PodTracker(kube, self._pods_changed, clock=monotonic)
        self.handlers = Handlers(
            kube=kube,
            scripts=self.scripts,
            tracker=self.tracker,
            settings=settings,
            site=site,
            templates=templates,
            clock=clock,
            monotonic=monotonic,
        )
        self.reconciler = Reconciler(
            kube=kube, stream=self.stream, scripts=self.scripts, settings=settings, clock=clock
        )
        self.pool = ThreadPoolExecutor(settings.concurrency, thread_name_prefix="sprout-api")
        self.report = JobReport()
        self.metrics = JobMetrics(redis_client, monotonic=monotonic)
        self._stop = threading.Event()
        # Touched by the main thread only (the heartbeat reads a copy of `in_flight`).
        self.in_flight: dict[str, Delivery] = {}
        self.waiting: dict[str, list[_Waiter]] = {}
        self.retries: dict[str, float] = {}  # entry id -> monotonic time it is due
        self.to_finish: list[str] = []
        self._last_reconcile = float("-inf")
        self._next_claim = 0.0
        self._next_read = 0.0

    @property
    def consumer(self) -> str:
        return self.stream.consumer

    def stop(self) -> None:
        """Stop taking entries; finish those in hand. Safe in a signal handler: it only sets
        an event (the main loop looks at it at least every second)."""
        self._stop.set()

    # -- the run ------------------------------------------------------------------------------

    def run(self) -> JobReport:
        started = self.monotonic()
        stop_reading_at = started + self.settings.max_run_time
        heartbeat = threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True)
        self.stream.ensure_group()
        self.tracker.start()
        heartbeat.start()
        try:
            reconciled = False
            outage_since: float | None = None
            while True:
                try:
                    if not reconciled:
                        self._reconcile()
                        reconciled = True
                    if not self._step(stop_reading_at):
                        break
                    outage_since = None
                except (redis.ConnectionError, redis.TimeoutError) as exc:
                    outage_since = self._wait_out_redis(exc, outage_since)
        finally:
            self._stop.set()
            self.pool.shutdown(wait=True)
            self._drain_events()
            self._flush()
            self.tracker.stop()
            heartbeat.join(timeout=5)
            self.stream.forget_consumer()
            self.report.api_calls = self.kube.calls
            self.report.seconds = self.monotonic() - started
            self._count_job()
        log.info(self.report.summary())
        return self.report

    def _step(self, stop_reading_at: float) -> bool:
        """One turn of the loop: take entries, handle what the threads reported. False once
        the job is done (drained, stopped, or out of time)."""
        now = self.monotonic()
        reading = not self._stop.is_set() and now < stop_reading_at
        if reading and now - self._last_reconcile >= self.settings.reconcile_interval:
            self._reconcile()
        taken = self._take(now) if reading else 0
        if not self.in_flight and not (reading and self.retries):
            if not reading:
                self.report.stopped_by = "stop" if self._stop.is_set() else "max-run-time"
                return False
            if taken == 0 and not self._linger():
                self.report.stopped_by = "stop" if self._stop.is_set() else "drained"
                return False
            return True
        self._pump(self._wait_time(now))
        return True

    def _wait_out_redis(self, error: redis.RedisError, since: float | None) -> float:
        """Redis did not answer: wait a second and try again, for up to `redis_outage_grace`
        in all, so that a restart of Redis does not end the job with its entries in hand
        (they would wait for `claim_min_idle` and the tick). Past that, or when stopped, the
        error ends the job. Handlers go on meanwhile; their writes retry as entries do."""
        now = self.monotonic()
        since = now if since is None else since
        if self._stop.is_set() or now - since >= self.settings.redis_outage_grace:
            raise error
        log.warning("Redis unreachable for %.0fs, waiting: %s", now - since, error)
        self._stop.wait(1.0)
        return since

    def _count_job(self) -> None:
        self.metrics.inc(
            "sprout_worker_jobs_total", {"stopped_by": self.report.stopped_by or "error"}
        )
        self.metrics.inc("sprout_worker_job_seconds_total", value=self.report.seconds)
        self.metrics.inc("sprout_worker_api_calls_total", value=self.report.api_calls)
        self.metrics.flush(force=True)

    def _linger(self) -> bool:
        """Wait up to `linger` for a new entry; True if one came (and was taken).

        Blocks a second at a time, so stop() (SIGTERM) is noticed within a second."""
        until = self.monotonic() + self.settings.linger
        while not self._stop.is_set():
            block = min(until - self.monotonic(), 1.0)
            if block <= 0:
                return False
            deliveries = self.stream.read_new(
                self.settings.batch_size, block_ms=max(1, int(block * 1000))
            )
            for delivery in deliveries:
                self._dispatch(delivery)
            if deliveries:
                return True
        return False

    def _take(self, now: float) -> int:
        """Take entries up to the in-flight cap: due retries, dead jobs' entries, new ones."""
        room = self.settings.max_in_flight - len(self.in_flight)
        if room <= 0:
            return 0
        taken: list[Delivery] = []
        due = [entry_id for entry_id, at in self.retries.items() if at <= now][:room]
        if due:
            for entry_id in due:
                del self.retries[entry_id]
            taken += self.stream.reclaim_own(due)
        want = min(self.settings.batch_size, room - len(taken))
        if want > 0 and now >= self._next_claim:
            claimed = self.stream.claim_stale(self.settings.claim_min_idle, want)
            taken += claimed
            if claimed:
                self.metrics.inc("sprout_worker_takeovers_total", value=len(claimed))
            if len(claimed) < want:
                self._next_claim = now + min(1.0, self.settings.claim_min_idle / 4)
        want = min(self.settings.batch_size, room - len(taken))
        if want > 0 and now >= self._next_read:
            new = self.stream.read_new(want)
            taken += new
            if len(new) < want:
                self._next_read = now + self.settings.poll_interval
        for delivery in taken:
            self._dispatch(delivery)
        return len(taken)

    def _wait_time(self, now: float) -> float:
        wake = now + self.settings.poll_interval
        if len(self.in_flight) >= self.settings.max_in_flight:
            wake = now + 1.0  # nothing to read for now: wake for events and deadlines
        for waiters in self.waiting.values():
            for waiter in waiters:
                wake = min(wake, waiter.deadline)
        if self.retries:
            wake = min(wake, min(self.retries.values()))
        return max(0.0, wake - now)

    # -- dispatching and completing entries ---------------------------------------------------

    def _dispatch(self, delivery: Delivery) -> None:
        self.report.deliveries += 1
        if delivery.entry_id in self.in_flight:
            return  # already in hand (taken back from ourselves): the first one finishes it
        self.retries.pop(delivery.entry_id, None)
        if delivery.type == "reconcile":
            self.to_finish.append(delivery.entry_id)
            self.report.outcomes["tick"] += 1
            self.metrics.inc(
                "sprout_worker_entries_total", {"type": "reconcile", "outcome": "tick"}
            )
            if self.monotonic() - self._last_reconcile >= TICK_RECONCILE_AFTER:
                self._reconcile()
            return
        self.in_flight[delivery.entry_id] = delivery
        if delivery.type not in ENTRY_TYPES or not builders.valid_container_id(
            delivery.container_id
        ):
            self._submit("gave_up", self._give_up, delivery, "malformed entry")
        elif delivery.deliveries > self.settings.max_deliveries:
            self._submit("gave_up", self._give_up, delivery, "delivered too often")
        else:
            self._submit("begun", self.handlers.begin, delivery)

    def _submit(
        self, kind: str, function: Callable[..., Any], delivery: Delivery, *args: Any
    ) -> None:
        def task() -> None:
            with logs.bound(delivery.request_id):
                try:
                    result: Any = function(delivery, *args)
                except Exception as exc:  # every failure is reported back; none kills the job
                    result = exc
            self.events.put((kind, delivery, result))

        self.pool.submit(task)

    def _give_up(self, delivery: Delivery, reason: str) -> None:
        self.handlers.give_up(delivery, reason)
        self.stream.dead_letter(
            delivery, reason, now=self.clock(), maxlen=self.settings.dead_letter_maxlen
        )

    def _pump(self, timeout: float) -> None:
        """Handle what the threads reported (waiting up to `timeout` for the first report)."""
        try:
            event = self.events.get(timeout=timeout)
        except queue.Empty:
            event = None
        while event is not None:
            self._handle(*event)
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                event = None
        self._check_deadlines(self.monotonic())
        self._flush()

    def _drain_events(self) -> None:
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                return
            kind, delivery, result = event
            if kind in ("begun", "finished") and isinstance(result, Done):
                self._complete(delivery, result)  # written to Redis: acknowledge it

    def _handle(self, kind: str, delivery: Any, result: Any) -> None:
        if kind == "pods":
            for container_id in result:
                self._check_waiters(container_id)
        elif kind == "gave_up":
            self.in_flight.pop(delivery.entry_id, None)
            if isinstance(result, Exception):
                log.error("dead-lettering %s failed: %s", delivery.entry_id, result)
            else:
                self.report.dead_lettered += 1
                self.metrics.inc("sprout_worker_dead_lettered_total", {"type": delivery.type})
        elif kind in ("begun", "finished"):
            if isinstance(result, Done):
                self._complete(delivery, result)
            elif isinstance(result, Await):
                self.waiting.setdefault(result.container_id, []).append(
                    _Waiter(delivery, result.deadline)
                )
                self._check_waiters(result.container_id)
            else:
                self._release(delivery, result)

    def _complete(self, delivery: Delivery, done: Done) -> None:
        self.in_flight.pop(delivery.entry_id, None)
        self.to_finish.append(delivery.entry_id)
        self.report.outcomes[done.outcome] += 1
        self.metrics.inc(
            "sprout_worker_entries_total", {"type": delivery.type, "outcome": done.outcome}
        )
        if done.launch_seconds is not None:
            self.metrics.observe_launch(done.launch_seconds)
        with logs.bound(delivery.request_id):
            log.info(
                "%s %s: %s",
                delivery.type,
                delivery.container_id,
                done.outcome,
                extra={
                    "entry": delivery.entry_id,
                    "container_id": delivery.container_id,
                    "outcome": done.outcome,
                    "deliveries": delivery.deliveries,
                },
            )

    def _release(self, delivery: Delivery, error: BaseException) -> None:
        """The entry failed for now: deliver it again later, or give up on it."""
        with logs.bound(delivery.request_id):
            self._release_bound(delivery, error)

    def _release_bound(self, delivery: Delivery, error: BaseException) -> None:
        if isinstance(error, (redis.ConnectionError, redis.TimeoutError)):
            log.warning("entry %s: Redis unreachable: %s", delivery.entry_id, error)
        elif not isinstance(error, TemporaryError):
            log.error(
                "entry %s (%s %s) failed unexpectedly",
                delivery.entry_id,
                delivery.type,
                delivery.container_id,
                exc_info=error,
            )
        if delivery.deliveries >= self.settings.max_deliveries:
            self._submit("gave_up", self._give_up, delivery, str(error) or type(error).__name__)
            return
        self.in_flight.pop(delivery.entry_id, None)
        delay = getattr(error, "delay", None)
        if delay is None:
            delay = backoff_delay(
                delivery.deliveries, self.settings.backoff_base, self.settings.backoff_max
            )
        self.retries[delivery.entry_id] = self.monotonic() + min(delay, self.settings.backoff_max)
        self.report.retried += 1
        self.metrics.inc("sprout_worker_retries_total", {"type": delivery.type})
        log.info(
            "entry %s (%s %s) will be retried in %.1fs: %s",
            delivery.entry_id,
            delivery.type,
            delivery.container_id,
            delay,
            error,
        )

    # -- waiting for pods ---------------------------------------------------------------------

    def _pods_changed(self, container_ids: list[str]) -> None:
        self.events.put(("pods", None, container_ids))  # from the watch thread

    def _check_waiters(self, container_id: str) -> None:
        waiters = self.waiting.get(container_id)
        if not waiters:
            return
        state = self.tracker.state(container_id)
        if state is None or state.kind == "starting":
            return
        self._resolve(container_id, state)

    def _check_deadlines(self, now: float) -> None:
        for container_id, waiters in list(self.waiting.items()):
            if any(waiter.deadline <= now for waiter in waiters):
                self._resolve(container_id, None)

    def _resolve(self, container_id: str, state: PodState | None) -> None:
        for waiter in self.waiting.pop(container_id, []):
            self._submit("finished", self._finish, waiter.delivery, state)

    def _finish(self, delivery: Delivery, state: PodState | None) -> Done:
        return self.handlers.finish_create(delivery.container_id, state)

    # -- Redis bookkeeping --------------------------------------------------------------------

    def _flush(self) -> None:
        if self.to_finish:
            self.stream.finish(self.to_finish)
            self.to_finish = []
        self.metrics.flush()

    def _reconcile(self) -> None:
        self._last_reconcile = self.monotonic()
        self.report.reconciles += 1
        done = self.reconciler.run()
        for action, items in (
            ("reaped", done.reaped),
            ("orphans", done.orphans),
            ("vanished", done.vanished),
            ("requeued", done.requeued),
            ("lost", done.lost),
        ):
            if items:
                self.metrics.inc("sprout_worker_reconciled_total", {"action": action}, len(items))

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.settings.heartbeat_interval):
            held = list(self.in_flight.copy())
            try:
                self.stream.heartbeat(held)
            except redis.RedisError as exc:
                log.warning("heartbeat failed: %s", exc)
