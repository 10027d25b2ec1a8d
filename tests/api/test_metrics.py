"""Prometheus metrics: they move on real requests, the exposition parses, labels stay bounded."""

from __future__ import annotations

import flask
import pytest
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from functions.captcha.main import ROUTES as CAPTCHA_ROUTES
from functions.containers.main import ROUTES as CONTAINER_ROUTES
from functions.ratelimit.main import ROUTES as RATELIMIT_ROUTES
from shared import metrics
from shared.context import Context, LazyContext
from shared.errors import ConfigError
from shared.http import Call, Route, Routes, serve
from tests.apps import PEER, create, function_app
from tests.captcha_support import captcha_context, nonce_for

REQUESTS = "sprout_http_requests_total"


def sample(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def requests(function: str, path: str, method: str, status: int) -> float:
    return sample(REQUESTS, function=function, route=path, method=method, status=str(status))


def client(ctx: Context, routes, function: str) -> FlaskClient:
    test_client = function_app(ctx, routes, function).test_client()
    test_client.environ_base["REMOTE_ADDR"] = PEER
    return test_client


@pytest.fixture
def containers(make_context) -> FlaskClient:
    return client(make_context(), CONTAINER_ROUTES, "containers")


def boom(call: Call) -> flask.Response:
    raise RuntimeError("a bug")


# Requests by route template and status ---------------------------------------------------------


def test_requests_are_counted_by_route_template_method_and_status(containers, redis_client):
    where = ("containers", "/containers/{container_id}", "GET")
    before = {status: requests(*where, status) for status in (200, 404)}
    latency_before = sample(
        "sprout_http_request_duration_seconds_count",
        function="containers",
        route="/containers/{container_id}",
    )
    created = create(containers, redis_client).get_json()
    assert containers.get(f"/containers/{created['id']}").status_code == 200
    assert containers.get("/containers/abcdefghijkl").status_code == 404
    assert containers.get("/containers/zzzzzzzzzzzz").status_code == 404
    assert requests(*where, 200) == before[200] + 1
    assert requests(*where, 404) == before[404] + 2
    assert (
        sample(
            "sprout_http_request_duration_seconds_count",
            function="containers",
            route="/containers/{container_id}",
        )
        == latency_before + 3
    )


def test_client_errors_server_errors_and_rate_limits_are_counted(
    make_context, containers, redis_client
):
    unprocessable = requests("containers", "/containers", "POST", 422)
    assert containers.post("/containers", json={"template": 1}).status_code == 422
    assert requests("containers", "/containers", "POST", 422) == unprocessable + 1

    failing = client(make_context(), Routes(Route("GET", "/boom", boom)), "boomer")
    assert failing.get("/boom").status_code == 500
    assert requests("boomer", "/boom", "GET", 500) == 1

    limited = requests("containers", "/containers", "POST", 429)
    statuses = [create(containers, redis_client).status_code for _ in range(6)]
    assert statuses.count(429) >= 1
    assert requests("containers", "/containers", "POST", 429) == limited + statuses.count(429)


def test_unknown_paths_and_methods_count_under_bounded_labels(containers):
    unmatched = requests("containers", metrics.UNMATCHED, "GET", 404)
    for n in range(25):
        assert containers.get(f"/no/such/path/{n}").status_code == 404
    assert requests("containers", metrics.UNMATCHED, "GET", 404) == unmatched + 25

    wrong_method = requests("containers", "/containers/templates", "PUT", 405)
    assert containers.put("/containers/templates").status_code == 405
    assert requests("containers", "/containers/templates", "PUT", 405) == wrong_method + 1

    metrics.observe_request("containers", metrics.UNMATCHED, "BREW", 405, 0.001)
    metrics.observe_request("containers", metrics.UNMATCHED, "X-HACK-1", 405, 0.001)
    assert requests("containers", metrics.UNMATCHED, "other", 405) == 2

    exposed = metrics.exposition().decode()
    assert "/no/such/path" not in exposed and "BREW" not in exposed
    routes = {
        s.labels["route"]
        for family in text_string_to_metric_families(exposed)
        if family.name == "sprout_http_requests"
        for s in family.samples
    }
    allowed = {r.path for table in (CONTAINER_ROUTES, CAPTCHA_ROUTES, RATELIMIT_ROUTES)
               for r in table} | {metrics.UNMATCHED, "/boom"}  # fmt: skip
    assert routes <= allowed


def test_the_latency_histogram_is_cumulative_with_count_and_sum() -> None:
    for method, status, seconds in [("GET", 200, 0.0005), ("GET", 404, 0.003), ("POST", 200, 7)]:
        metrics.observe_request("histogram", "/r", method, status, seconds)

    def value(name: str, **labels: str) -> float | None:
        return sample(name, function="histogram", route="/r", **labels)

    histogram = "sprout_http_request_duration_seconds"
    assert value(f"{histogram}_bucket", le="0.001") == 1
    assert value(f"{histogram}_bucket", le="0.005") == 2
    assert value(f"{histogram}_bucket", le="5.0") == 2
    assert value(f"{histogram}_bucket", le="+Inf") == 3
    assert value(f"{histogram}_count") == 3
    assert value(f"{histogram}_sum") == pytest.approx(7.0035)
    assert value(REQUESTS, method="GET", status="200") == 1
    assert value(REQUESTS, method="POST", status="200") == 1


# The use cases' outcomes ---------------------------------------------------------------------


def test_creates_are_counted_by_template_and_refusals_by_reason(make_context, redis_client):
    api = client(make_context(creates_per_hour=2, capacity=10), CONTAINER_ROUTES, "containers")
    created = sample("sprout_containers_created_total", template="whoami")
    refused = {
        reason: sample("sprout_container_create_refusals_total", reason=reason)
        for reason in ("captcha", "template", "creates_per_address", "capacity")
    }
    assert create(api, redis_client, "whoami").status_code == 202
    bad_token = {"template": "nginx", "captcha_token": "x" * 32}
    assert api.post("/containers", json=bad_token).status_code == 403
    assert create(api, redis_client, "no-such-template").status_code == 422
    assert create(api, redis_client).status_code == 202
    assert create(api, redis_client).status_code == 429
    full = client(make_context(capacity=2, line_length=0), CONTAINER_ROUTES, "containers")
    full.environ_base["REMOTE_ADDR"] = "198.51.100.1"
    assert create(full, redis_client, peer="198.51.100.1").status_code == 503

    assert sample("sprout_containers_created_total", template="whoami") == created + 1
    moved = {
        reason: sample("sprout_container_create_refusals_total", reason=reason) - before
        for reason, before in refused.items()
    }
    assert moved == {"captcha": 1, "template": 1, "creates_per_address": 1, "capacity": 1}


def test_captcha_challenges_passes_and_failures_are_exported(redis_server, redis_client, clock):
    api = client(captcha_context(redis_server.url, clock), CAPTCHA_ROUTES, "captcha")
    issued = sample("sprout_captcha_challenges_total", mode="pow")
    passed = sample("sprout_captcha_passes_total", mode="pow")
    missing = sample("sprout_captcha_failures_total", reason="missing")

    challenge = api.post("/captcha/request", json={"action": "create", "mode": "pow"}).get_json()
    clock.advance(2)
    answer = {"challenge_id": challenge["challenge_id"], "x": 0, "pow_nonce": nonce_for(challenge)}
    assert api.post("/captcha/verify", json=answer).status_code == 200
    assert api.post("/captcha/verify", json=answer).status_code == 403  # one attempt: missing

    assert sample("sprout_captcha_challenges_total", mode="pow") == issued + 1
    assert sample("sprout_captcha_passes_total", mode="pow") == passed + 1
    assert sample("sprout_captcha_failures_total", reason="missing") == missing + 1


# The endpoint --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "routes"),
    [
        ("captcha", CAPTCHA_ROUTES),
        ("containers", CONTAINER_ROUTES),
        ("ratelimit", RATELIMIT_ROUTES),
    ],
)
def test_each_function_serves_the_prometheus_text_format(make_context, function, routes):
    api = client(make_context(), routes, function)
    api.get("/rate-limit")  # something to count (a 404 where the path is not this function's)
    response = api.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert "version=" in response.headers["Content-Type"]
    families = {f.name: f for f in text_string_to_metric_families(response.get_data(as_text=True))}
    assert {
        "sprout_http_requests",
        "sprout_http_request_duration_seconds",
        "sprout_captcha_passes",
        "sprout_captcha_failures",
        "process_cpu_seconds",
    } <= set(families)
    assert families["sprout_http_request_duration_seconds"].type == "histogram"
    reasons = {s.labels["reason"] for s in families["sprout_captcha_failures"].samples}
    assert {"missing", "pow", "offset", "track_speed"} <= reasons  # every reason, from zero
    assert any(
        s.labels.get("function") == function for s in families["sprout_http_requests"].samples
    )


def test_metrics_answer_even_when_the_function_is_misconfigured() -> None:
    def unconfigured() -> Context:
        raise ConfigError("Sprout cannot start: SPROUT_REDIS_URL is missing")

    app = flask.Flask("t")
    with app.test_request_context("/metrics"):
        response = serve(flask.request, LazyContext(unconfigured), RATELIMIT_ROUTES, function="x")
    assert response.status_code == 200
    with app.test_request_context("/rate-limit"):
        response = serve(flask.request, LazyContext(unconfigured), RATELIMIT_ROUTES, function="x")
    assert response.status_code == 503
