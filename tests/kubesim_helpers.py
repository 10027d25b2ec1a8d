"""Helpers for the kubesim tests: a running simulator with an official client, pod builders."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from kubernetes import client, config, watch

from deploy.local.kubesim import SimConfig, Simulator

T = TypeVar("T")
NAMESPACE = "sprout"


@dataclass
class Kube:
    """A simulator and official API clients connected to it through a kubeconfig."""

    sim: Simulator
    api_client: Any
    kubeconfig: Path

    @property
    def core(self) -> Any:
        return client.CoreV1Api(self.api_client)

    @property
    def networking(self) -> Any:
        return client.NetworkingV1Api(self.api_client)

    def raw(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        token: str | None = None,
        content_type: str = "application/json",
    ) -> tuple[int, dict[str, str], bytes]:
        """A plain HTTP request, for what the typed client cannot send."""
        request = urllib.request.Request(
            self.sim.url + path,
            data=body,
            method=method,
            headers={
                "Authorization": f"Bearer {self.sim.token if token is None else token}",
                "Content-Type": content_type,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, dict(error.headers), error.read()

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        status, _, payload = self.raw(method, path, data)
        assert status == 200, payload
        return json.loads(payload)


# The kubernetes package's loaders and Watch are untyped: these typed seams keep mypy strict.
def new_api_client(kubeconfig: Path) -> Any:
    """An ``ApiClient`` configured from ``kubeconfig``, as the worker will build one."""
    loader: Any = config.new_client_from_config
    return loader(config_file=str(kubeconfig))


def new_watch() -> Any:
    factory: Any = watch.Watch
    return factory()


def core_api(api_client: Any) -> Any:
    return client.CoreV1Api(api_client)


@contextmanager
def running_kube(
    tmp_path: Path, config_values: dict[str, Any] | None = None, **options: Any
) -> Iterator[Kube]:
    settings = SimConfig(
        **{
            "start_delay": 0.0,
            "backoff_delay": 0.05,
            "deletion_delay": 0.05,
            **(config_values or {}),
        }
    )
    sim = Simulator(settings, **options).start()
    kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")
    api_client = new_api_client(kubeconfig)
    try:
        yield Kube(sim, api_client, kubeconfig)
    finally:
        api_client.close()
        sim.stop()


def wait_for(check: Callable[[], T | None], timeout: float = 5.0, what: str = "condition") -> T:
    """Polls ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def compliant_pod(
    name: str,
    *,
    image: str = "nginx:1.25",
    args: list[str] | None = None,
    labels: dict[str, str] | None = None,
    restart_policy: str | None = None,
    deadline: int | None = None,
    cpu: str = "100m",
    memory: str = "64Mi",
) -> dict[str, Any]:
    """A pod that satisfies Pod Security ``restricted``, shaped like Sprout's."""
    spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "app",
                "image": image,
                "args": args or [],
                "ports": [{"containerPort": 8080}],
                "resources": {"limits": {"cpu": cpu, "memory": memory}},
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
    }
    if restart_policy:
        spec["restartPolicy"] = restart_policy
    if deadline:
        spec["activeDeadlineSeconds"] = deadline
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": spec}


def error_body(error: Any) -> dict[str, Any]:
    """The Status body of an ``ApiException``."""
    body: dict[str, Any] = json.loads(error.body)
    return body
