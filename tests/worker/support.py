"""Helpers for the worker's tests: the Kubernetes API they target, containers, jobs.

The API is the project's simulator (`deploy.local.kubesim`) in its own process, reached over
HTTP through an ordinary kubeconfig and the official client, like a cluster. When
`SPROUT_TEST_KUBECONFIG` names a real cluster, the tests parametrized over `target` run
against it too (namespace `SPROUT_TEST_NAMESPACE`, default `sprout`, which must exist and
must hold nothing else labelled `app.kubernetes.io/part-of=sprout`).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from kubernetes import client, config

from deploy.local.kubesim import SimulatorProcess
from functions.worker.builders import SELECTOR
from functions.worker.job import Job
from functions.worker.kube import Kube
from functions.worker.report import JobReport
from functions.worker.settings import WorkerSettings
from shared import containers, keys, passes
from shared.context import Context
from shared.settings import SiteSettings, Template, TemplateSettings

# Simulated pods start in 50 ms; nodes are big enough for any test's load.
SIM_ARGS = [
    "--start-delay", "0.05",
    "--deletion-delay", "0.02",
    "--backoff-delay", "0.05",
    "--node-cpu", "100000",
    "--node-memory", "100000Gi",
    "--node-pods", "1000000",
]  # fmt: skip

TEMPLATES = [
    {"name": "nginx", "title": "nginx", "description": "web", "port": 8080,
     "image": "nginxinc/nginx-unprivileged:1.27-alpine"},
    {"name": "whoami", "title": "whoami", "description": "echo", "port": 8080,
     "image": "traefik/whoami:v1.10", "args": ["--port", "8080"], "cpu": "100m",
     "memory": "32Mi"},
    # Failure templates: each fails on a real cluster as it says; the simulator reads its hook.
    {"name": "missing", "title": "missing", "description": "no such image", "port": 8080,
     "image": "registry.example/doesnotexist:1"},
    {"name": "crash", "title": "crash", "description": "exits", "port": 8080,
     "image": "busybox:1.36", "command": ["sh", "-c", "exit 1 # sprout-sim:crash"]},
    {"name": "huge", "title": "huge", "description": "too big", "port": 8080,
     "image": "busybox:1.36", "cpu": "1000000"},
    {"name": "sleepy", "title": "sleepy", "description": "never ready", "port": 8080,
     "image": "busybox:1.36", "command": ["sh", "-c", "sleep 3600", "sprout-sim:never-ready"]},
    {"name": "invalid", "title": "invalid", "description": "bad quantity", "port": 8080,
     "image": "busybox:1.36", "memory": "lots"},
    {"name": "flaky", "title": "flaky", "description": "crashes once running", "port": 8080,
     "image": "busybox:1.36", "command": ["sh", "-c", "httpd -f -p 8080 & sleep 10; exit 1",
                                          "sprout-sim:crash-after=0.5"]},
]  # fmt: skip


def template_settings() -> TemplateSettings:
    return TemplateSettings(templates=[Template(**t) for t in TEMPLATES])  # type: ignore[arg-type]


@dataclass
class Target:
    """A Kubernetes API the worker is pointed at, and an official client for assertions."""

    name: str
    kubeconfig: Path
    namespace: str
    api_client: Any
    sim: SimulatorProcess | None = None

    @property
    def core(self) -> Any:
        return client.CoreV1Api(self.api_client)

    @property
    def networking(self) -> Any:
        return client.NetworkingV1Api(self.api_client)

    def configure(self, **changes: Any) -> None:
        if self.sim is None:
            pytest.skip("fault injection needs the simulator")
        self.sim.configure(**changes)

    def stats(self) -> dict[str, Any]:
        assert self.sim is not None
        return self.sim.stats()

    def pods(self) -> list[Any]:
        return list(self.core.list_namespaced_pod(self.namespace, label_selector=SELECTOR).items)

    def objects(self) -> dict[str, list[str]]:
        """Names of Sprout's pods, services and ingresses (by label)."""
        return {
            "pods": sorted(p.metadata.name for p in self.pods()),
            "services": sorted(
                s.metadata.name
                for s in self.core.list_namespaced_service(
                    self.namespace, label_selector=SELECTOR
                ).items
            ),
            "ingresses": sorted(
                i.metadata.name
                for i in self.networking.list_namespaced_ingress(
                    self.namespace, label_selector=SELECTOR
                ).items
            ),
        }

    def worker_env(self) -> dict[str, str]:
        """The environment that points a worker process at this API."""
        return {"SPROUT_WORKER_KUBECONFIG": str(self.kubeconfig),
                "SPROUT_WORKER_NAMESPACE": self.namespace}  # fmt: skip

    def clear(self) -> None:
        if self.sim is not None:
            self.sim.reset()
            return
        for name in self.objects()["ingresses"]:
            self.networking.delete_namespaced_ingress(name, self.namespace)
        for name in self.objects()["services"]:
            self.core.delete_namespaced_service(name, self.namespace)
        self.core.delete_collection_namespaced_pod(
            self.namespace, label_selector=SELECTOR, grace_period_seconds=0
        )
        wait_for(lambda: not any(self.objects().values()), timeout=120, what="an empty namespace")


OWNER = "owner-hash"


def create(ctx: Context, template: str = "nginx", n: int = 1) -> list[str]:
    """Create containers the way POST /containers does (one CREATE script each)."""
    ids = []
    for _ in range(n):
        token = passes.issue(
            ctx.scripts.client, client_hash="client", action="create", mode="slider"
        )
        made = containers.create(
            ctx,
            owner=OWNER,
            client="client",
            network="network",
            template=template,
            captcha_token=token,
            request_id=secrets.token_hex(4),
        )
        ids.append(made.container.id)
    return ids


def delete(ctx: Context, container_id: str) -> None:
    containers.delete(ctx, OWNER, container_id, secrets.token_hex(4))


def state(r: redis.Redis, container_id: str) -> dict[str, str]:
    fields: Any = r.hgetall(keys.record(container_id))
    return dict(fields)


def worker_settings(target: Target, **overrides: Any) -> WorkerSettings:
    values: dict[str, Any] = {
        "kubeconfig": str(target.kubeconfig),
        "namespace": target.namespace,
        "api_rate": 5000.0,
        "ready_deadline": 10.0 if target.sim else 180.0,
        "claim_min_idle": 2.0,
        "backoff_base": 0.05,
        "backoff_max": 0.5,
        "lost_after": 5.0,
        "linger": 0.1,
        "watch_timeout": 30,
        "max_run_time": 120.0,
    }
    values.update(overrides)
    return WorkerSettings(**values)


def make_job(settings: WorkerSettings, redis_url: str, **kwargs: Any) -> Job:
    return Job(
        settings=settings,
        site=SiteSettings(),
        templates=template_settings().by_name(),
        redis_client=redis.Redis.from_url(redis_url, decode_responses=True),
        kube=Kube.connect(settings),
        **kwargs,
    )


def run_job(settings: WorkerSettings, redis_url: str, **kwargs: Any) -> JobReport:
    job = make_job(settings, redis_url, **kwargs)
    try:
        return job.run()
    finally:
        job.kube.close()
        job.stream.client.close()


def run_in_thread(settings: WorkerSettings, redis_url: str) -> tuple[Job, threading.Thread]:
    job = make_job(settings, redis_url)
    thread = threading.Thread(target=job.run, name="job", daemon=True)
    thread.start()
    return job, thread


def new_client(kubeconfig: str | Path) -> Any:
    """An official API client from a kubeconfig, as kubectl would use it."""
    factory: Any = config.new_client_from_config
    return factory(config_file=str(kubeconfig))


def wait_for(
    condition: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.05
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
