"""The resource types the simulator serves, with their REST names, kinds and scope.

Mirrors what the API server's discovery documents publish for core/v1 namespaces, pods and
services and networking.k8s.io/v1 ingresses: plural (URL segment), kind, group/version,
whether the type is namespaced, its short names and which field selectors it supports.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResourceType:
    plural: str
    kind: str
    group: str
    version: str
    namespaced: bool
    short_names: tuple[str, ...]
    field_selectors: frozenset[str]
    has_status: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified_plural(self) -> str:
        """``pods`` or ``ingresses.networking.k8s.io``, as used in error messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        """``Pod`` or ``Ingress.networking.k8s.io``, as used in Invalid messages."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"


_META_FIELDS = frozenset({"metadata.name", "metadata.namespace"})

NAMESPACES = ResourceType(
    plural="namespaces",
    kind="Namespace",
    group="",
    version="v1",
    namespaced=False,
    short_names=("ns",),
    field_selectors=frozenset({"metadata.name", "status.phase"}),
)
PODS = ResourceType(
    plural="pods",
    kind="Pod",
    group="",
    version="v1",
    namespaced=True,
    short_names=("po",),
    field_selectors=_META_FIELDS
    | {
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    },
)
SERVICES = ResourceType(
    plural="services",
    kind="Service",
    group="",
    version="v1",
    namespaced=True,
    short_names=("svc",),
    field_selectors=_META_FIELDS,
)
INGRESSES = ResourceType(
    plural="ingresses",
    kind="Ingress",
    group="networking.k8s.io",
    version="v1",
    namespaced=True,
    short_names=("ing",),
    field_selectors=_META_FIELDS,
)

ALL_RESOURCES: tuple[ResourceType, ...] = (NAMESPACES, PODS, SERVICES, INGRESSES)
BY_GROUP_AND_PLURAL: dict[tuple[str, str], ResourceType] = {
    (resource.group, resource.plural): resource for resource in ALL_RESOURCES
}
BY_PLURAL: dict[str, ResourceType] = {resource.plural: resource for resource in ALL_RESOURCES}
