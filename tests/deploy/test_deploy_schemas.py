"""Every rendered resource validates against its schema: Kubernetes' own for core resources,
the CRDs' for Knative, KEDA and cert-manager, Traefik's (trimmed) for its routes."""

from __future__ import annotations

import pytest

from tests.deploy.support import TARGETS, one, rendered, schema_errors

CASES = [
    pytest.param(target, index, id=f"{target}-{r['kind']}-{r['metadata']['name']}")
    for target in TARGETS
    for index, r in enumerate(rendered(target))
]


@pytest.mark.parametrize(("target", "index"), CASES)
def test_resource_validates(target: str, index: int) -> None:
    resource = rendered(target)[index]
    assert schema_errors(resource) == []


# The validators reject what they should: each of these mutations breaks one resource.


def test_core_validation_rejects_an_unknown_field() -> None:
    statefulset = one(rendered("prod"), "StatefulSet", "redis")
    statefulset["spec"]["template"]["spec"]["containers"][0]["securityContxt"] = {}
    assert schema_errors(statefulset)


def test_core_validation_rejects_a_wrong_type() -> None:
    quota = one(rendered("prod"), "ResourceQuota", "sandboxes")
    quota["spec"]["hard"] = ["pods"]
    assert schema_errors(quota)


def test_knative_validation_rejects_an_unknown_field() -> None:
    service = one(rendered("prod"), "Service", "captcha", "serving.knative.dev/v1")
    service["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    assert schema_errors(service)


def test_knative_validation_rejects_a_bad_quantity() -> None:
    service = one(rendered("prod"), "Service", "captcha", "serving.knative.dev/v1")
    service["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] = "lots"
    assert schema_errors(service)


def test_keda_validation_rejects_a_wrong_type_and_an_unknown_field() -> None:
    job = one(rendered("prod"), "ScaledJob", "sprout-worker")
    job["spec"]["maxReplicaCount"] = "ten"
    assert schema_errors(job)
    job = one(rendered("prod"), "ScaledJob", "sprout-worker")
    job["spec"]["pollingIntervall"] = 5
    assert schema_errors(job)


def test_cert_manager_validation_rejects_an_unknown_field() -> None:
    certificate = one(rendered("prod"), "Certificate", "sprout-wildcard")
    certificate["spec"]["dnsName"] = certificate["spec"].pop("dnsNames")
    assert schema_errors(certificate)


def test_traefik_validation_rejects_a_misspelt_middleware() -> None:
    middleware = one(rendered("prod"), "Middleware", "security-headers")
    middleware["spec"]["header"] = middleware["spec"].pop("headers")
    assert schema_errors(middleware)
    route = one(rendered("prod"), "IngressRoute", "sprout")
    route["spec"]["routes"][0]["services"][0]["port"] = [80]
    assert schema_errors(route)


def test_an_unknown_kind_has_no_schema() -> None:
    with pytest.raises(LookupError):
        schema_errors({"apiVersion": "example.org/v1", "kind": "Thing", "metadata": {}})
