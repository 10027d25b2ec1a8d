"""The worker's metrics (counted per job, summed in Redis) and its JSON logs with request ids."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from redis.backoff import NoBackoff
from redis.retry import Retry

from deploy.local.redis_server import free_port
from functions.worker import metrics
from functions.worker.metrics import JobMetrics
from shared import keys, lifecycle, logs
from shared.context import Context
from tests.clock import FakeClock
from tests.worker.support import Target, create, delete, run_job, state, worker_settings
from tests.worker.test_cli import ROOT, worker


def samples(text: str) -> dict[str, float]:
    """The exposition's samples, `name{labels, sorted} -> value`, parsed by prometheus-client."""
    return {
        metrics.series(sample.name, sample.labels): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_counts_of_concurrent_jobs_add_up_in_redis(redis_client: redis.Redis) -> None:
    clock = FakeClock()
    one, two = (JobMetrics(redis_client, monotonic=clock) for _ in range(2))
    for job in (one, two):
        job.inc("sprout_worker_entries_total", {"type": "create", "outcome": "running"})
        job.observe_launch(0.7)
    one.inc("sprout_worker_retries_total", {"type": "delete"}, 2)
    two.observe_launch(45.0)
    one.flush()
    assert redis_client.exists(keys.WORKER_METRICS) == 0  # at most once a second
    clock.advance(1.0)
    one.flush()
    two.flush(force=True)
    assert one.unsent == {} and two.unsent == {}
    assert 0 < redis_client.ttl(keys.WORKER_METRICS) <= metrics.METRICS_TTL

    text = metrics.render(redis_client)
    found = samples(text)
    assert found['sprout_worker_entries_total{outcome="running",type="create"}'] == 2
    assert found['sprout_worker_retries_total{type="delete"}'] == 2
    # The histogram is cumulative: 0.7 s twice, 45 s once.
    assert found['sprout_container_launch_seconds_bucket{le="0.5"}'] == 0
    assert found['sprout_container_launch_seconds_bucket{le="1"}'] == 2
    assert found['sprout_container_launch_seconds_bucket{le="30"}'] == 2
    assert found['sprout_container_launch_seconds_bucket{le="60"}'] == 3
    assert found['sprout_container_launch_seconds_bucket{le="+Inf"}'] == 3
    assert found["sprout_container_launch_seconds_count"] == 3
    assert found["sprout_container_launch_seconds_sum"] == pytest.approx(46.4)
    assert found["sprout_stream_lag"] == 0 and found["sprout_stream_dead_letters"] == 0
    kinds = {family.name: family.type for family in text_string_to_metric_families(text)}
    assert kinds == {
        **dict.fromkeys(metrics.COUNTERS, "counter"),
        metrics.LAUNCH: "histogram",
        "sprout_stream_lag": "gauge",
        "sprout_stream_pending": "gauge",
        "sprout_stream_dead_letters": "gauge",
        "sprout_containers_live": "gauge",
    }
    lines = text.splitlines()
    buckets = [line for line in lines if "_bucket{" in line]
    assert buckets[-1].startswith('sprout_container_launch_seconds_bucket{le="+Inf"}')


def test_a_flush_while_redis_is_down_keeps_the_counts(redis_client: redis.Redis) -> None:
    down = redis.Redis(port=1, socket_connect_timeout=0.1, retry=Retry(NoBackoff(), 0))
    job = JobMetrics(down)
    job.inc("sprout_worker_jobs_total", {"stopped_by": "drained"})
    job.flush(force=True)  # logged, not raised
    assert job.unsent['sprout_worker_jobs_total{stopped_by="drained"}'] == 1
    job.client = redis_client
    job.flush(force=True)
    assert (
        samples(metrics.render(redis_client))['sprout_worker_jobs_total{stopped_by="drained"}'] == 1
    )


def test_an_empty_system_renders_every_family(redis_client: redis.Redis) -> None:
    found = samples(metrics.render(redis_client))
    assert found['sprout_container_launch_seconds_bucket{le="+Inf"}'] == 0
    assert found['sprout_containers_live{state="running"}'] == 0
    assert "sprout_stream_pending" in found


def test_a_job_counts_what_it_did(
    target: Target, ctx: Context, redis_server: Any, redis_client: redis.Redis
) -> None:
    ids = create(ctx, n=3)
    failing = create(ctx, template="missing")
    deadline = 2.0 if target.sim else 120.0  # for the missing image: pulled first on a cluster
    report = run_job(worker_settings(target, linger=0, ready_deadline=deadline), redis_server.url)
    assert report.outcomes["running"] == 3
    delete(ctx, ids[0])
    run_job(worker_settings(target, linger=0), redis_server.url)
    found = samples(metrics.render(redis_client))
    assert found['sprout_worker_entries_total{outcome="running",type="create"}'] == 3
    assert found['sprout_worker_entries_total{outcome="failed",type="create"}'] == len(failing)
    assert found['sprout_worker_entries_total{outcome="deleted",type="delete"}'] == 1
    assert found['sprout_worker_jobs_total{stopped_by="drained"}'] == 2
    assert found["sprout_container_launch_seconds_count"] == 3
    launches = [
        float(state(redis_client, i)["started_at"]) - float(state(redis_client, i)["created_at"])
        for i in ids
    ]
    assert found["sprout_container_launch_seconds_sum"] == pytest.approx(sum(launches))
    assert found["sprout_worker_api_calls_total"] >= 3 * 3
    assert found['sprout_containers_live{state="running"}'] == 2
    assert found["sprout_stream_lag"] == 0 and found["sprout_stream_pending"] == 0


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The worker's logs as JSON lines, formatted as they are emitted (in their thread)."""
    out = io.StringIO()
    handler = logs.handler(out)
    logger = logging.getLogger("sprout.worker")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    yield out
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_the_job_logs_each_entry_with_its_request_id(
    target: Target,
    ctx: Context,
    redis_server: Any,
    redis_client: redis.Redis,
    json_log: io.StringIO,
) -> None:
    (container_id,) = create(ctx)
    request_id = state(redis_client, container_id)["request_id"]
    assert request_id
    run_job(worker_settings(target, linger=0), redis_server.url)
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    handled = [line for line in lines if line.get("container_id") == container_id]
    assert handled, lines
    assert handled[-1]["request_id"] == request_id
    assert handled[-1]["outcome"] == "running" and handled[-1]["message"].startswith("create ")
    summary = [line for line in lines if line["message"].startswith("job done")]
    assert summary and "request_id" not in summary[0]  # job-wide lines carry none


def test_expire_entries_carry_the_request_id_of_the_create(
    target: Target, ctx: Context, redis_server: Any, redis_client: redis.Redis
) -> None:
    (container_id,) = create(ctx)
    run_job(worker_settings(target, linger=0), redis_server.url)
    redis_client.zadd(keys.EXPIRY_INDEX, {container_id: 1.0})  # its lifetime is over
    (reaped,) = lifecycle.reap(ctx.scripts, now=2.0)
    assert reaped == container_id
    entries: Any = redis_client.xrange(keys.STREAM)
    expire = [fields for _, fields in entries if fields["type"] == "expire"]
    assert expire[0]["request_id"] == state(redis_client, container_id)["request_id"]


def test_the_metrics_command_prints_or_writes_a_textfile(
    redis_server: Any, redis_client: redis.Redis, tmp_path: Path
) -> None:
    JobMetrics(redis_client).flush(force=True)  # nothing to send: no key
    job = JobMetrics(redis_client)
    job.inc("sprout_worker_takeovers_total", value=4)
    job.flush(force=True)
    env = {"SPROUT_REDIS_URL": redis_server.url}
    printed = worker("metrics", env=env)
    assert printed.returncode == 0, printed.stderr
    assert samples(printed.stdout)["sprout_worker_takeovers_total"] == 4
    target = tmp_path / "sprout_worker.prom"
    written = worker("metrics", "--out", str(target), env=env)
    assert written.returncode == 0 and written.stdout == ""
    assert target.read_text() == printed.stdout
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no partial file left


@contextlib.contextmanager
def exporter(redis_url: str) -> Iterator[str]:
    """`sprout-worker metrics --listen` on a free port, as the Deployment runs it."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "functions.worker", "metrics", "--listen", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "SPROUT_REDIS_URL": redis_url},
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "no exporter"
                time.sleep(0.05)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)
        assert process.returncode == 0


def scrape(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def test_the_exporter_serves_what_redis_holds_at_each_scrape(
    redis_server: Any, redis_client: redis.Redis
) -> None:
    with exporter(redis_server.url) as url:
        status, kind, first = scrape(url + "/metrics")
        assert status == 200 and kind.startswith("text/plain; version=0.0.4")
        assert first == metrics.render(redis_client)
        assert "sprout_worker_takeovers_total" not in samples(first)
        job = JobMetrics(redis_client)
        job.inc("sprout_worker_takeovers_total", value=2)
        job.flush(force=True)
        # The next scrape reads Redis again: no restart, no cache.
        assert samples(scrape(url + "/metrics")[2])["sprout_worker_takeovers_total"] == 2
        assert scrape(url + "/")[0] == 404


def test_the_exporter_answers_503_while_redis_is_unreachable() -> None:
    with exporter(f"redis://127.0.0.1:{free_port()}/0") as url:
        status, _, body = scrape(url + "/metrics")
    assert status == 503 and "Redis is unavailable" in body


def test_the_listen_address_is_checked() -> None:
    refused = worker("metrics", "--listen", "nowhere", env={"SPROUT_REDIS_URL": "redis://x"})
    assert refused.returncode == 2 and "HOST:PORT" in refused.stderr
