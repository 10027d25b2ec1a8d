"""Server-side printing: ``meta.k8s.io/v1`` Tables, as ``kubectl get`` asks for them.

Mirrors the API server's table convertor for the served types: the same columns (``NAME READY
STATUS RESTARTS AGE`` for pods, ``NAME TYPE CLUSTER-IP ...`` for services, ...), the pod status
column computed the way ``kubectl`` shows it (waiting reasons, Terminating), and human ages.
"""

from __future__ import annotations

import time
from typing import Any

from .lifecycle import parse_timestamp
from .resources import INGRESSES, NAMESPACES, PODS, SERVICES, ResourceType
from .store import Snapshot

JSON = dict[str, Any]


def human_duration(seconds: float) -> str:
    """``duration.HumanDuration`` from apimachinery."""
    seconds = int(max(seconds, 0))
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 192:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    return f"{days // 365}y"


def _age(obj: JSON) -> str:
    created = obj["metadata"].get("creationTimestamp")
    return human_duration(time.time() - parse_timestamp(created)) if created else "<unknown>"


def _column(name: str, description: str, priority: int = 0, kind: str = "string") -> JSON:
    return {
        "name": name,
        "type": kind,
        "format": "name" if name == "Name" else "",
        "description": description,
        "priority": priority,
    }


def _pod_row(pod: JSON) -> list[object]:
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    total = len((pod.get("spec") or {}).get("containers") or [])
    ready = sum(1 for s in statuses if s.get("ready"))
    restarts = sum(int(s.get("restartCount", 0)) for s in statuses)
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for container_status in statuses:
        state = container_status.get("state") or {}
        if (state.get("waiting") or {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state:
            terminated = state["terminated"]
            reason = terminated.get("reason") or f"ExitCode:{terminated.get('exitCode', 0)}"
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return [
        pod["metadata"]["name"],
        f"{ready}/{total}",
        reason,
        str(restarts),
        _age(pod),
        status.get("podIP") or "<none>",
        (pod.get("spec") or {}).get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        "<none>",
    ]


def _service_row(service: JSON) -> list[object]:
    spec = service.get("spec") or {}
    ports = ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or [])
    selector = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items()))
    return [
        service["metadata"]["name"],
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP") or "<none>",
        "<none>",
        ports or "<none>",
        _age(service),
        selector or "<none>",
    ]


def _ingress_row(ingress: JSON) -> list[object]:
    spec = ingress.get("spec") or {}
    hosts = [rule.get("host") for rule in spec.get("rules") or [] if rule.get("host")]
    addresses = [
        entry.get("ip") or entry.get("hostname")
        for entry in ((ingress.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    ]
    return [
        ingress["metadata"]["name"],
        spec.get("ingressClassName") or "<none>",
        ",".join(hosts) or "*",
        ",".join(a for a in addresses if a),
        "80, 443" if spec.get("tls") else "80",
        _age(ingress),
    ]


def _namespace_row(namespace: JSON) -> list[object]:
    return [
        namespace["metadata"]["name"],
        (namespace.get("status") or {}).get("phase", ""),
        _age(namespace),
    ]


_NAME = "Name must be unique within a namespace."
_AGE = "CreationTimestamp is a timestamp representing the server time when this object was created."
COLUMNS: dict[str, list[JSON]] = {
    PODS.plural: [
        _column("Name", _NAME),
        _column("Ready", "The aggregate readiness state of this pod for accepting traffic."),
        _column("Status", "The aggregate status of the containers in this pod."),
        _column("Restarts", "The number of times the containers in this pod have been restarted."),
        _column("Age", _AGE),
        _column("IP", "IP address allocated to the pod.", 1),
        _column("Node", "Name of the Node this pod runs on.", 1),
        _column("Nominated Node", "Name of the node where preemption would place the pod.", 1),
        _column("Readiness Gates", "Readiness gates of the pod.", 1),
    ],
    SERVICES.plural: [
        _column("Name", _NAME),
        _column("Type", "How the service is exposed."),
        _column("Cluster-IP", "The IP address of the service inside the cluster."),
        _column("External-IP", "External IPs of the service."),
        _column("Port(s)", "The ports exposed by this service."),
        _column("Age", _AGE),
        _column("Selector", "Route service traffic to pods with labels matching this selector.", 1),
    ],
    INGRESSES.plural: [
        _column("Name", _NAME),
        _column("Class", "The name of the IngressClass resource."),
        _column("Hosts", "Hosts that incoming requests are matched against."),
        _column("Address", "Address is a list containing ingress points for the load-balancer."),
        _column("Ports", "Ports of TLS configurations that open."),
        _column("Age", _AGE),
    ],
    NAMESPACES.plural: [
        _column("Name", _NAME),
        _column("Status", "The status of the namespace."),
        _column("Age", _AGE),
    ],
}
ROWS = {
    PODS.plural: _pod_row,
    SERVICES.plural: _service_row,
    INGRESSES.plural: _ingress_row,
    NAMESPACES.plural: _namespace_row,
}


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def to_table(
    resource: ResourceType,
    snapshots: list[Snapshot],
    resource_version: int,
    include_object: str = "Metadata",
    continue_token: str | None = None,
) -> JSON:
    rows = []
    for snapshot in snapshots:
        row: JSON = {"cells": ROWS[resource.plural](snapshot.obj)}
        if include_object == "Object":
            row["object"] = {
                "kind": resource.kind,
                "apiVersion": resource.api_version,
                **snapshot.obj,
            }
        elif include_object != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": snapshot.obj["metadata"],
            }
        rows.append(row)
    metadata: JSON = {"resourceVersion": str(resource_version)}
    if continue_token:
        metadata["continue"] = continue_token
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": COLUMNS[resource.plural],
        "rows": rows,
    }
