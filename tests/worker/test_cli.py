"""The command line (`python -m functions.worker`), the RBAC it needs, and the API rate cap."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis

from functions.worker import kube as kube_module
from functions.worker.kube import REQUIRED_RBAC
from shared import keys
from shared.context import Context
from tests.worker.support import Target, create, run_job, state, worker_settings

ROOT = Path(__file__).resolve().parents[2]


def worker(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "functions.worker", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_required_rbac_is_exactly_what_the_client_calls() -> None:
    assert REQUIRED_RBAC == {
        ("", "pods"): ("create", "delete", "get", "list", "watch"),
        ("", "services"): ("create", "delete", "list"),
        ("networking.k8s.io", "ingresses"): ("create", "delete", "list"),
    }
    # Only kube.py reaches the Kubernetes API classes: nothing can call around the list.
    for path in (ROOT / "functions" / "worker").glob("*.py"):
        if path.name != "kube.py":
            text = path.read_text()
            assert "CoreV1Api" not in text and "NetworkingV1Api" not in text, path
    assert kube_module.__file__


def test_rbac_command_prints_the_rules() -> None:
    result = worker("rbac", env={})
    assert result.returncode == 0
    assert json.loads(result.stdout)[0] == {
        "apiGroup": "",
        "resource": "pods",
        "verbs": ["create", "delete", "get", "list", "watch"],
    }


def test_run_drains_and_exits_0_and_tick_needs_only_redis(
    target: Target, ctx: Context, redis_server: Any, redis_client: redis.Redis
) -> None:
    ids = create(ctx, n=3)
    env = {
        "SPROUT_REDIS_URL": redis_server.url,
        **target.worker_env(),
        "SPROUT_WORKER_LINGER": "0",
    }
    result = worker(env=env)
    assert result.returncode == 0, result.stderr
    assert "job done" in result.stderr and "(drained)" in result.stderr
    assert {state(redis_client, i)["state"] for i in ids} == {"running"}
    ticked = worker("tick", env={"SPROUT_REDIS_URL": redis_server.url})
    assert ticked.returncode == 0 and "tick: idle" in ticked.stderr  # just reconciled
    redis_client.delete(keys.RECONCILED_AT)
    ticked = worker("tick", env={"SPROUT_REDIS_URL": redis_server.url})
    assert "tick: schedule" in ticked.stderr


def test_a_missing_setting_is_named_and_exits_2() -> None:
    result = worker(env={"SPROUT_REDIS_URL": "", "SPROUT_WORKER_API_RATE": "-1"})
    assert result.returncode == 2
    assert "SPROUT_WORKER_API_RATE" in result.stderr
    result = worker(env={"SPROUT_WORKER_KUBECONFIG": "/nonexistent/kubeconfig"})
    assert result.returncode == 2 and "SPROUT_REDIS_URL is missing" in result.stderr


def test_api_calls_stay_under_the_rate_cap(
    target: Target, ctx: Context, redis_server: Any, redis_client: redis.Redis
) -> None:
    create(ctx, n=12)
    started = time.monotonic()
    report = run_job(worker_settings(target, api_rate=20.0, linger=0), redis_server.url)
    elapsed = time.monotonic() - started
    calls = report.api_calls
    assert calls >= 12 * 3 + 4  # pods, services, ingresses; the reconciler's lists; the watch
    assert calls <= 20 * elapsed + 20  # a second's burst, then 20 per second
    assert elapsed >= (calls - 20) / 20
    if target.sim:
        assert sum(target.stats()["requests"].get("create", {}).values()) == 36


def test_an_unusable_kubeconfig_is_named_and_exits_2(redis_server: Any) -> None:
    result = worker(
        env={
            "SPROUT_REDIS_URL": redis_server.url,
            "SPROUT_WORKER_KUBECONFIG": "/nonexistent/kubeconfig",
        }
    )
    assert result.returncode == 2
    assert "cannot reach the cluster with /nonexistent/kubeconfig" in result.stderr


def test_sigterm_stops_taking_entries_and_exits_0(
    target: Target, ctx: Context, redis_server: Any, redis_client: redis.Redis
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "functions.worker"],
        cwd=ROOT,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "SPROUT_REDIS_URL": redis_server.url,
            **target.worker_env(),
            "SPROUT_WORKER_LINGER": "600",  # would wait for entries for 10 minutes
        },
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        (container_id,) = create(ctx)
        deadline = time.monotonic() + 30
        while state(redis_client, container_id)["state"] != "running":
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert "(stop)" in stderr
    (group,) = redis_client.xinfo_groups(keys.STREAM)
    assert group["pending"] == 0
