"""Discovery documents: ``/version``, ``/api``, ``/api/v1``, ``/apis`` and the networking group.

Mirrors the legacy (unaggregated) discovery the API server publishes, which is what
``kubectl`` falls back to when the aggregated format is not offered: API versions, groups and
per-group-version resource lists with verbs, short names and subresources.
"""

from __future__ import annotations

from typing import Any

from .resources import ALL_RESOURCES, ResourceType

JSON = dict[str, Any]

SERVER_VERSION: JSON = {
    "major": "1",
    "minor": "32",
    "emulationMajor": "1",
    "emulationMinor": "32",
    "gitVersion": "v1.32.0-kubesim",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}

_OBJECT_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
_NAMESPACE_VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]
_SINGULAR = {
    "namespaces": "namespace",
    "pods": "pod",
    "services": "service",
    "ingresses": "ingress",
}


def _resource_entries(resource: ResourceType) -> list[JSON]:
    verbs = _NAMESPACE_VERBS if resource.plural == "namespaces" else _OBJECT_VERBS
    entry: JSON = {
        "name": resource.plural,
        "singularName": _SINGULAR[resource.plural],
        "namespaced": resource.namespaced,
        "kind": resource.kind,
        "verbs": verbs,
        "shortNames": list(resource.short_names),
    }
    if resource.plural in ("pods", "services"):
        entry["categories"] = ["all"]
    entries = [entry]
    if resource.has_status:
        entries.append(
            {
                "name": f"{resource.plural}/status",
                "singularName": "",
                "namespaced": resource.namespaced,
                "kind": resource.kind,
                "verbs": ["get", "patch", "update"],
            }
        )
    if resource.plural == "pods":
        entries.append(
            {
                "name": "pods/log",
                "singularName": "",
                "namespaced": True,
                "kind": "Pod",
                "verbs": ["get"],
            }
        )
    return entries


def api_versions(server_address: str) -> JSON:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def resource_list(group: str, version: str) -> JSON:
    group_version = f"{group}/{version}" if group else version
    resources = [r for r in ALL_RESOURCES if r.group == group and r.version == version]
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": [entry for resource in resources for entry in _resource_entries(resource)],
    }


def _group(name: str) -> JSON:
    version = {"groupVersion": f"{name}/v1", "version": "v1"}
    return {"name": name, "versions": [version], "preferredVersion": version}


def api_group_list() -> JSON:
    groups = sorted({r.group for r in ALL_RESOURCES if r.group})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group(g) for g in groups]}


def api_group(name: str) -> JSON | None:
    if not any(r.group == name for r in ALL_RESOURCES):
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name)}


def discovery_document(path: str, server_address: str) -> JSON | None:
    """The document served at ``path``, or None when ``path`` is not a discovery path."""
    if path == "/version":
        return SERVER_VERSION
    if path == "/api":
        return api_versions(server_address)
    if path == "/api/v1":
        return resource_list("", "v1")
    if path == "/apis":
        return api_group_list()
    parts = path.strip("/").split("/")
    if len(parts) == 2 and parts[0] == "apis":
        return api_group(parts[1])
    if len(parts) == 3 and parts[0] == "apis" and parts[2] == "v1" and api_group(parts[1]):
        return resource_list(parts[1], "v1")
    return None
