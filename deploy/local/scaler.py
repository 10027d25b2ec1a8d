"""The local scaler: starts worker jobs on stream lag, the way KEDA runs the ScaledJob.

KEDA's ScaledJob with a `redis-streams` trigger on consumer-group lag, default scaling
strategy, does on every polling interval:

    lag          = XINFO GROUPS <stream> -> the group's `lag` (entries not yet delivered)
    active       = lag > activationLagCount
    max_scale    = min(maxReplicaCount, ceil(lag / lagCount))
    to_start     = max_scale - running jobs          (if active)

and each Job runs one worker process to completion. This module does exactly that with local
processes, reading the same numbers from the ScaledJob manifest in deploy/ (through
`deploy.manifests.scaler_settings`), so local behaviour cannot drift from the cluster's.

One difference, on purpose: between polls the scaler also waits on the stream itself (a
blocking XREAD, which leaves the consumer group alone), so a new entry starts a job at once
rather than at the next poll. A cold click-to-running pays for a job process to start; it
need not pay for a poll interval too. (On a cluster, KEDA's pollingInterval is a trade-off
discussed in deploy/README.md.)
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

log = logging.getLogger("sprout.scaler")


@dataclass(frozen=True)
class Trigger:
    stream: str
    group: str
    lag_count: int
    activation_lag_count: int
    max_replicas: int
    polling_interval: float


def desired_new_jobs(trigger: Trigger, lag: int, running: int) -> int:
    """KEDA's default ScaledJob strategy: fill up to ceil(lag / lagCount), capped."""
    if lag <= trigger.activation_lag_count:
        return 0
    max_scale = min(trigger.max_replicas, math.ceil(lag / trigger.lag_count))
    return max(0, max_scale - running)


def group_lag(client: redis.Redis, stream: str, group: str) -> int:
    """The consumer group's lag, as KEDA reads it (Redis 7+); a missing stream has no lag."""
    try:
        groups = client.xinfo_groups(stream)
    except redis.exceptions.ResponseError:
        return 0
    for info in groups:
        if info.get("name") == group:
            lag = info.get("lag")
            # Redis answers nil when lag cannot be computed (entries deleted mid-history);
            # KEDA then falls back to the stream length.
            return int(lag) if lag is not None else int(client.xlen(stream))
    return int(client.xlen(stream))  # no group yet: everything is undelivered


class Scaler:
    """KEDA's loop for the ScaledJob, plus the worker's tick CronJob on its own schedule."""

    def __init__(
        self,
        client: redis.Redis,
        trigger: Trigger,
        start_job: Callable[[int], subprocess.Popen[bytes]],
        *,
        start_tick: Callable[[], subprocess.Popen[bytes]] | None = None,
        tick_interval: float = 60.0,
        state_file: Path | None = None,
    ) -> None:
        self.client = client
        self.trigger = trigger
        self.start_job = start_job
        self.start_tick = start_tick
        self.tick_interval = tick_interval
        self.tick: subprocess.Popen[bytes] | None = None
        self.next_tick = time.monotonic()
        self.jobs: list[subprocess.Popen[bytes]] = []
        self.started = 0
        self.peak = 0
        self.state_file = state_file
        self._last_state: dict[str, int] = {}
        self._last_entry: str | None = None  # the newest stream entry seen, for `wait_for_entry`
        self._stop = threading.Event()

    def running(self) -> int:
        self.jobs = [job for job in self.jobs if job.poll() is None]
        return len(self.jobs)

    def poll_once(self) -> int:
        running = self.running()
        lag = group_lag(self.client, self.trigger.stream, self.trigger.group)
        count = desired_new_jobs(self.trigger, lag, running)
        for _ in range(count):
            self.started += 1
            self.jobs.append(self.start_job(self.started))
        self.peak = max(self.peak, len(self.jobs))
        if count:
            log.info("lag %d, %d running: started %d job(s)", lag, running, count)
        self._publish({"lag": lag, "running": len(self.jobs), "peak": self.peak,
                       "started": self.started})  # fmt: skip
        return count

    def _publish(self, state: dict[str, int]) -> None:
        """What the scaler sees, for people and tests (written only when it changes)."""
        if self.state_file is None or state == self._last_state:
            return
        self._last_state = state
        partial = self.state_file.with_suffix(".tmp")
        partial.write_text(json.dumps(state))
        partial.replace(self.state_file)

    def request_stop(self) -> None:
        self._stop.set()

    def maybe_tick(self) -> None:
        """Start the tick when due, never two at once (the CronJob's concurrencyPolicy: Forbid)."""
        if self.start_tick is None or time.monotonic() < self.next_tick:
            return
        if self.tick is not None and self.tick.poll() is None:
            return
        self.tick = self.start_tick()
        self.next_tick = time.monotonic() + self.tick_interval

    def wait_for_entry(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for an entry newer than the last one seen (True if one
        came). XREAD, unlike XREADGROUP, delivers nothing to the group: its lag is untouched."""
        if self._last_entry is None:
            newest: Any = self.client.xrevrange(self.trigger.stream, count=1)
            self._last_entry = str(newest[0][0]) if newest else "0-0"
        last = self._last_entry
        answer: Any = self.client.xread(
            {self.trigger.stream: last}, count=100, block=max(1, int(timeout * 1000))
        )
        for _, entries in answer or []:
            if entries:
                self._last_entry = str(entries[-1][0])
                return True
        return False

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.maybe_tick()
                self.poll_once()
                self.wait_for_entry(self.trigger.polling_interval)
            except redis.exceptions.ConnectionError as error:
                log.warning("redis unavailable: %s", error)
                self._last_entry = None  # Redis may have come back with another history
                self._stop.wait(self.trigger.polling_interval)

    def stop(self, grace: float = 10.0) -> None:
        self._stop.set()
        children = self.jobs + ([self.tick] if self.tick is not None else [])
        for job in children:
            if job.poll() is None:
                job.terminate()
        deadline = time.monotonic() + grace
        for job in children:
            try:
                job.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                job.kill()
                job.wait()


def job_starter(
    command: Sequence[str], env: dict[str, str], log_dir: Path, log_name: str = "worker-jobs.log"
) -> Callable[[int], subprocess.Popen[bytes]]:
    def start(number: int) -> subprocess.Popen[bytes]:
        log_file = open(log_dir / log_name, "ab")  # noqa: SIM115 (held by the child)
        log_file.write(f"--- {Path(command[-1]).name} {number} ---\n".encode())
        log_file.flush()
        try:
            return subprocess.Popen(
                list(command), env={**os.environ, **env},
                stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        finally:
            log_file.close()

    return start


def load_trigger(polling_interval: float | None = None) -> Trigger:
    from deploy.manifests import scaler_settings

    settings = scaler_settings()
    return Trigger(
        stream=str(settings["stream"]),
        group=str(settings["group"]),
        lag_count=int(settings["lag_count"]),
        activation_lag_count=int(settings["activation_lag_count"]),
        max_replicas=int(settings["max_replicas"]),
        polling_interval=polling_interval or float(settings["polling_interval"]),
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Sprout's local KEDA-like scaler")
    parser.add_argument("--redis-url", default=os.environ.get("SPROUT_REDIS_URL"))
    parser.add_argument("--polling-interval", type=float, default=None,
                        help="seconds between polls (default: the ScaledJob's)")  # fmt: skip
    parser.add_argument("--log-dir", type=Path, default=Path("."))
    parser.add_argument("--tick-interval", type=float, default=60.0,
                        help="seconds between runs of the worker's tick (the CronJob)")  # fmt: skip
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if not options.redis_url:
        parser.error("--redis-url or SPROUT_REDIS_URL is required")
    trigger = load_trigger(options.polling_interval)
    client = redis.Redis.from_url(options.redis_url, decode_responses=True)
    worker = [sys.executable, "-m", "functions.worker"]
    ticks = job_starter([*worker, "tick"], {}, options.log_dir, "worker-tick.log")
    count = iter(range(1, 1 << 62))
    scaler = Scaler(
        client,
        trigger,
        job_starter(worker, {}, options.log_dir),
        start_tick=lambda: ticks(next(count)),
        tick_interval=options.tick_interval,
        state_file=options.log_dir / "scaler-state.json",
    )
    signal.signal(signal.SIGTERM, lambda *_: scaler.request_stop())
    log.info("watching %s/%s: %s", trigger.stream, trigger.group, trigger)
    try:
        scaler.run()
    except KeyboardInterrupt:
        pass
    finally:
        scaler.stop()


if __name__ == "__main__":
    main()
