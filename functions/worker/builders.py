"""What a container is on the cluster: a Pod, a ClusterIP Service and an Ingress.

Pure functions of the record, the template and the settings (and `now`, for the pod's
remaining lifetime): no API calls, no clock. Each answers the JSON body the API is sent
(camelCase, no nulls), as plain dicts: the client's typed models would cost every job a
third of a second of imports before its first create. Tests compare whole objects.

Choices made here:
- Names are `sprout-<id>`: container ids are 12 base32 characters (`[a-z2-7]`), so the name
  is a valid DNS-1123 label and DNS-1035 label (services) and never needs a hash suffix.
- `restartPolicy: Never`. A playground container is one session: if its process exits or is
  killed for memory, the visitor sees "crashed" with the reason instead of a pod quietly
  restarting in a loop and holding its quota; the pod stops using resources at once.
- requests equal limits (Guaranteed QoS): the capacity setting then means what it says.
- Pod Security `restricted`: non-root with a fixed unprivileged uid (images such as
  python:alpine would otherwise run as root and be refused by the kubelet), no privilege
  escalation, all capabilities dropped, seccomp RuntimeDefault; no service-account token and no
  service links (nothing about the cluster leaks into the container). The group is left to
  the image: a uid it does not know runs with group 0, which is how images built for
  arbitrary uids (nginx-unprivileged, OpenShift-style) make their writable paths writable.
- A TCP readiness probe on the template's port: "running" means something answers there.
- Bandwidth annotations from the template (`kubernetes.io/egress-bandwidth` and
  `kubernetes.io/ingress-bandwidth`, 10M by default): with the sandbox NetworkPolicy's web
  ports only, a container cannot be turned into a flood against others. Clusters whose CNI
  has no bandwidth plugin ignore them.
"""

from __future__ import annotations

import math
import re
from typing import Any

from functions.worker.settings import WorkerSettings
from shared.records import Record
from shared.settings import SiteSettings, Template

PART_OF_LABEL = "app.kubernetes.io/part-of"
PART_OF = "sprout"
CONTAINER_ID_LABEL = "sprout.dev/container-id"
TEMPLATE_LABEL = "sprout.dev/template"
EXPIRES_ANNOTATION = "sprout.dev/expires-at"
EGRESS_BANDWIDTH_ANNOTATION = "kubernetes.io/egress-bandwidth"
INGRESS_BANDWIDTH_ANNOTATION = "kubernetes.io/ingress-bandwidth"
SELECTOR = f"{PART_OF_LABEL}={PART_OF}"  # every object the worker made

CONTAINER_NAME = "app"
PORT_NAME = "http"
SERVICE_PORT = 80
RUN_AS = 65532  # the conventional "nonroot" uid of distroless images
GRACE_SECONDS = 5

_CONTAINER_ID = re.compile(r"^[a-z2-7]{12}$")
_DNS_1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def valid_container_id(container_id: str) -> bool:
    return bool(_CONTAINER_ID.match(container_id))


def object_name(container_id: str) -> str:
    """The name of the pod, service and ingress of a container."""
    if not valid_container_id(container_id):
        raise ValueError(f"not a container id: {container_id!r}")
    name = f"sprout-{container_id}"
    assert len(name) <= 63 and _DNS_1123_LABEL.match(name)
    return name


def container_id_of(name: str) -> str | None:
    """The container id an object name belongs to, or None if it is not one of ours."""
    if name.startswith("sprout-") and valid_container_id(name[len("sprout-") :]):
        return name[len("sprout-") :]
    return None


def labels(record: Record) -> dict[str, str]:
    return {
        PART_OF_LABEL: PART_OF,
        CONTAINER_ID_LABEL: record.id,
        TEMPLATE_LABEL: record.template,
    }


def _metadata(record: Record, settings: WorkerSettings) -> dict[str, Any]:
    return {
        "name": object_name(record.id),
        "namespace": settings.namespace,
        "labels": labels(record),
        "annotations": {EXPIRES_ANNOTATION: f"{record.expires_at:.3f}"},
    }


def remaining_lifetime(record: Record, now: float) -> int:
    """Whole seconds the container has left (at least 1: the API refuses 0)."""
    return max(1, math.ceil(record.expires_at - now))


def build_pod(
    record: Record, template: Template, settings: WorkerSettings, *, now: float
) -> dict[str, Any]:
    quantities = {
        "cpu": template.cpu,
        "memory": template.memory,
        "ephemeral-storage": template.ephemeral_storage,
    }
    container: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": template.image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": PORT_NAME, "containerPort": template.port, "protocol": "TCP"}],
        "resources": {"requests": quantities, "limits": dict(quantities)},
        "readinessProbe": {
            "tcpSocket": {"port": PORT_NAME},
            "periodSeconds": 2,
            "failureThreshold": 3,
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    if template.command:
        container["command"] = list(template.command)
    if template.args:
        container["args"] = list(template.args)
    metadata = _metadata(record, settings)
    metadata["annotations"][EGRESS_BANDWIDTH_ANNOTATION] = template.egress_bandwidth
    metadata["annotations"][INGRESS_BANDWIDTH_ANNOTATION] = template.ingress_bandwidth
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {
            "containers": [container],
            "restartPolicy": "Never",
            "activeDeadlineSeconds": remaining_lifetime(record, now),
            "terminationGracePeriodSeconds": GRACE_SECONDS,
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": RUN_AS,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
        },
    }


def build_service(record: Record, template: Template, settings: WorkerSettings) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(record, settings),
        "spec": {
            "type": "ClusterIP",
            "selector": {PART_OF_LABEL: PART_OF, CONTAINER_ID_LABEL: record.id},
            "ports": [
                {
                    "name": PORT_NAME,
                    "port": SERVICE_PORT,
                    "targetPort": template.port,
                    "protocol": "TCP",
                }
            ],
        },
    }


def build_ingress(record: Record, settings: WorkerSettings, site: SiteSettings) -> dict[str, Any]:
    host = site.container_host(record.id)
    metadata = _metadata(record, settings)
    metadata["annotations"]["traefik.ingress.kubernetes.io/router.tls"] = "true"
    backend = {"service": {"name": object_name(record.id), "port": {"number": SERVICE_PORT}}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": metadata,
        "spec": {
            "ingressClassName": settings.ingress_class,
            "tls": [{"hosts": [host], "secretName": settings.tls_secret}],
            "rules": [
                {
                    "host": host,
                    "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]},
                }
            ],
        },
    }
