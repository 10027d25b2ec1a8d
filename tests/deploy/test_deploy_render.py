"""Every kustomization in deploy/ renders to the resources Sprout needs, no placeholder left."""

from __future__ import annotations

from collections import Counter

import pytest

from deploy import manifests
from tests.deploy.support import TARGETS, config_data, of_kind, one, rendered, walk

OVERLAYS = [name for name in TARGETS if name != "base"]
CLUSTER_SCOPED = {"Namespace", "ClusterIssuer", "ClusterRole", "ClusterRoleBinding"}


def test_there_are_dev_and_prod_overlays() -> None:
    assert {"dev", "prod"} <= set(OVERLAYS)


@pytest.mark.parametrize("target", list(TARGETS))
def test_renders(target: str) -> None:
    resources = rendered(target)
    assert resources, f"{target} rendered nothing"
    keys = [
        (r["apiVersion"], r["kind"], r["metadata"].get("namespace"), r["metadata"]["name"])
        for r in resources
    ]
    duplicates = [key for key, count in Counter(keys).items() if count > 1]
    assert not duplicates


@pytest.mark.parametrize("target", list(TARGETS))
def test_every_namespaced_resource_names_its_namespace(target: str) -> None:
    for resource in rendered(target):
        namespace = resource["metadata"].get("namespace")
        if resource["kind"] in CLUSTER_SCOPED:
            assert namespace is None, resource["metadata"]["name"]
        elif not (resource["kind"] == "Certificate" and namespace == "cert-manager"):
            assert namespace in {"sprout", "sprout-system"}, (resource["kind"], namespace)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_has_every_part(overlay: str) -> None:
    resources = rendered(overlay)
    kinds = Counter(r["kind"] for r in resources)
    assert kinds["Namespace"] == 2
    assert {
        r["metadata"]["name"] for r in of_kind(resources, "Service", "serving.knative.dev/v1")
    } == {
        "captcha",
        "containers",
        "ratelimit",
    }
    for kind in (
        "ResourceQuota",
        "LimitRange",
        "StatefulSet",
        "ScaledJob",
        "TriggerAuthentication",
        "CronJob",
        "Role",
        "RoleBinding",
    ):
        assert kinds[kind] == 1, kind
    # the site's routes, and the fallback of dead container addresses
    assert {r["metadata"]["name"] for r in of_kind(resources, "IngressRoute")} == {
        "sprout",
        "sprout-addresses",
    }
    assert one(resources, "ClusterIssuer", "sprout")
    assert {r["metadata"]["name"] for r in of_kind(resources, "Certificate")} >= {
        "sprout-site",
        "sprout-wildcard",
        "sprout-addresses",
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_placeholder_survives_an_overlay(overlay: str) -> None:
    for resource in rendered(overlay):
        for path, value in walk(resource):
            if isinstance(value, str):
                assert ".invalid" not in value, f"{resource['kind']}{path} = {value!r}"
                assert "API_SERVER_CIDR" not in value, f"{resource['kind']}{path}"
        annotations = resource["metadata"].get("annotations", {})
        assert "config.kubernetes.io/local-config" not in annotations  # never applied


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlays_name_their_images(overlay: str) -> None:
    """Every Sprout image gets a tag from the overlay; third-party images carry one."""
    for resource in rendered(overlay):
        for path, value in walk(resource):
            if path.endswith(".image"):
                assert ":" in value.rsplit("/", 1)[-1] or "@sha256:" in value, (path, value)
                assert not value.endswith(":latest"), (path, value)


def test_no_secret_values_anywhere() -> None:
    """Secrets are created on the cluster (deploy/README.md), never rendered from the repo."""
    for target in TARGETS:
        assert not of_kind(rendered(target), "Secret"), target


def test_dev_and_prod_differ_where_they_should() -> None:
    dev, prod = rendered("dev"), rendered("prod")
    assert "acme" in one(prod, "ClusterIssuer", "sprout")["spec"]
    assert "ca" in one(dev, "ClusterIssuer", "sprout")["spec"]
    assert config_data(dev)["SPROUT_BASE_DOMAIN"] != config_data(prod)["SPROUT_BASE_DOMAIN"]


def test_base_domain_reaches_the_wildcard_certificate() -> None:
    for overlay in OVERLAYS:
        resources = rendered(overlay)
        domain = config_data(resources)["SPROUT_BASE_DOMAIN"]
        wildcard = one(resources, "Certificate", "sprout-wildcard")
        assert wildcard["spec"]["dnsNames"] == [f"*.{domain}"]
        assert wildcard["metadata"]["namespace"] == "sprout"


def test_site_host_reaches_every_route_and_the_site_certificate() -> None:
    for overlay in OVERLAYS:
        resources = rendered(overlay)
        site = one(resources, "Certificate", "sprout-site")["spec"]["dnsNames"]
        assert len(site) == 1
        for route in one(resources, "IngressRoute", "sprout")["spec"]["routes"]:
            assert route["match"].startswith(f"Host(`{site[0]}`) && PathPrefix(`")


def test_render_reports_a_broken_kustomization(tmp_path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: [missing.yaml]\n")
    with pytest.raises(manifests.ManifestError, match="kubectl kustomize"):
        manifests.render(tmp_path)
