"""The resource types the simulator serves: core/v1 pods and services, networking/v1 ingresses.

These are the objects Sprout makes (one of each per visitor's container); the simulator serves
nothing else, so a request for any other type is a 404 like an API server without that type.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResourceType:
    plural: str
    kind: str
    group: str  # "" for the core group

    @property
    def api_version(self) -> str:
        return f"{self.group}/v1" if self.group else "v1"

    @property
    def qualified_plural(self) -> str:
        """``pods`` or ``ingresses.networking.k8s.io``, as used in error messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        """``Pod`` or ``Ingress.networking.k8s.io``, as used in Invalid messages."""
        return f"{self.kind}.{self.group}" if self.group else self.kind


PODS = ResourceType("pods", "Pod", "")
SERVICES = ResourceType("services", "Service", "")
INGRESSES = ResourceType("ingresses", "Ingress", "networking.k8s.io")

ALL_RESOURCES: tuple[ResourceType, ...] = (PODS, SERVICES, INGRESSES)
BY_GROUP_AND_PLURAL = {(r.group, r.plural): r for r in ALL_RESOURCES}
BY_PLURAL = {r.plural: r for r in ALL_RESOURCES}
