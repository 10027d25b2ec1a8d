"""deploy.manifests: the facts the local runtime reads from the manifests."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy import manifests
from deploy.manifests import ManifestError
from tests.deploy.support import one, rendered


def test_route_table_is_the_design_routes_longest_prefix_first() -> None:
    assert manifests.route_table() == [
        ("/containers", "containers"),
        ("/rate-limit", "ratelimit"),
        ("/captcha", "captcha"),
        ("/", "frontend"),
    ]


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_route_table_matches_every_rendered_ingressroute(overlay: str) -> None:
    """The overlays change hosts, never paths or services: the local gateway stays right."""
    route = one(rendered(overlay), "IngressRoute", "sprout")
    pairs = []
    for rule in route["spec"]["routes"]:
        prefix = rule["match"].split("PathPrefix(`", 1)[1].split("`", 1)[0]
        pairs.append((prefix, rule["services"][0]["name"]))
    assert sorted(pairs) == sorted(manifests.route_table())


def test_scaler_settings_are_the_scaledjob_trigger() -> None:
    settings = manifests.scaler_settings()
    assert settings == {
        "stream": "container_events",
        "group": "workers",
        "lag_count": 10,
        "activation_lag_count": 0,
        "max_replicas": 10,
        "min_replicas": 0,
        "polling_interval": 5,
        "scaling_strategy": "default",
        "active_deadline_seconds": 900,
        "command": ["python", "-m", "functions.worker"],
    }


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_scaler_settings_match_every_rendered_scaledjob(overlay: str) -> None:
    job = one(rendered(overlay), "ScaledJob", "sprout-worker")
    settings = manifests.scaler_settings()
    (trigger,) = job["spec"]["triggers"]
    assert trigger["type"] == "redis-streams"
    metadata = trigger["metadata"]
    assert metadata["stream"] == settings["stream"]
    assert metadata["consumerGroup"] == settings["group"]
    assert metadata["lagCount"] == str(settings["lag_count"])
    assert metadata["activationLagCount"] == "0" == str(settings["activation_lag_count"])
    assert job["spec"]["maxReplicaCount"] == settings["max_replicas"] == 10
    assert job["spec"]["pollingInterval"] == settings["polling_interval"]
    assert settings["polling_interval"] <= 10  # "short polling"


def test_scaler_settings_name_the_streams_the_code_uses() -> None:
    from shared import keys

    settings = manifests.scaler_settings()
    assert (settings["stream"], settings["group"]) == (keys.STREAM, keys.WORKER_GROUP)


def test_local_scaler_reads_the_settings() -> None:
    """The consumer in deploy/local builds its trigger from these very numbers."""
    scaler = pytest.importorskip("deploy.local.scaler")
    trigger = scaler.load_trigger()
    settings = manifests.scaler_settings()
    assert (trigger.lag_count, trigger.max_replicas) == (
        settings["lag_count"],
        settings["max_replicas"],
    )


def test_worker_role_rules_are_flattened() -> None:
    rules = manifests.worker_role_rules()
    assert ("", "pods", "watch") in rules
    assert ("networking.k8s.io", "ingresses", "create") in rules
    assert ("", "secrets", "get") not in rules


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "manifest.yaml"
    path.write_text(text)
    return path


def test_route_with_two_prefixes_is_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
kind: IngressRoute
spec:
  routes:
    - match: PathPrefix(`/a`) || PathPrefix(`/b`)
      services: [{name: a}]
""",
    )
    with pytest.raises(ManifestError, match="exactly one PathPrefix"):
        manifests.route_table(path)


def test_route_without_routes_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no routes"):
        manifests.route_table(_write(tmp_path, "kind: IngressRoute\nspec: {routes: []}\n"))


def test_missing_or_broken_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="cannot read"):
        manifests.route_table(tmp_path / "nope.yaml")
    with pytest.raises(ManifestError, match="not valid YAML"):
        manifests.route_table(_write(tmp_path, "kind: [unclosed\n"))
    with pytest.raises(ManifestError, match="exactly one IngressRoute"):
        manifests.route_table(_write(tmp_path, "kind: ConfigMap\n"))


def test_scaledjob_without_lag_count_is_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
kind: ScaledJob
spec:
  pollingInterval: 5
  maxReplicaCount: 10
  triggers:
    - type: redis-streams
      metadata: {stream: s, consumerGroup: g, activationLagCount: "0"}
  jobTargetRef:
    activeDeadlineSeconds: 60
    template: {spec: {containers: [{name: w, command: [w]}]}}
""",
    )
    with pytest.raises(ManifestError, match="lacks a setting"):
        manifests.scaler_settings(path)


def test_scaledjob_needs_one_redis_streams_trigger(tmp_path: Path) -> None:
    path = _write(tmp_path, "kind: ScaledJob\nspec: {triggers: [{type: cron}]}\n")
    with pytest.raises(ManifestError, match="one redis-streams trigger"):
        manifests.scaler_settings(path)


def test_every_function_is_served_alike_as_the_local_stack_and_benchmarks_read_it() -> None:
    names = ("captcha", "containers", "ratelimit")
    served = {name: manifests.function_server_env(name) for name in names}
    assert served["containers"] == {"THREADS": "16", "WORKERS": "1"}
    assert all(env == served["containers"] for env in served.values()), served


def test_a_function_without_numeric_threads_is_refused(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "functions").mkdir()
    (tmp_path / "functions" / "broken.yaml").write_text(
        "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: broken}\n"
        "spec: {template: {spec: {containers: [{env: [{name: THREADS, value: many}]}]}}}\n"
    )
    monkeypatch.setattr(manifests, "BASE_DIR", tmp_path)
    with pytest.raises(ManifestError, match="THREADS and WORKERS"):
        manifests.function_server_env("broken")
