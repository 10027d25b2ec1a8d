"""Prometheus metrics of the HTTP functions: defined here, recorded at the seams, on /metrics.

    metric                                   labels                              recorded by
    sprout_http_requests_total               function, route, method, status     shared.http.serve
    sprout_http_request_duration_seconds     function, route                     shared.http.serve
    sprout_captcha_challenges_total          mode                                captcha.service
    sprout_captcha_passes_total              mode                                failures.COUNTS
    sprout_captcha_failures_total            reason                              failures.COUNTS
    sprout_containers_created_total          template                            shared.containers
    sprout_container_create_refusals_total   reason                              shared.containers
    process_* and python_*                                                       prometheus-client

Every label has a bounded set of values, whatever clients send: `route` is the route's
template (`/containers/{container_id}`, never the raw path) or `UNMATCHED` for any path no
route serves; `method` is one of `METHODS` or `other`; `template` only counts admitted
creates, so it is one of the configured templates; the reasons are fixed lists.

One registry per process, and that is all a function needs: functions-framework runs
gunicorn with one worker process (`WORKERS`, default 1, as deploy/base sets it) and
`THREADS` threads, so this process sees every request its pod serves. With WORKERS > 1 each
worker process would keep its own counts and a scrape would reach one of them at random:
then switch prometheus-client to multiprocess mode (`PROMETHEUS_MULTIPROC_DIR`, a
`MultiProcessCollector` behind /metrics, `mark_process_dead` when a worker exits).

/metrics is served on the function's own port and is not part of the public API (it is not
in the OpenAPI document). Traefik only routes `/captcha`, `/containers`, `/rate-limit` and `/`
(deploy/base/routing/ingressroute.yaml) to the site, and `/metrics` falls under `/`, the
frontend, so it is reachable only by scraping the pod, which the NetworkPolicy
`metrics-from-prometheus` allows Prometheus alone (and `/containers/metrics` is just a
container id that does not exist: 404). The counters start
at zero with each process (Knative scales to zero); Prometheus's rate() handles resets.

This is the hot path: a request costs a bisect and one lock around two additions, about
1 µs for the call and 3-4 µs added to a request (`python -m benchmarks.metrics`).
"""

from __future__ import annotations

import bisect
import functools
import itertools
import threading
from collections.abc import Iterator

import flask
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.gc_collector import GCCollector
from prometheus_client.metrics_core import Metric
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from shared.captcha import failures

UNMATCHED = "unmatched"  # the route label of every path that no route serves
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
CAPTCHA_MODES = ("slider", "pow")

# Why a create was refused: a rate-limit or quota policy (its name), or one of these.
REFUSED_TEMPLATE = "template"  # no such template (422)
REFUSED_CAPTCHA = "captcha"  # the pass token is missing, used or expired (403)
REFUSED_CAPACITY = "capacity"  # the system is full (503)
REFUSED_ID_TAKEN = "id_taken"  # 60 random bits collided (503, retry)

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class RequestMetrics(Collector):
    """`sprout_http_requests_total` and `sprout_http_request_duration_seconds`.

    Each (function, route, method, status) keeps a count per latency bucket and a sum, under
    one lock; the two metric families are made from them at scrape time (the histogram sums
    over method and status). Half the cost of a prometheus-client Counter plus Histogram
    (three locks and their method layers), which matters on the request path.
    """

    def __init__(self, buckets: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        self._bounds = buckets
        self._labels = [str(bound) for bound in buckets] + ["+Inf"]
        self._lock = threading.Lock()
        # per series: a count per bucket (the last one past every bound), then the sum
        self._series: dict[tuple[str, str, str, int], list[float]] = {}

    def observe(self, function: str, route: str, method: str, status: int, seconds: float) -> None:
        key = (function, route, method if method in METHODS else "other", status)
        bucket = bisect.bisect_left(self._bounds, seconds)  # the first bound >= seconds
        with self._lock:
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = [0.0] * (len(self._bounds) + 2)
            series[bucket] += 1
            series[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            snapshot = {key: list(values) for key, values in self._series.items()}
        requests = CounterMetricFamily(
            "sprout_http_requests",
            "HTTP requests answered, by function, route template, method and status",
            labels=["function", "route", "method", "status"],
        )
        latency: dict[tuple[str, str], list[float]] = {}
        for (function, route, method, status), values in sorted(snapshot.items()):
            requests.add_metric([function, route, method, str(status)], sum(values[:-1]))
            merged = latency.setdefault((function, route), [0.0] * len(values))
            merged[:] = [a + b for a, b in zip(merged, values, strict=True)]
        durations = HistogramMetricFamily(
            "sprout_http_request_duration_seconds",
            "Time from the request reaching the function's handler to the response being ready",
            labels=["function", "route"],
        )
        for labels, values in latency.items():
            cumulative = itertools.accumulate(values[:-1])
            durations.add_metric(
                list(labels), list(zip(self._labels, cumulative, strict=True)), values[-1]
            )
        yield requests
        yield durations


REQUESTS = RequestMetrics()
REGISTRY.register(REQUESTS)
CAPTCHA_CHALLENGES = Counter(
    "sprout_captcha_challenges",
    "CAPTCHA challenges issued, by mode (slider, pow)",
    ["mode"],
    registry=REGISTRY,
)
CONTAINERS_CREATED = Counter(
    "sprout_containers_created",
    "Creates admitted (answered 202), by template",
    ["template"],
    registry=REGISTRY,
)
CREATE_REFUSALS = Counter(
    "sprout_container_create_refusals",
    "Creates refused, by reason: a rate-limit policy's name, or "
    f"{REFUSED_TEMPLATE}, {REFUSED_CAPTCHA}, {REFUSED_CAPACITY}, {REFUSED_ID_TAKEN}",
    ["reason"],
    registry=REGISTRY,
)


class CaptchaVerifications(Collector):
    """Exports `failures.COUNTS` (the CAPTCHA's own tally of passes and failure reasons) at
    scrape time: one source of truth, and no cost on the request path."""

    def __init__(self, counts: failures.Counts) -> None:
        self._counts = counts

    def collect(self) -> Iterator[Metric]:
        passes = CounterMetricFamily(
            "sprout_captcha_passes", "CAPTCHA answers that passed, by mode", labels=["mode"]
        )
        passed = self._counts.passes()
        for mode in CAPTCHA_MODES:
            passes.add_metric([mode], passed.get(mode, 0))
        failed = CounterMetricFamily(
            "sprout_captcha_failures",
            "CAPTCHA answers refused, by the first rule that failed",
            labels=["reason"],
        )
        counted = self._counts.failures()
        for reason in failures.REASONS:
            failed.add_metric([reason], counted.get(reason, 0))
        yield passes
        yield failed


REGISTRY.register(CaptchaVerifications(failures.COUNTS))


# observe_request(function, route, method, status, seconds): count one answered request and
# its latency; `route` is the route's template or `UNMATCHED`.
observe_request = REQUESTS.observe


def challenge_issued(mode: str) -> None:
    _child(CAPTCHA_CHALLENGES, mode).inc()


def container_created(template: str) -> None:
    _child(CONTAINERS_CREATED, template).inc()


@functools.cache
def _child(counter: Counter, value: str) -> Counter:
    # `labels()` takes a lock and rebuilds its key each call; the values here are a fixed set
    # (modes, configured templates), so each child is looked up once.
    return counter.labels(value)


def create_refused(reason: str) -> None:
    CREATE_REFUSALS.labels(reason).inc()


def exposition() -> bytes:
    """This process's metrics in the Prometheus text format."""
    return generate_latest(REGISTRY)


def endpoint(request: flask.Request) -> flask.Response:
    """`GET /metrics`: an internal route (no context, so it answers even when misconfigured)."""
    return flask.Response(exposition(), status=200, content_type=CONTENT_TYPE_LATEST)
