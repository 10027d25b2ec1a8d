"""Helpers of the tests/deploy/ files: rendered overlays, schema validators."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema

from deploy import manifests

SCHEMA_DIR = Path(__file__).parent / "schemas"
KUBERNETES_VERSION = "1.31.0"
# Everything rendered: the base alone and every overlay.
TARGETS = {"base": manifests.BASE_DIR, **{p.name: p for p in manifests.overlays()}}

Resource = dict[str, Any]


@functools.cache
def _rendered(name: str) -> tuple[str, ...]:
    return tuple(json.dumps(doc) for doc in manifests.render(TARGETS[name]))


def rendered(name: str) -> list[Resource]:
    """The resources of one render target (a fresh copy each time: tests may mutate it)."""
    return [json.loads(doc) for doc in _rendered(name)]


def of_kind(resources: list[Resource], kind: str, api_version: str | None = None) -> list[Resource]:
    return [
        r
        for r in resources
        if r["kind"] == kind and (api_version is None or r["apiVersion"] == api_version)
    ]


def one(
    resources: list[Resource], kind: str, name: str, api_version: str | None = None
) -> Resource:
    found = [r for r in of_kind(resources, kind, api_version) if r["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (path, value) in a nested structure, depth first."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{path}[{index}]")


# Schemas -------------------------------------------------------------------------------------

CORE_GROUPS = {
    "v1",
    "apps/v1",
    "batch/v1",
    "policy/v1",
    "networking.k8s.io/v1",
    "rbac.authorization.k8s.io/v1",
}


def crd_models() -> dict[tuple[str, str], Any]:
    from cloudcoil.models.cert_manager import v1 as cert_manager
    from cloudcoil.models.keda import v1alpha1 as keda
    from cloudcoil.models.knative_serving.serving import v1 as knative

    return {
        ("serving.knative.dev/v1", "Service"): knative.Service,
        ("keda.sh/v1alpha1", "ScaledJob"): keda.ScaledJob,
        ("keda.sh/v1alpha1", "TriggerAuthentication"): keda.TriggerAuthentication,
        ("cert-manager.io/v1", "Certificate"): cert_manager.Certificate,
        ("cert-manager.io/v1", "ClusterIssuer"): cert_manager.ClusterIssuer,
    }


def _closed(node: Any) -> Any:
    """Forbid unknown fields in every object that lists its fields (strict validation)."""
    if isinstance(node, dict):
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _closed(value)
    elif isinstance(node, list):
        for value in node:
            _closed(value)
    return node


@functools.cache
def _core_definitions() -> Any:
    return _core_schema("_definitions.json")


def _core_schema(filename: str) -> Any:
    """A schema file of the kubernetes-validate package (strict: no unknown fields)."""
    from kubernetes_validate.utils import schema_contents

    folder = f"kubernetes-json-schema/v{KUBERNETES_VERSION}-local-strict"
    return schema_contents(f"{folder}/{filename}", KUBERNETES_VERSION)


@functools.cache
def _core_validator(api_version: str, kind: str) -> jsonschema.Draft202012Validator:
    """kubernetes-validate's check, with the schemas loaded once rather than per resource."""
    from referencing import Registry, Resource

    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema = _core_schema(f"{kind.lower()}-{group_version}.json")
    registry: Registry[Any] = Resource.from_contents(schema) @ Registry()
    registry = Resource.from_contents(_core_definitions()) @ registry
    return jsonschema.Draft202012Validator(schema, registry=registry)


@functools.cache
def _validator(api_version: str, kind: str) -> jsonschema.Draft202012Validator:
    key = (api_version, kind)
    models = crd_models()
    if key in models:
        schema = _closed(models[key].model_json_schema(by_alias=True, mode="validation"))
    elif api_version == "traefik.io/v1alpha1":
        path = SCHEMA_DIR / f"traefik.io_v1alpha1_{kind.lower()}.json"
        schema = json.loads(path.read_text(encoding="utf-8"))
    else:
        raise LookupError(f"no schema for {api_version} {kind}")
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def schema_errors(resource: Resource) -> list[str]:
    """Why `resource` does not validate against its schema (empty when it does)."""
    api_version, kind = resource["apiVersion"], resource["kind"]
    validator = _core_validator(api_version, kind) if api_version in CORE_GROUPS else None
    validator = validator or _validator(api_version, kind)
    return [
        f"{'.'.join(map(str, error.path))}: {error.message}"
        for error in validator.iter_errors(resource)
    ]


# Values ---------------------------------------------------------------------------------------

_SUFFIXES = {
    "m": 1e-3,
    "": 1.0,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
}


def quantity(value: str | int | float) -> float:
    """A Kubernetes quantity ("250m", "128Mi", "2") as a number."""
    text = str(value)
    match = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", text)
    assert match and match.group(2) in _SUFFIXES, f"not a quantity: {value!r}"
    return float(match.group(1)) * _SUFFIXES[match.group(2)]


def config_data(resources: list[Resource], prefix: str = "sprout-config-") -> dict[str, str]:
    """The data of the one generated ConfigMap whose name starts with `prefix`."""
    found = [r for r in of_kind(resources, "ConfigMap") if r["metadata"]["name"].startswith(prefix)]
    assert len(found) == 1, f"expected one ConfigMap {prefix}*, found {len(found)}"
    data: dict[str, str] = found[0]["data"]
    return data
