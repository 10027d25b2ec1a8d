"""Facts read from Sprout's Kubernetes manifests, for the parts that must agree with them.

The local runtime routes and scales by the same numbers as the cluster, read from the very
files the cluster gets, so the two cannot drift:

- `route_table()`: the Traefik routes in `deploy/base/routing/ingressroute.yaml`, as
  `(path prefix, service)` pairs, longest prefix first (the order Traefik matches them in).
- `scaler_settings()`: the KEDA ScaledJob in `deploy/base/worker/scaledjob.yaml`: its
  `redis-streams` trigger and the limits the local scaler needs.
- `worker_role_rules()`: what the worker's Role grants, as (apiGroup, resource, verb) triples.

`render(target)` builds a kustomization (`kubectl kustomize`) into a list of resources.
A manifest that does not have the expected shape raises `ManifestError` naming the file.
Nothing is read at import time.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict

import yaml

DEPLOY_DIR = Path(__file__).resolve().parent
BASE_DIR = DEPLOY_DIR / "base"
OVERLAYS_DIR = DEPLOY_DIR / "overlays"
INGRESS_ROUTE_FILE = BASE_DIR / "routing" / "ingressroute.yaml"
SCALED_JOB_FILE = BASE_DIR / "worker" / "scaledjob.yaml"
WORKER_RBAC_FILE = BASE_DIR / "worker" / "rbac.yaml"

_PATH_PREFIX = re.compile(r"PathPrefix\(`([^`]*)`\)")


class ManifestError(Exception):
    """A manifest is missing, does not parse, or lacks what Sprout relies on."""


class ScalerSettings(TypedDict):
    """The worker's ScaledJob, as the local scaler needs it (KEDA's names in comments)."""

    stream: str  # trigger metadata.stream
    group: str  # trigger metadata.consumerGroup
    lag_count: int  # trigger metadata.lagCount: target lag per job
    activation_lag_count: int  # trigger metadata.activationLagCount: start above this lag
    max_replicas: int  # spec.maxReplicaCount: jobs at once
    min_replicas: int  # spec.minReplicaCount
    polling_interval: int  # spec.pollingInterval, seconds
    scaling_strategy: str  # spec.scalingStrategy.strategy
    active_deadline_seconds: int  # a job is killed after this long
    command: list[str]  # the worker container's command


def load_documents(path: Path) -> list[dict[str, Any]]:
    """Every YAML document in `path` that is a mapping (comments and empty documents skipped)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read: {exc}") from exc
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise ManifestError(f"{path}: not valid YAML: {exc}") from exc
    return [doc for doc in documents if isinstance(doc, dict)]


def find(documents: Iterable[Mapping[str, Any]], kind: str, name: str | None = None) -> Any:
    """The one resource of `kind` (and `name`, if given) among `documents`."""
    found = [
        doc
        for doc in documents
        if doc.get("kind") == kind and (name is None or doc.get("metadata", {}).get("name") == name)
    ]
    if len(found) != 1:
        wanted = f"{kind}/{name}" if name else kind
        raise ManifestError(f"expected exactly one {wanted}, found {len(found)}")
    return found[0]


def route_table(path: Path = INGRESS_ROUTE_FILE) -> list[tuple[str, str]]:
    """The IngressRoute's routes as `(path_prefix, service_name)`, longest prefix first."""
    route = find(load_documents(path), "IngressRoute")
    table: list[tuple[str, str]] = []
    for index, rule in enumerate(route.get("spec", {}).get("routes", [])):
        prefixes = _PATH_PREFIX.findall(str(rule.get("match", "")))
        services = rule.get("services") or []
        if len(prefixes) != 1 or len(services) != 1:
            raise ManifestError(
                f"{path}: route {index} must have exactly one PathPrefix and one service, "
                f"has {len(prefixes)} and {len(services)}: {rule.get('match')!r}"
            )
        table.append((prefixes[0], str(services[0]["name"])))
    if not table:
        raise ManifestError(f"{path}: the IngressRoute has no routes")
    return sorted(table, key=lambda entry: len(entry[0]), reverse=True)


def scaler_settings(path: Path = SCALED_JOB_FILE) -> ScalerSettings:
    """The ScaledJob's `redis-streams` trigger and limits, with numbers as ints."""
    job = find(load_documents(path), "ScaledJob")
    spec = job.get("spec", {})
    triggers = [t for t in spec.get("triggers", []) if t.get("type") == "redis-streams"]
    if len(triggers) != 1:
        raise ManifestError(f"{path}: expected one redis-streams trigger, found {len(triggers)}")
    metadata = triggers[0].get("metadata", {})
    try:
        job_spec = spec["jobTargetRef"]
        containers = job_spec["template"]["spec"]["containers"]
        return ScalerSettings(
            stream=str(metadata["stream"]),
            group=str(metadata["consumerGroup"]),
            lag_count=int(metadata["lagCount"]),
            activation_lag_count=int(metadata["activationLagCount"]),
            max_replicas=int(spec["maxReplicaCount"]),
            min_replicas=int(spec.get("minReplicaCount", 0)),
            polling_interval=int(spec["pollingInterval"]),
            scaling_strategy=str(spec.get("scalingStrategy", {}).get("strategy", "default")),
            active_deadline_seconds=int(job_spec["activeDeadlineSeconds"]),
            command=[str(part) for part in containers[0]["command"]],
        )
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ManifestError(f"{path}: the ScaledJob lacks a setting: {exc!r}") from exc


def function_server_env(name: str) -> dict[str, str]:
    """How gunicorn serves function `name` on the cluster: the `THREADS` and `WORKERS` of its
    Knative Service (functions-framework reads them), for the local stack and the benchmarks
    to serve it the same way."""
    path = BASE_DIR / "functions" / f"{name}.yaml"
    service = find(load_documents(path), "Service", name)
    try:
        (container,) = service["spec"]["template"]["spec"]["containers"]
        env = {str(e["name"]): e.get("value") for e in container.get("env", [])}
        return {key: str(int(env[key])) for key in ("THREADS", "WORKERS")}
    except (KeyError, TypeError, ValueError) as exc:
        raise ManifestError(f"{path}: THREADS and WORKERS must be numbers: {exc!r}") from exc


def worker_role_rules(path: Path = WORKER_RBAC_FILE) -> set[tuple[str, str, str]]:
    """What the worker's Role grants, as `(apiGroup, resource, verb)` ("" is the core group)."""
    return rule_triples(find(load_documents(path), "Role").get("rules", []))


def rule_triples(rules: Iterable[Mapping[str, Any]]) -> set[tuple[str, str, str]]:
    """Flatten RBAC PolicyRules into `(apiGroup, resource, verb)` triples."""
    return {
        (str(group), str(resource), str(verb))
        for rule in rules
        for group in rule.get("apiGroups", [])
        for resource in rule.get("resources", [])
        for verb in rule.get("verbs", [])
    }


def overlays() -> list[Path]:
    """Every overlay directory under deploy/overlays (one kustomization each)."""
    return sorted(p.parent for p in OVERLAYS_DIR.glob("*/kustomization.yaml"))


def render(target: Path, kubectl: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """`kubectl kustomize <target>` as a list of resources."""
    command = list(kubectl) if kubectl else [_kubectl()]
    result = subprocess.run(
        [*command, "kustomize", str(target)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise ManifestError(f"kubectl kustomize {target} failed: {result.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if isinstance(doc, dict)]


def _kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        raise ManifestError("kubectl is not on PATH: install kubectl (it includes kustomize)")
    return found
