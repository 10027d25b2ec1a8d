"""The worker's metrics: counted by each job, summed in Redis, rendered for Prometheus.

A job lives seconds to minutes and many run at once, so nothing scrapes a job. Each job adds
its counts to one Redis hash (`keys.WORKER_METRICS`, field = the series as Prometheus writes
it, value = its total) with `HINCRBYFLOAT`, one pipelined round trip at most once a second
and once more when it exits. Redis sums the jobs exactly, however many run at once, and keeps
the totals across restarts (AOF). A job that is SIGKILLed, or exits because Redis is down,
loses the counts of its last second. `render` turns the hash, plus gauges read from Redis at
that moment (stream lag and pending, dead letters, live containers by state), into the text
exposition format; `sprout-worker metrics` prints it, or writes it atomically with `--out`
(a node-exporter textfile), and `sprout-worker metrics --listen HOST:PORT` serves it to
Prometheus on `/metrics`, read from Redis at each scrape: deploy/ runs that as the small
`sprout-worker-metrics` Deployment (see the package docstring for why not a Pushgateway).

Series (all counters but the launch histogram):

    sprout_worker_entries_total{type, outcome}    entries handled (outcome: running, failed,
                                                  deleted, cancelled, skipped-<state>, ...)
    sprout_worker_retries_total{type}             entries released to be delivered again
    sprout_worker_takeovers_total                 entries taken over from a dead job
    sprout_worker_dead_lettered_total{type}       entries moved to the dead-letter stream
    sprout_worker_reconciled_total{action}        reaped, orphans, vanished, requeued, lost
    sprout_worker_jobs_total{stopped_by}          jobs finished (drained, stop, max-run-time)
    sprout_worker_job_seconds_total               time jobs ran
    sprout_worker_api_calls_total                 Kubernetes API calls
    sprout_container_launch_seconds               create (the API's 202) to running
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import redis

from shared import keys

log = logging.getLogger("sprout.worker.metrics")

METRICS_TTL = 7 * 24 * 3600  # renewed by every flush: the totals go after a week of no jobs
LAUNCH = "sprout_container_launch_seconds"
LAUNCH_BUCKETS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 180.0)

FAMILIES: dict[str, tuple[str, str]] = {
    "sprout_worker_entries_total": ("counter", "Stream entries handled, by type and outcome."),
    "sprout_worker_retries_total": ("counter", "Entries released to be delivered again."),
    "sprout_worker_takeovers_total": ("counter", "Entries taken over from a job that died."),
    "sprout_worker_dead_lettered_total": ("counter", "Entries moved to the dead-letter stream."),
    "sprout_worker_reconciled_total": ("counter", "What the reconciler did, by action."),
    "sprout_worker_jobs_total": ("counter", "Worker jobs finished, by why they stopped."),
    "sprout_worker_job_seconds_total": ("counter", "Seconds worker jobs ran."),
    "sprout_worker_api_calls_total": ("counter", "Kubernetes API calls made by worker jobs."),
    LAUNCH: ("histogram", "Seconds from the accepted create to the container running."),
    "sprout_stream_lag": ("gauge", "Stream entries not yet delivered to the worker group."),
    "sprout_stream_pending": ("gauge", "Stream entries delivered but not yet acknowledged."),
    "sprout_stream_dead_letters": ("gauge", "Entries in the dead-letter stream."),
    "sprout_containers_live": ("gauge", "Containers not yet terminal, by state."),
}


def series(name: str, labels: Mapping[str, str] | None = None) -> str:
    """`name{a="1",b="2"}` (labels sorted, values escaped) or `name`."""
    if not labels:
        return name
    inner = ",".join(f'{key}="{_escape(str(value))}"' for key, value in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace('"', r"\"").replace("\n", r"\n")


class JobMetrics:
    """One job's counts, added to the Redis totals by `flush` (main thread only)."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        every: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.every = every
        self.monotonic = monotonic
        self.unsent: dict[str, float] = {}
        self._last_flush = monotonic()

    def inc(self, name: str, labels: Mapping[str, str] | None = None, value: float = 1) -> None:
        self._add(series(name, labels), value)

    def observe_launch(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        for bound in LAUNCH_BUCKETS:
            if seconds <= bound:
                self._add(series(f"{LAUNCH}_bucket", {"le": _number(bound)}), 1)
        self._add(series(f"{LAUNCH}_bucket", {"le": "+Inf"}), 1)
        self._add(f"{LAUNCH}_sum", seconds)
        self._add(f"{LAUNCH}_count", 1)

    def _add(self, name: str, value: float) -> None:
        self.unsent[name] = self.unsent.get(name, 0) + value

    def flush(self, *, force: bool = False) -> None:
        """Add the unsent counts to Redis, at most once per `every` seconds unless forced.
        If Redis does not answer, the counts are kept for the next flush."""
        now = self.monotonic()
        if not self.unsent or (not force and now - self._last_flush < self.every):
            return
        self._last_flush = now
        sending = dict(self.unsent)
        pipe = self.client.pipeline(transaction=False)
        for name, value in sending.items():
            pipe.hincrbyfloat(keys.WORKER_METRICS, name, value)
        pipe.expire(keys.WORKER_METRICS, METRICS_TTL)
        try:
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("metrics not saved yet: %s", exc)
            return
        for name, value in sending.items():  # what was counted meanwhile stays unsent
            left = self.unsent.pop(name) - value
            if left:
                self.unsent[name] = left


def render(client: redis.Redis) -> str:
    """The worker's totals and the stream's gauges, in Prometheus' text format."""
    totals: dict[str, str] = dict(client.hgetall(keys.WORKER_METRICS))  # type: ignore[arg-type]
    lines: dict[str, list[str]] = {name: [] for name in FAMILIES}
    for name, value in totals.items():
        family = name.split("{", 1)[0]
        if family in lines:
            lines[family].append(f"{name} {_number(float(value))}")
    # Every bucket, always: one never reached holds 0 (a bucket counts what is <= its bound).
    histogram = [
        *(series(f"{LAUNCH}_bucket", {"le": _number(b)}) for b in LAUNCH_BUCKETS),
        series(f"{LAUNCH}_bucket", {"le": "+Inf"}),
        f"{LAUNCH}_sum",
        f"{LAUNCH}_count",
    ]
    lines[LAUNCH] = [f"{name} {_number(float(totals.get(name, 0)))}" for name in histogram]
    for name, gauge in _gauges(client).items():
        lines[name.split("{", 1)[0]].append(f"{name} {_number(gauge)}")
    out: list[str] = []
    for family, (kind, help_text) in FAMILIES.items():
        out += [f"# HELP {family} {help_text}", f"# TYPE {family} {kind}"]
        out += lines[family] if kind == "histogram" else sorted(lines[family])
    return "\n".join(out) + "\n"


def _gauges(client: redis.Redis) -> dict[str, float]:
    gauges: dict[str, float] = {"sprout_stream_lag": 0, "sprout_stream_pending": 0}
    try:
        groups: Any = client.xinfo_groups(keys.STREAM)
    except redis.ResponseError:  # no stream yet
        groups = []
    for group in groups:
        if group.get("name") == keys.WORKER_GROUP:
            gauges["sprout_stream_lag"] = float(group.get("lag") or 0)
            gauges["sprout_stream_pending"] = float(group.get("pending") or 0)
    gauges["sprout_stream_dead_letters"] = float(client.xlen(keys.DEAD_LETTER_STREAM))
    live: Counter[str] = Counter({"pending": 0, "running": 0, "deleting": 0})
    ids: list[Any] = list(client.zrange(keys.EXPIRY_INDEX, 0, -1))
    pipe = client.pipeline(transaction=False)
    for container_id in ids:
        pipe.hget(keys.record(str(container_id)), "state")
    for state in pipe.execute() if ids else []:
        if state:
            live[str(state)] += 1
    for state, count in live.items():
        gauges[series("sprout_containers_live", {"state": state})] = count
    return gauges


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class Exporter(ThreadingHTTPServer):
    """`GET /metrics`: `render` at each scrape; 503 while Redis does not answer, so that
    Prometheus marks the target down rather than storing zeros."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], client: redis.Redis) -> None:
        self.client = client
        super().__init__(address, _ExporterHandler)


class _ExporterHandler(BaseHTTPRequestHandler):
    server: Exporter

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != "/metrics":
            self._answer(404, "Not found: the metrics are on /metrics.\n")
            return
        try:
            text = render(self.server.client)
        except redis.RedisError as exc:
            log.warning("scrape: Redis failed: %s", exc)
            self._answer(503, "Redis is unavailable; no metrics this time.\n")
            return
        self._answer(200, text, "text/plain; version=0.0.4; charset=utf-8")

    def _answer(self, status: int, text: str, kind: str = "text/plain; charset=utf-8") -> None:
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a line per scrape is noise; failures are logged above


def write_textfile(text: str, path: Path) -> None:
    """Write atomically (a scraper never reads half a file), as textfile collectors expect."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(text)
    partial.replace(path)
