"""Prometheus metrics of the HTTP functions: defined here, recorded at the seams, on /metrics.

    metric                                   labels                              recorded by
    sprout_http_requests_total               function, route, method, status     shared.http.serve
    sprout_http_request_duration_seconds     function, route                     shared.http.serve
    sprout_captcha_challenges_total          mode                                captcha.service
    sprout_captcha_passes_total              mode                                captcha.service
    sprout_captcha_failures_total            reason                              captcha.service
    sprout_containers_created_total          template                            shared.containers
    sprout_container_create_refusals_total   reason                              shared.containers
    process_* and python_*                                                       prometheus-client

Each is a plain prometheus-client `Counter` or `Histogram` in `REGISTRY`. Every label has a
bounded set of values, whatever clients send: `route` is the route's template
(`/containers/{container_id}`, never the raw path) or `UNMATCHED` for any path no route
serves; `method` is one of `METHODS` or `other`; `template` only counts admitted creates, so
it is one of the configured templates; the reasons and modes are fixed lists, each exported
from zero.

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
`metrics-from-prometheus` allows Prometheus alone. The counters start at zero with each
process (Knative scales to zero); Prometheus's rate() handles resets.
"""

from __future__ import annotations

import flask
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from shared.captcha.failures import REASONS

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

REQUESTS = Counter(
    "sprout_http_requests",
    "HTTP requests answered, by function, route template, method and status",
    ["function", "route", "method", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "sprout_http_request_duration_seconds",
    "Time from the request reaching the function's handler to the response being ready",
    ["function", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY,
)
CAPTCHA_CHALLENGES = Counter(
    "sprout_captcha_challenges",
    "CAPTCHA challenges issued, by mode (slider, pow)",
    ["mode"],
    registry=REGISTRY,
)
CAPTCHA_PASSES = Counter(
    "sprout_captcha_passes", "CAPTCHA answers that passed, by mode", ["mode"], registry=REGISTRY
)
CAPTCHA_FAILURES = Counter(
    "sprout_captcha_failures",
    "CAPTCHA answers refused, by the first rule that failed",
    ["reason"],
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
for mode in CAPTCHA_MODES:  # every mode and reason from zero, so that rate() sees the first
    CAPTCHA_CHALLENGES.labels(mode)
    CAPTCHA_PASSES.labels(mode)
for reason in REASONS:
    CAPTCHA_FAILURES.labels(reason)


def observe_request(function: str, route: str, method: str, status: int, seconds: float) -> None:
    """Count one answered request and its latency; `route` is its template or `UNMATCHED`."""
    REQUESTS.labels(function, route, method if method in METHODS else "other", status).inc()
    LATENCY.labels(function, route).observe(seconds)


def challenge_issued(mode: str) -> None:
    CAPTCHA_CHALLENGES.labels(mode).inc()


def captcha_passed(mode: str) -> None:
    CAPTCHA_PASSES.labels(mode).inc()


def captcha_failed(reason: str) -> None:
    CAPTCHA_FAILURES.labels(reason).inc()


def container_created(template: str) -> None:
    CONTAINERS_CREATED.labels(template).inc()


def create_refused(reason: str) -> None:
    CREATE_REFUSALS.labels(reason).inc()


def exposition() -> bytes:
    """This process's metrics in the Prometheus text format."""
    return generate_latest(REGISTRY)


def endpoint(request: flask.Request) -> flask.Response:
    """`GET /metrics`: an internal route (no context, so it answers even when misconfigured)."""
    return flask.Response(exposition(), status=200, content_type=CONTENT_TYPE_LATEST)
