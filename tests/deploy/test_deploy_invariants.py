"""What must hold of the rendered manifests, whatever an overlay changes.

RBAC (least privilege, no wildcards, the worker's Role equal to what its code uses), Pod
Security `restricted` for every pod template, the KEDA and Knative settings the design asks
for, Redis durability, quotas that fit the configured capacity and templates, and the network
isolation of the sandboxes.
"""

from __future__ import annotations

import importlib
import ipaddress
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy import manifests, podsecurity
from functions.worker.settings import WorkerSettings
from shared.settings import ApiSettings, LimitSettings, TemplateSettings
from tests.deploy.support import (
    Resource,
    config_data,
    of_kind,
    one,
    quantity,
    rendered,
)

OVERLAYS = ["dev", "prod"]
SANDBOX_NS, SYSTEM_NS = "sprout", "sprout-system"
FUNCTIONS = ("captcha", "containers", "ratelimit")
KNATIVE = "serving.knative.dev/v1"


@pytest.fixture(params=OVERLAYS)
def resources(request: pytest.FixtureRequest) -> list[Resource]:
    return rendered(request.param)


def pod_specs(resources: list[Resource]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    found = []
    for resource in resources:
        for _, metadata, spec in podsecurity.pod_templates(resource):
            found.append((f"{resource['kind']}/{resource['metadata']['name']}", metadata, spec))
    return found


# RBAC -----------------------------------------------------------------------------------------


def test_no_rbac_wildcards_and_nothing_cluster_wide(resources: list[Resource]) -> None:
    assert not of_kind(resources, "ClusterRole")
    assert not of_kind(resources, "ClusterRoleBinding")
    for role in of_kind(resources, "Role"):
        for rule in role["rules"]:
            for field in ("apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs"):
                assert "*" not in rule.get(field, []), (role["metadata"]["name"], field)


def test_worker_role_is_namespaced_to_the_sandboxes_and_minimal(resources: list[Resource]) -> None:
    role = one(resources, "Role", "sprout-worker")
    assert role["metadata"]["namespace"] == SANDBOX_NS
    granted = manifests.rule_triples(role["rules"])
    assert granted == manifests.worker_role_rules()
    resources_granted = {resource for _, resource, _ in granted}
    assert resources_granted == {"pods", "services", "ingresses"}
    assert not resources_granted & {"secrets", "pods/exec", "pods/attach", "pods/portforward"}
    verbs = {verb for _, _, verb in granted}
    assert not verbs & {"escalate", "bind", "impersonate", "update", "patch", "deletecollection"}


def test_worker_role_matches_what_the_worker_code_uses() -> None:
    """Both sides: the Role grants what functions.worker.kube.REQUIRED_RBAC lists, no more."""
    try:
        kube = importlib.import_module("functions.worker.kube")
    except ModuleNotFoundError as exc:
        if exc.name not in {"functions.worker.kube", "functions.worker"}:
            raise
        pytest.skip("functions.worker.kube does not exist yet (the worker issue adds it)")
    required = getattr(kube, "REQUIRED_RBAC", None)
    if required is None:
        pytest.skip("functions.worker.kube.REQUIRED_RBAC is not defined yet")
    assert required_triples(required) == manifests.worker_role_rules()


def required_triples(required: Any) -> set[tuple[str, str, str]]:
    """REQUIRED_RBAC as (apiGroup, resource, verb) triples.

    Accepted shapes: PolicyRule-like rules (mappings with apiGroups/resources/verbs, or objects
    such as V1PolicyRule with api_groups/resources/verbs), or a mapping from (group, resource)
    or "resource.group"/"resource" to verbs.
    """
    if isinstance(required, Mapping):
        triples = set()
        for key, verbs in required.items():
            if isinstance(key, tuple):
                group, resource = key
            else:
                resource, _, group = str(key).partition(".")
            triples |= {(str(group), str(resource), str(verb)) for verb in verbs}
        return triples
    rules: list[Mapping[str, Any]] = []
    for rule in required:
        if isinstance(rule, Mapping):
            rules.append(
                {
                    "apiGroups": rule.get("apiGroups", rule.get("api_groups", [])),
                    "resources": rule["resources"],
                    "verbs": rule["verbs"],
                }
            )
        else:
            rules.append(
                {"apiGroups": rule.api_groups, "resources": rule.resources, "verbs": rule.verbs}
            )
    return manifests.rule_triples(rules)


def test_required_rbac_shapes_are_understood() -> None:
    expected = {("", "pods", "get"), ("networking.k8s.io", "ingresses", "create")}
    assert (
        required_triples({("", "pods"): ["get"], ("networking.k8s.io", "ingresses"): ["create"]})
        == expected
    )
    assert (
        required_triples({"pods": ["get"], "ingresses.networking.k8s.io": ["create"]}) == expected
    )
    assert (
        required_triples(
            [
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
                {
                    "api_groups": ["networking.k8s.io"],
                    "resources": ["ingresses"],
                    "verbs": ["create"],
                },
            ]
        )
        == expected
    )


def test_only_the_worker_is_bound_and_only_the_worker_mounts_a_token(
    resources: list[Resource],
) -> None:
    (binding,) = of_kind(resources, "RoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "sprout-worker",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "sprout-worker", "namespace": SYSTEM_NS}
    ]
    for account in of_kind(resources, "ServiceAccount"):
        expected = account["metadata"]["name"] == "sprout-worker"
        assert account["automountServiceAccountToken"] is expected, account["metadata"]["name"]
    for where, _, spec in pod_specs(resources):
        uses_worker = spec.get("serviceAccountName") == "sprout-worker"
        assert spec.get("automountServiceAccountToken") is uses_worker, where
        if where.startswith("Service/"):
            assert spec["serviceAccountName"] == "sprout-functions", where


# Pod Security -----------------------------------------------------------------------------------


def test_both_namespaces_enforce_restricted(resources: list[Resource]) -> None:
    for namespace in (SANDBOX_NS, SYSTEM_NS):
        labels = one(resources, "Namespace", namespace)["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_every_pod_template_meets_restricted(resources: list[Resource]) -> None:
    templates = pod_specs(resources)
    assert len(templates) >= 7  # 3 functions, frontend, redis, worker job, reconciler
    for resource in resources:
        if any(True for _ in podsecurity.pod_templates(resource)):
            podsecurity.assert_restricted(resource)


def test_every_container_is_bounded_and_read_only(resources: list[Resource]) -> None:
    for where, _, spec in pod_specs(resources):
        for container in spec["containers"]:
            limits = container["resources"]["limits"]
            assert {"cpu", "memory", "ephemeral-storage"} <= set(limits), where
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, where
            assert spec.get("enableServiceLinks") is False, where


# Functions (Knative) ---------------------------------------------------------------------------


def test_functions_are_cluster_local_knative_services_that_scale_to_zero(
    resources: list[Resource],
) -> None:
    for name in FUNCTIONS:
        service = one(resources, "Service", name, KNATIVE)
        assert service["metadata"]["namespace"] == SYSTEM_NS
        assert service["metadata"]["labels"]["networking.knative.dev/visibility"] == "cluster-local"
        template = service["spec"]["template"]
        annotations = template["metadata"]["annotations"]
        assert annotations["autoscaling.knative.dev/min-scale"] == "0"
        assert int(annotations["autoscaling.knative.dev/max-scale"]) >= 1
        spec = template["spec"]
        (container,) = spec["containers"]
        env = {e["name"]: e for e in container["env"]}
        threads = int(env["THREADS"]["value"]) * int(env["WORKERS"]["value"])
        assert spec["containerConcurrency"] == threads
        assert "readinessProbe" in container
        assert container["ports"] == [{"name": "http1", "containerPort": 8080}]
        labels = template["metadata"]["labels"]
        assert labels["sprout.dev/role"] == "function"
        assert labels["app.kubernetes.io/name"] == name


def test_secrets_come_by_reference_only(resources: list[Resource]) -> None:
    for where, _, spec in pod_specs(resources):
        for container in spec["containers"]:
            names = [e["name"] for e in container.get("env", [])]
            for entry in container.get("env", []):
                if entry["name"] in {"SPROUT_SECRET_KEY", "REDIS_PASSWORD", "REDISCLI_AUTH"}:
                    assert entry["valueFrom"]["secretKeyRef"]["name"] == "sprout-secrets", where
                if entry["name"] == "SPROUT_REDIS_URL":
                    # the password is referenced, after the variable that holds it
                    assert "$(REDIS_PASSWORD)" in entry["value"], where
                    assert names.index("REDIS_PASSWORD") < names.index("SPROUT_REDIS_URL")
    for config_map in of_kind(resources, "ConfigMap"):
        for key in config_map.get("data", {}):
            assert key not in {"SPROUT_SECRET_KEY", "SPROUT_REDIS_URL"}, key


def test_configuration_is_valid_for_the_settings_classes(resources: list[Resource]) -> None:
    data = config_data(resources)
    secrets = {"redis_url": "redis://:x@redis:6379/0", "secret_key": "k" * 32}
    fields = {k.removeprefix("SPROUT_").lower(): v for k, v in data.items()}
    api_values = {k: v for k, v in fields.items() if k in ApiSettings.model_fields}
    api = ApiSettings(**api_values, **secrets)  # type: ignore[arg-type]
    assert api.cookie_secure is True and api.url_scheme == "https"
    assert [str(n) for n in api.proxy_networks] == ["127.0.0.1/32", "::1/128"]
    limits = {
        k.removeprefix("SPROUT_LIMIT_").lower(): int(v)
        for k, v in data.items()
        if k.startswith("SPROUT_LIMIT_")
    }
    assert set(limits) <= set(LimitSettings.model_fields)
    LimitSettings(**limits)
    TemplateSettings(templates=json.loads(data["SPROUT_TEMPLATES"]))


# Worker (KEDA) and its recovery path -----------------------------------------------------------


def test_scaledjob_is_bounded_and_authenticated(resources: list[Resource]) -> None:
    job = one(resources, "ScaledJob", "sprout-worker")
    spec = job["spec"]
    assert spec["successfulJobsHistoryLimit"] >= 1 and spec["failedJobsHistoryLimit"] >= 1
    target = spec["jobTargetRef"]
    assert target["activeDeadlineSeconds"] > 0 and target["ttlSecondsAfterFinished"] > 0
    # A job reads for max_run_time, then waits up to ready_deadline for its last pods, and may
    # wait out a Redis outage: Kubernetes must not kill it before that.
    worker = WorkerSettings()
    longest = worker.max_run_time + worker.ready_deadline + worker.redis_outage_grace
    assert target["activeDeadlineSeconds"] > longest
    (trigger,) = spec["triggers"]
    assert trigger["metadata"]["address"] == "redis.sprout-system.svc.cluster.local:6379"
    assert "password" not in trigger["metadata"]
    auth = one(resources, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    assert auth["spec"]["secretTargetRef"] == [
        {"parameter": "password", "name": "sprout-secrets", "key": "redis-password"}
    ]


def test_reconciler_runs_the_worker_pod_every_minute_never_twice_at_once(
    resources: list[Resource],
) -> None:
    cron = one(resources, "CronJob", "sprout-reconciler")
    assert cron["spec"]["schedule"] == "* * * * *"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    job_pod = one(resources, "ScaledJob", "sprout-worker")["spec"]["jobTargetRef"]["template"]
    cron_pod = cron["spec"]["jobTemplate"]["spec"]["template"]
    (job_container,) = job_pod["spec"]["containers"]
    (cron_container,) = cron_pod["spec"]["containers"]
    assert cron_container["command"] == [*job_container["command"], "tick"]
    strip = {"command": None}
    assert {**cron_container, **strip} == {**job_container, **strip}
    assert {**cron_pod["spec"], "containers": None} == {**job_pod["spec"], "containers": None}
    cron_labels = dict(cron_pod["metadata"]["labels"], **{"app.kubernetes.io/name": "worker"})
    assert cron_labels == job_pod["metadata"]["labels"]


def test_worker_config_names_the_sandbox_namespace_and_certificate(
    resources: list[Resource],
) -> None:
    worker = config_data(resources, "sprout-worker-config-")
    assert (
        worker["SPROUT_WORKER_NAMESPACE"]
        == one(resources, "Role", "sprout-worker")["metadata"]["namespace"]
    )
    wildcard = one(resources, "Certificate", "sprout-wildcard")
    assert worker["SPROUT_WORKER_TLS_SECRET"] == wildcard["spec"]["secretName"]
    assert wildcard["metadata"]["namespace"] == worker["SPROUT_WORKER_NAMESPACE"]
    assert worker["SPROUT_WORKER_INGRESS_CLASS"] == "traefik"


# Redis ------------------------------------------------------------------------------------------


def test_redis_is_durable_password_protected_and_persistent(resources: list[Resource]) -> None:
    statefulset = one(resources, "StatefulSet", "redis")
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    major = int(container["image"].split(":")[1].split(".")[0])
    assert major >= 7  # KEDA reads consumer-group lag from XINFO GROUPS (Redis 7+)
    script = container["command"][-1]
    assert "requirepass" in script and "$REDIS_PASSWORD" in script
    assert "--requirepass" not in " ".join(container["command"])  # never on the command line
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["data"] == "/data"
    volumes = statefulset["spec"]["template"]["spec"]["volumes"]
    config_name = next(v["configMap"]["name"] for v in volumes if "configMap" in v)
    conf = one(resources, "ConfigMap", config_name)["data"]["redis.conf"]
    lines = [line for line in conf.splitlines() if line.strip() and not line.startswith("#")]
    directives = dict(line.split(None, 1) for line in lines)
    assert directives["appendonly"] == "yes"
    assert directives["appendfsync"] == "everysec"
    assert directives["dir"] == "/data"
    assert directives["maxmemory-policy"] == "noeviction"
    assert "requirepass" not in directives
    service = one(resources, "Service", "redis", "v1")
    assert service["spec"]["ports"][0]["port"] == 6379
    assert service["spec"]["selector"] == statefulset["spec"]["selector"]["matchLabels"]


# Routing and TLS --------------------------------------------------------------------------------


def test_routes_reach_the_knative_functions_through_kourier_host_rewrites(
    resources: list[Resource],
) -> None:
    route = one(resources, "IngressRoute", "sprout")
    assert route["spec"]["entryPoints"] == ["websecure"]
    middlewares = {m["metadata"]["name"]: m["spec"] for m in of_kind(resources, "Middleware")}
    knative_services = {s["metadata"]["name"] for s in of_kind(resources, "Service", KNATIVE)}
    for rule in route["spec"]["routes"]:
        names = [m["name"] for m in rule.get("middlewares", [])]
        assert set(names) <= set(middlewares), names
        assert names[0] == "security-headers"
        (service,) = rule["services"]
        if service["name"] in knative_services:
            host = middlewares[names[-1]]["headers"]["customRequestHeaders"]["Host"]
            assert host == f"{service['name']}.{SYSTEM_NS}.svc.cluster.local"
            assert service.get("passHostHeader", True) is True
            assert "edge-ratelimit" in names and "api-body-limit" in names
        else:
            frontend = one(resources, "Service", service["name"], "v1")
            assert service["port"] in [p["port"] for p in frontend["spec"]["ports"]]
    site = one(resources, "Certificate", "sprout-site")
    assert route["spec"]["tls"]["secretName"] == site["spec"]["secretName"]
    assert site["metadata"]["namespace"] == route["metadata"]["namespace"]


def test_every_route_service_is_in_the_route_table(resources: list[Resource]) -> None:
    services = {name for _, name in manifests.route_table()}
    assert services == {*FUNCTIONS, "frontend"}


def test_certificates_come_from_the_sprout_issuer(resources: list[Resource]) -> None:
    for certificate in of_kind(resources, "Certificate"):
        issuer = certificate["spec"]["issuerRef"]
        assert issuer["kind"] == "ClusterIssuer"
        assert one(resources, "ClusterIssuer", issuer["name"])


def test_prod_issuer_proves_names_through_dns01() -> None:
    issuer = one(rendered("prod"), "ClusterIssuer", "sprout")
    assert issuer["spec"]["acme"]["server"] == "https://acme-v02.api.letsencrypt.org/directory"
    assert all("dns01" in solver for solver in issuer["spec"]["acme"]["solvers"])
    assert "@" in issuer["spec"]["acme"]["email"]


# Quotas -------------------------------------------------------------------------------------------


def test_sandbox_quota_holds_the_configured_capacity_of_the_largest_template(
    resources: list[Resource],
) -> None:
    data = config_data(resources)
    capacity = int(data["SPROUT_LIMIT_CAPACITY"])
    templates = TemplateSettings(templates=json.loads(data["SPROUT_TEMPLATES"])).templates
    hard = one(resources, "ResourceQuota", "sandboxes")["spec"]["hard"]
    assert one(resources, "ResourceQuota", "sandboxes")["metadata"]["namespace"] == SANDBOX_NS
    assert int(hard["pods"]) >= capacity
    assert int(hard["services"]) >= capacity
    assert int(hard["count/ingresses.networking.k8s.io"]) >= capacity
    assert hard["services.loadbalancers"] == hard["services.nodeports"] == "0"
    for field, resource in (
        ("cpu", "cpu"),
        ("memory", "memory"),
        ("ephemeral_storage", "ephemeral-storage"),
    ):
        largest = max(quantity(getattr(t, field)) for t in templates)
        for scope in ("limits", "requests"):
            assert quantity(hard[f"{scope}.{resource}"]) >= capacity * largest, (scope, resource)


def test_every_template_fits_the_limit_range(resources: list[Resource]) -> None:
    data = config_data(resources)
    templates = TemplateSettings(templates=json.loads(data["SPROUT_TEMPLATES"])).templates
    limit_range = one(resources, "LimitRange", "sandboxes")
    container = next(item for item in limit_range["spec"]["limits"] if item["type"] == "Container")
    for template in templates:
        for field, resource in (
            ("cpu", "cpu"),
            ("memory", "memory"),
            ("ephemeral_storage", "ephemeral-storage"),
        ):
            value = quantity(getattr(template, field))
            assert value <= quantity(container["max"][resource]), (template.name, resource)
            if resource in container.get("min", {}):
                assert value >= quantity(container["min"][resource]), (template.name, resource)
    for resource, default in container["default"].items():
        assert quantity(container["defaultRequest"][resource]) <= quantity(default)


# NetworkPolicies --------------------------------------------------------------------------------

REQUIRED_BLOCKED = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "169.254.169.254/32",
    "127.0.0.0/8",
]
REQUIRED_BLOCKED_V6 = ["fc00::/7", "fe80::/10", "::1/128"]


def policies(resources: list[Resource], namespace: str) -> dict[str, dict[str, Any]]:
    return {
        p["metadata"]["name"]: p["spec"]
        for p in of_kind(resources, "NetworkPolicy")
        if p["metadata"]["namespace"] == namespace
    }


def test_both_namespaces_deny_by_default(resources: list[Resource]) -> None:
    for namespace in (SANDBOX_NS, SYSTEM_NS):
        deny = policies(resources, namespace)["default-deny"]
        assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_sandboxes_accept_traffic_from_traefik_only(resources: list[Resource]) -> None:
    ingress_rules = [
        (name, rule)
        for name, spec in policies(resources, SANDBOX_NS).items()
        for rule in spec.get("ingress", [])
    ]
    assert len(ingress_rules) == 1
    _, rule = ingress_rules[0]
    (peer,) = rule["from"]
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "traefik"}
    assert peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "traefik"}


WEB_PORTS = [{"protocol": "TCP", "port": 80}, {"protocol": "TCP", "port": 443}]
DNS_PORTS = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
KUBE_DNS = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
}


def sandbox_egress(resources: list[Resource]) -> list[dict[str, Any]]:
    return [
        rule for spec in policies(resources, SANDBOX_NS).values() for rule in spec.get("egress", [])
    ]


def assert_no_private_range(rule: dict[str, Any]) -> None:
    """Every address block of `rule` leaves out the private, shared and link-local ranges."""
    for peer in rule["to"]:
        network = ipaddress.ip_network(peer["ipBlock"]["cidr"])
        blocked = [ipaddress.ip_network(c) for c in peer["ipBlock"].get("except", [])]
        required = REQUIRED_BLOCKED if network.version == 4 else REQUIRED_BLOCKED_V6
        for cidr in required:
            needed = ipaddress.ip_network(cidr)
            assert any(
                needed.version == b.version and needed.subnet_of(b)  # type: ignore[arg-type]
                for b in blocked
            ), cidr


def test_sandboxes_reach_cluster_dns_and_the_internet_on_web_ports_only(
    resources: list[Resource],
) -> None:
    egress = sandbox_egress(resources)
    # A rule without `to` would allow every destination, one without `ports` every port.
    assert all(rule.get("to") and rule.get("ports") for rule in egress)
    dns = [rule for rule in egress if rule["to"] == [KUBE_DNS]]
    internet = [rule for rule in egress if all("ipBlock" in peer for peer in rule["to"])]
    assert len(dns) == 1 and len(internet) == 1 and len(egress) == 2
    assert dns[0]["ports"] == DNS_PORTS
    assert internet[0]["ports"] == WEB_PORTS
    assert {peer["ipBlock"]["cidr"] for peer in internet[0]["to"]} == {"0.0.0.0/0", "::/0"}
    assert_no_private_range(internet[0])


def render_overlay(tmp_path: Path, overlay: str, **extra: Any) -> list[Resource]:
    """An overlay of `overlay` in `tmp_path` with `extra` kustomization fields, rendered."""
    base = os.path.relpath(manifests.OVERLAYS_DIR / overlay, tmp_path)
    components = [os.path.relpath(c, tmp_path) for c in extra.pop("components", [])]
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [base],
        **({"components": components} if components else {}),
        **extra,
    }
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return manifests.render(tmp_path)


def readme_egress_patch() -> list[dict[str, Any]]:
    """The overlay patch deploy/README.md shows for allowing another port."""
    readme = (manifests.DEPLOY_DIR / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", readme, flags=re.DOTALL)
    (block,) = [b for b in blocks if "egress-internet-only" in b]
    patches: list[dict[str, Any]] = yaml.safe_load(block)["patches"]
    return patches


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_readme_recipe_adds_a_port_and_keeps_everything_else(
    tmp_path: Path, overlay: str
) -> None:
    resources = render_overlay(tmp_path, overlay, patches=readme_egress_patch())
    (internet,) = [r for r in sandbox_egress(resources) if "ipBlock" in r["to"][0]]
    assert internet["ports"] == [*WEB_PORTS, {"protocol": "TCP", "port": 22}]
    assert_no_private_range(internet)
    unchanged = sandbox_egress(rendered(overlay))
    assert [r for r in sandbox_egress(resources) if r["to"] == [KUBE_DNS]] == [
        r for r in unchanged if r["to"] == [KUBE_DNS]
    ]


def test_the_any_port_component_lifts_only_the_port_limit(tmp_path: Path) -> None:
    component = manifests.DEPLOY_DIR / "components" / "sandbox-egress-any-port"
    resources = render_overlay(tmp_path, "prod", components=[component])
    (internet,) = [r for r in sandbox_egress(resources) if "ipBlock" in r["to"][0]]
    assert "ports" not in internet
    assert_no_private_range(internet)
    assert "203.0.113.10/32" in internet["to"][0]["ipBlock"]["except"]  # the API server too


def test_prod_sandboxes_cannot_reach_the_api_server_and_the_worker_only_can() -> None:
    resources = rendered("prod")
    cidr = "203.0.113.10/32"  # deploy/overlays/prod/cluster-values.yaml
    sandbox = policies(resources, SANDBOX_NS)["egress-internet-only"]
    assert cidr in sandbox["egress"][0]["to"][0]["ipBlock"]["except"]
    assert sandbox["egress"][0]["ports"] == WEB_PORTS
    worker = policies(resources, SYSTEM_NS)["worker-to-apiserver"]
    assert worker["egress"][0]["to"] == [{"ipBlock": {"cidr": cidr}}]


def test_redis_is_reached_by_its_clients_and_keda_only(resources: list[Resource]) -> None:
    spec = policies(resources, SYSTEM_NS)["redis-from-clients"]
    (rule,) = spec["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 6379}]
    peers = rule["from"]
    assert {"podSelector": {"matchLabels": {"sprout.dev/redis-client": "true"}}} in peers
    assert len(peers) == 2
    clients = {
        where
        for where, metadata, _ in pod_specs(resources)
        if metadata.get("labels", {}).get("sprout.dev/redis-client") == "true"
    }
    assert clients == {
        "Service/captcha",
        "Service/containers",
        "Service/ratelimit",
        "ScaledJob/sprout-worker",
        "CronJob/sprout-reconciler",
        "Deployment/sprout-worker-metrics",
    }


def test_only_prometheus_scrapes_and_only_the_annotated_metrics_ports(
    resources: list[Resource],
) -> None:
    spec = policies(resources, SYSTEM_NS)["metrics-from-prometheus"]
    assert spec["podSelector"] == {"matchLabels": {"sprout.dev/metrics": "true"}}
    (rule,) = spec["ingress"]
    (peer,) = rule["from"]
    assert peer == {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
    }
    allowed = {port["port"] for port in rule["ports"]}
    scraped = {}
    for where, metadata, spec_ in pod_specs(resources):
        annotations = metadata.get("annotations", {})
        labelled = metadata.get("labels", {}).get("sprout.dev/metrics") == "true"
        assert labelled == (annotations.get("prometheus.io/scrape") == "true"), where
        if labelled:
            port = int(annotations["prometheus.io/port"])
            assert annotations["prometheus.io/path"] == "/metrics", where
            assert port in {p["containerPort"] for p in spec_["containers"][0]["ports"]}, where
            scraped[where] = port
    assert scraped == {
        "Service/captcha": 8080,
        "Service/containers": 8080,
        "Service/ratelimit": 8080,
        "Deployment/sprout-worker-metrics": 9100,
    }
    assert allowed == set(scraped.values())


def test_the_worker_metrics_exporter_serves_from_redis_without_credentials(
    resources: list[Resource],
) -> None:
    deployment = one(resources, "Deployment", "sprout-worker-metrics")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == [
        "python", "-m", "functions.worker", "metrics", "--listen", "0.0.0.0:9100"
    ]  # fmt: skip
    assert pod["automountServiceAccountToken"] is False
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert "sprout.dev/kube-client" not in labels  # no egress to the API server


def test_functions_accept_only_the_knative_data_plane(resources: list[Resource]) -> None:
    (rule,) = policies(resources, SYSTEM_NS)["functions-from-knative"]["ingress"]
    namespaces = {
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for peer in rule["from"]
    }
    assert namespaces == {"knative-serving", "kourier-system"}


# Controllers' configuration ---------------------------------------------------------------------


def test_traefik_values_redirect_http_and_trust_no_one_by_default() -> None:
    values = yaml.safe_load(
        (manifests.DEPLOY_DIR / "controllers" / "traefik-values.yaml").read_text()
    )
    assert values["providers"]["kubernetesCRD"]["allowExternalNameServices"] is True
    assert values["providers"]["kubernetesCRD"]["allowCrossNamespace"] is False
    arguments = values["additionalArguments"]
    assert "--entryPoints.web.http.redirections.entryPoint.to=websecure" in arguments
    assert "--entryPoints.web.http.redirections.entryPoint.scheme=https" in arguments
    for port in values["ports"].values():
        for section in ("forwardedHeaders", "proxyProtocol"):
            assert port[section].get("insecure") is not True
            trusted = [ipaddress.ip_network(c) for c in port[section]["trustedIPs"]]
            assert all(n.prefixlen > 0 for n in trusted)


def test_knative_uses_kourier() -> None:
    patch = yaml.safe_load(
        (manifests.DEPLOY_DIR / "controllers" / "knative-config-network.yaml").read_text()
    )
    assert patch["data"]["ingress-class"] == "kourier.ingress.networking.knative.dev"
