"""The worker's metrics: counted by each job, summed in Redis, exposed by a collector.

A job lives seconds to minutes and many run at once, so nothing scrapes a job. Each job adds
its counts to one Redis hash (`keys.WORKER_METRICS`, field = the series as Prometheus writes
it, value = its total) with `HINCRBYFLOAT`, one pipelined round trip at most once a second
and once more when it exits. Redis sums the jobs exactly, however many run at once, and keeps
the totals across restarts (AOF). A job that is SIGKILLed, or exits because Redis is down,
loses the counts of its last second.

`Collector` reads the hash, plus gauges read from Redis at that moment (stream lag and
pending, dead letters, live containers by state), at each collection: prometheus-client
renders it. `sprout-worker metrics` prints it, `--out FILE` writes it with `write_to_textfile`
(a node-exporter textfile), and `--listen HOST:PORT` serves it on `/metrics` (`serve`):
deploy/ runs that as the small `sprout-worker-metrics` Deployment (see the package docstring
for why not a Pushgateway).

Series (all counters but the launch histogram and the gauges):

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
    sprout_stream_lag, sprout_stream_pending, sprout_stream_dead_letters
    sprout_containers_live{state}
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import redis
from prometheus_client import CollectorRegistry, generate_latest, make_wsgi_app
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector as _Collector

from shared import keys

log = logging.getLogger("sprout.worker.metrics")

METRICS_TTL = 7 * 24 * 3600  # renewed by every flush: the totals go after a week of no jobs
LAUNCH = "sprout_container_launch_seconds"
LAUNCH_BUCKETS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 180.0)

# Counter families (each series is the name plus `_total`): help text and label names.
COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "sprout_worker_entries": ("Stream entries handled, by type and outcome.", ("type", "outcome")),
    "sprout_worker_retries": ("Entries released to be delivered again.", ("type",)),
    "sprout_worker_takeovers": ("Entries taken over from a job that died.", ()),
    "sprout_worker_dead_lettered": ("Entries moved to the dead-letter stream.", ("type",)),
    "sprout_worker_reconciled": ("What the reconciler did, by action.", ("action",)),
    "sprout_worker_jobs": ("Worker jobs finished, by why they stopped.", ("stopped_by",)),
    "sprout_worker_job_seconds": ("Seconds worker jobs ran.", ()),
    "sprout_worker_api_calls": ("Kubernetes API calls made by worker jobs.", ()),
}
LAUNCH_HELP = "Seconds from the accepted create to the container running."
LIVE_STATES = ("pending", "running", "deleting")


def series(name: str, labels: Mapping[str, str] | None = None) -> str:
    """`name{a="1",b="2"}` (labels sorted, values escaped) or `name`: a field of the hash."""
    if not labels:
        return name
    inner = ",".join(f'{key}="{_escape(str(value))}"' for key, value in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace('"', r"\"").replace("\n", r"\n")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


BUCKET_BOUNDS = (*(_number(b) for b in LAUNCH_BUCKETS), "+Inf")  # the `le` label values


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
        for bound, le in zip((*LAUNCH_BUCKETS, float("inf")), BUCKET_BOUNDS, strict=True):
            if seconds <= bound:  # a bucket counts what is <= its bound: stored cumulative
                self._add(series(f"{LAUNCH}_bucket", {"le": le}), 1)
        self._add(f"{LAUNCH}_sum", seconds)  # the count is the +Inf bucket's

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


class Collector(_Collector):
    """The worker's totals and the stream's gauges, read from Redis at each collection.

    A Redis error goes up (`serve` answers 503 then, so Prometheus marks the target down
    rather than storing zeros).
    """

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def collect(self) -> Iterator[Metric]:
        totals: dict[str, str] = self.client.hgetall(keys.WORKER_METRICS)  # type: ignore[assignment]
        stored: dict[str, list[Any]] = defaultdict(list)  # series name -> its samples
        text = "".join(f"{field} {value}\n" for field, value in totals.items())
        for family in text_string_to_metric_families(text):  # the fields are exposition lines
            for sample in family.samples:
                stored[sample.name].append(sample)
        for name, (help_text, labels) in COUNTERS.items():
            counter = CounterMetricFamily(name, help_text, labels=labels)
            for sample in stored[f"{name}_total"]:
                counter.add_metric([sample.labels.get(label, "") for label in labels], sample.value)
            yield counter
        buckets = {sample.labels.get("le"): sample.value for sample in stored[f"{LAUNCH}_bucket"]}
        yield HistogramMetricFamily(
            LAUNCH,
            LAUNCH_HELP,
            buckets=[(le, buckets.get(le, 0.0)) for le in BUCKET_BOUNDS],  # every one, always
            sum_value=sum(sample.value for sample in stored[f"{LAUNCH}_sum"]),
        )
        yield from self._gauges()

    def _gauges(self) -> Iterable[Metric]:
        lag = pending = 0.0
        try:
            groups: Any = self.client.xinfo_groups(keys.STREAM)
        except redis.ResponseError:  # no stream yet
            groups = []
        for group in groups:
            if group.get("name") == keys.WORKER_GROUP:
                lag, pending = float(group.get("lag") or 0), float(group.get("pending") or 0)
        yield GaugeMetricFamily(
            "sprout_stream_lag", "Stream entries not yet delivered to the worker group.", lag
        )
        yield GaugeMetricFamily(
            "sprout_stream_pending", "Stream entries delivered but not yet acknowledged.", pending
        )
        yield GaugeMetricFamily(
            "sprout_stream_dead_letters",
            "Entries in the dead-letter stream.",
            float(self.client.xlen(keys.DEAD_LETTER_STREAM)),
        )
        live: Counter[str] = Counter(dict.fromkeys(LIVE_STATES, 0))
        ids: list[Any] = list(self.client.zrange(keys.EXPIRY_INDEX, 0, -1))
        pipe = self.client.pipeline(transaction=False)
        for container_id in ids:
            pipe.hget(keys.record(str(container_id)), "state")
        for state in pipe.execute() if ids else []:
            if state:
                live[str(state)] += 1
        containers = GaugeMetricFamily(
            "sprout_containers_live", "Containers not yet terminal, by state.", labels=["state"]
        )
        for state, count in sorted(live.items()):
            containers.add_metric([state], count)
        yield containers


def registry(client: redis.Redis) -> CollectorRegistry:
    """A registry holding the worker's `Collector` alone (nothing is read until collected)."""
    made = CollectorRegistry()
    made.register(Collector(client))
    return made


def render(client: redis.Redis) -> str:
    """The worker's metrics, in Prometheus' text format."""
    return generate_latest(registry(client)).decode()


def serve(address: tuple[str, int], client: redis.Redis) -> WSGIServer:
    """A server for `GET /metrics` (call `serve_forever`): prometheus-client's WSGI app,
    read from Redis at each scrape; 404 elsewhere, and 503 while Redis does not answer."""
    metrics_app = make_wsgi_app(registry(client))

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            return _text(start_response, "404 Not Found", "The metrics are on /metrics.\n")
        try:
            return metrics_app(environ, start_response)  # type: ignore[no-any-return]
        except redis.RedisError as exc:
            log.warning("scrape: Redis failed: %s", exc)
            return _text(
                start_response, "503 Service Unavailable", "Redis is unavailable; try later.\n"
            )

    host, port = address
    return make_server(host, port, app, ThreadingWSGIServer, handler_class=_QuietHandler)


def _text(start_response: Callable[..., Any], status: str, text: str) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
    return [text.encode()]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # a line per scrape is noise; failures are logged by `serve`
