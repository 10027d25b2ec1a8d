"""Every operation of the OpenAPI document, fuzzed against the functions served by the stock
CLI: a sample here (`python -m tests.fuzz_api --examples 1000` is the full run). No 5xx,
every response as documented, the success paths reached; and /metrics as served."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis
import requests
from prometheus_client.parser import text_string_to_metric_families

from shared import metrics
from tests.fuzz_api import DOCUMENT, Fuzzer, Report, World, serving

pytestmark = pytest.mark.slow  # serves every function with the stock CLI

EXAMPLES = 60  # generated requests per operation, besides schemathesis's coverage cases
SEED = 20261128


@dataclass
class Run:
    report: Report
    metrics: dict[str, str]  # function -> its /metrics text after the run
    odd: dict[str, requests.Response]  # function -> its answer to a path Flask refuses itself


@pytest.fixture(scope="module")
def run(redis_server, tmp_path_factory) -> Iterator[Run]:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    client.flushall()
    try:
        with serving(redis_server.url, tmp_path_factory.mktemp("fuzz")) as urls:
            report = Fuzzer(urls, World.create(client, 20), SEED).run(EXAMPLES)
            scraped = {name: requests.get(f"{url}/metrics", timeout=10).text
                       for name, url in urls.items()}  # fmt: skip
            odd = {name: requests.get(f"{url}/containers/%C3%AD%0AI", timeout=10)
                   for name, url in urls.items()}  # fmt: skip
    finally:
        client.close()
    print(f"\n{report.render()}")
    yield Run(report, scraped, odd)


def test_every_operation_of_the_document_is_fuzzed(run):
    document = json.loads(DOCUMENT.read_text())
    operations = {
        f"{method.upper()} {path}"
        for path, methods in document["paths"].items()
        for method in methods
    }
    assert set(run.report.tallies) == operations
    assert all(t.requests >= EXAMPLES for t in run.report.tallies.values())


def test_no_server_error_and_every_response_as_documented(run):
    assert not run.report.failures, run.report.render()
    assert not any(s >= 500 for t in run.report.tallies.values() for s in t.statuses)


def test_paths_the_framework_refuses_itself_are_json_404s_too(run):
    # Found by the fuzzer: a path holding a newline got Flask's HTML 404 page.
    for response in run.odd.values():
        assert response.status_code == 404
        assert response.headers["Content-Type"] == "application/json"
        assert response.json()["error"]["code"] == "not_found"


def test_the_success_paths_limits_and_ownership_are_reached(run):
    statuses = {label: tally.statuses for label, tally in run.report.tallies.items()}
    assert statuses["POST /captcha/request"][200] > 0
    assert statuses["POST /captcha/verify"][200] > 0  # real challenges, solved
    assert statuses["POST /captcha/verify"][403] > 0
    assert statuses["POST /containers"][202] > 0  # real pass tokens and templates
    assert statuses["GET /containers"][304] > 0  # real ETags
    assert statuses["GET /containers/{container_id}"][200] > 0  # real ids, with their owner
    assert statuses["GET /containers/{container_id}"][404] > 0
    assert statuses["DELETE /containers/{container_id}"][202] > 0


def test_the_served_functions_count_what_they_answered(run):
    for function, text in run.metrics.items():
        families = {f.name: f for f in text_string_to_metric_families(text)}
        samples = [
            s
            for s in families["sprout_http_requests"].samples
            if s.name == "sprout_http_requests_total"
        ]
        assert {s.labels["function"] for s in samples} == {function}
        assert sum(s.value for s in samples) > EXAMPLES
        table = importlib.import_module(f"functions.{function}.main").ROUTES
        templates = {r.path for r in table} | {metrics.UNMATCHED}
        assert {s.labels["route"] for s in samples} <= templates  # never a raw path
    containers = text_string_to_metric_families(run.metrics["containers"])
    created = next(f for f in containers if f.name == "sprout_containers_created")
    assert sum(s.value for s in created.samples if s.name.endswith("_total")) > 0
    captcha = text_string_to_metric_families(run.metrics["captcha"])
    refused = next(f for f in captcha if f.name == "sprout_captcha_failures")
    assert sum(s.value for s in refused.samples) > 0
