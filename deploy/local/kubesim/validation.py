"""Defaulting and validation of objects, mirroring ``pkg/apis/core/validation`` and friends.

What a cluster does to an incoming object before storing it: fill in the defaults a reader of
the object sees (restartPolicy, grace period, pull policy, requests from limits, port
protocols and target ports), then validate it and answer 422 Invalid with field paths and
messages worded like the real ones. Only the rules Sprout's objects can run into are here:
names, labels, annotations, containers, ports, quantities, restart policy, deadline, and the
shape of services and ingresses.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .errors import FieldError, bad_request
from .names import (
    dns1035_label_errors,
    dns1123_label_errors,
    dns1123_subdomain_errors,
    host_errors,
    label_key_errors,
    label_value_errors,
)
from .quantity import QuantityError, parse_quantity
from .resources import INGRESSES, PODS, SERVICES, ResourceType

JSON = dict[str, Any]

NAME_RULES: dict[str, Callable[[str], list[str]]] = {
    PODS.plural: dns1123_subdomain_errors,
    SERVICES.plural: dns1035_label_errors,
    INGRESSES.plural: dns1123_subdomain_errors,
}
RESTART_POLICIES = ("Always", "OnFailure", "Never")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
PROTOCOLS = ("SCTP", "TCP", "UDP")
SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")
MAX_INT32 = 2147483647


# --- defaulting -------------------------------------------------------------------------------


def default_pod(pod: JSON) -> None:
    spec = pod.setdefault("spec", {})
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    for container in spec.get("containers") or []:
        image = str(container.get("image") or "")
        tagged = "@" in image or ":" in image.rsplit("/", 1)[-1]
        latest = not tagged or image.endswith(":latest")
        container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        resources = container.setdefault("resources", {})
        for name, value in (resources.get("limits") or {}).items():
            resources.setdefault("requests", {}).setdefault(name, value)
        for port in container.get("ports") or []:
            port.setdefault("protocol", "TCP")


def default_service(service: JSON) -> None:
    spec = service.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        if "port" in port:
            port.setdefault("targetPort", port["port"])


def apply_defaults(resource: ResourceType, obj: JSON) -> None:
    """Defaults, and the 400 a real decoder gives for quantities that do not parse."""
    if resource is SERVICES:
        default_service(obj)
    if resource is not PODS:
        return
    default_pod(obj)
    for container in obj["spec"].get("containers") or []:
        for section in ("requests", "limits"):
            for value in (container["resources"].get(section) or {}).values():
                try:
                    parse_quantity(value)
                except QuantityError as error:
                    raise bad_request(str(error)) from error


# --- validation -------------------------------------------------------------------------------


def _invalid_each(field: str, value: object, problems: list[str]) -> list[FieldError]:
    return [FieldError("Invalid", field, value, problem) for problem in problems]


def _not_supported(field: str, value: object, supported: tuple[str, ...]) -> list[FieldError]:
    return [] if value in supported else [FieldError("NotSupported", field, value, "", supported)]


def _port_range(field: str, value: object) -> list[FieldError]:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        return [FieldError("Invalid", field, value, "must be between 1 and 65535, inclusive")]
    return []


def _labels_errors(field: str, labels: JSON) -> list[FieldError]:
    errors: list[FieldError] = []
    for key, value in labels.items():
        errors += _invalid_each(field, key, label_key_errors(key))
        if not isinstance(value, str):
            errors.append(FieldError("Invalid", field, value, "must be a string"))
        else:
            errors += _invalid_each(field, value, label_value_errors(value))
    return errors


def validate_meta(resource: ResourceType, meta: JSON) -> list[FieldError]:
    name = meta.get("name") or ""
    if not name:
        errors = [
            FieldError("Required", "metadata.name", detail="name or generateName is required")
        ]
    else:
        errors = _invalid_each("metadata.name", name, NAME_RULES[resource.plural](name))
    errors += _labels_errors("metadata.labels", meta.get("labels") or {})
    for key in meta.get("annotations") or {}:
        errors += _invalid_each("metadata.annotations", key, label_key_errors(key.lower()))
    return errors


def _container_errors(container: JSON, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    name = container.get("name") or ""
    if not name:
        errors.append(FieldError("Required", f"{path}.name"))
    errors += _invalid_each(f"{path}.name", name, dns1123_label_errors(name) if name else [])
    image = container.get("image")
    if not isinstance(image, str) or not image.strip():
        errors.append(FieldError("Required", f"{path}.image"))
    policy = container.get("imagePullPolicy")
    errors += _not_supported(f"{path}.imagePullPolicy", policy, PULL_POLICIES)
    for index, port in enumerate(container.get("ports") or []):
        port_path = f"{path}.ports[{index}]"
        errors += _port_range(f"{port_path}.containerPort", port.get("containerPort"))
        errors += _not_supported(f"{port_path}.protocol", port.get("protocol"), PROTOCOLS)
        if port.get("name"):
            errors += _invalid_each(
                f"{port_path}.name", port["name"], dns1123_label_errors(port["name"])
            )
    resources = container.get("resources") or {}
    limits = resources.get("limits") or {}
    for resource_name, requested in (resources.get("requests") or {}).items():
        limit = limits.get(resource_name)
        if limit is not None and parse_quantity(requested) > parse_quantity(limit):
            detail = f"must be less than or equal to {resource_name} limit of {limit}"
            errors.append(
                FieldError("Invalid", f"{path}.resources.requests", str(requested), detail)
            )
    return errors


def validate_pod_spec(spec: JSON) -> list[FieldError]:
    containers = spec.get("containers") or []
    errors = [] if containers else [FieldError("Required", "spec.containers")]
    seen: set[str] = set()
    for index, container in enumerate(containers):
        path = f"spec.containers[{index}]"
        errors += _container_errors(container, path)
        if container.get("name") in seen:
            errors.append(FieldError("Duplicate", f"{path}.name", container.get("name")))
        seen.add(container.get("name"))
    errors += _not_supported("spec.restartPolicy", spec.get("restartPolicy"), RESTART_POLICIES)
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and (
        not isinstance(deadline, int)
        or isinstance(deadline, bool)
        or not 1 <= deadline <= MAX_INT32
    ):
        detail = f"must be between 1 and {MAX_INT32}, inclusive"
        errors.append(FieldError("Invalid", "spec.activeDeadlineSeconds", deadline, detail))
    return errors


def validate_service_spec(spec: JSON) -> list[FieldError]:
    errors = _not_supported("spec.type", spec.get("type"), SERVICE_TYPES)
    ports = spec.get("ports") or []
    if not ports and spec.get("type") != "ExternalName":
        errors.append(FieldError("Required", "spec.ports"))
    names: set[str] = set()
    for index, port in enumerate(ports):
        path = f"spec.ports[{index}]"
        name = port.get("name") or ""
        if len(ports) > 1 and not name:
            errors.append(FieldError("Required", f"{path}.name"))
        errors += _invalid_each(f"{path}.name", name, dns1123_label_errors(name) if name else [])
        if name and name in names:
            errors.append(FieldError("Duplicate", f"{path}.name", name))
        names.add(name)
        errors += _port_range(f"{path}.port", port.get("port"))
        target = port.get("targetPort")
        if isinstance(target, int) and not isinstance(target, bool):
            errors += _port_range(f"{path}.targetPort", target)
        elif not isinstance(target, str) or not target:
            detail = "must contain at least one letter or number (a-z, 0-9)"
            errors.append(FieldError("Invalid", f"{path}.targetPort", target, detail))
        errors += _not_supported(f"{path}.protocol", port.get("protocol"), PROTOCOLS)
    return errors + _labels_errors("spec.selector", spec.get("selector") or {})


def _backend_errors(backend: JSON, path: str) -> list[FieldError]:
    service = backend.get("service")
    if not service:
        return [FieldError("Invalid", path, "", "resource or service backend is required")]
    name = service.get("name") or ""
    errors = [] if name else [FieldError("Required", f"{path}.service.name")]
    errors += _invalid_each(
        f"{path}.service.name", name, dns1035_label_errors(name) if name else []
    )
    port = service.get("port") or {}
    has_name, has_number = bool(port.get("name")), port.get("number") is not None
    if has_name == has_number:
        detail = (
            "cannot set both port name & port number"
            if has_name
            else "port name or number is required"
        )
        errors.append(FieldError("Invalid", f"{path}.service.port", json.dumps(port), detail))
    elif has_number:
        errors += _port_range(f"{path}.service.port.number", port.get("number"))
    return errors


def validate_ingress_spec(spec: JSON) -> list[FieldError]:
    rules = spec.get("rules") or []
    errors: list[FieldError] = []
    if not rules and not spec.get("defaultBackend"):
        detail = "either `defaultBackend` or `rules` must be specified"
        errors.append(FieldError("Invalid", "spec.rules", [], detail))
    if spec.get("ingressClassName") is not None:
        name = spec["ingressClassName"]
        errors += _invalid_each("spec.ingressClassName", name, dns1123_subdomain_errors(name))
    if spec.get("defaultBackend"):
        errors += _backend_errors(spec["defaultBackend"], "spec.defaultBackend")
    for index, rule in enumerate(rules):
        path = f"spec.rules[{index}]"
        if rule.get("host"):
            errors += _invalid_each(f"{path}.host", rule["host"], host_errors(rule["host"]))
        if rule.get("http") is None:
            continue
        paths = rule["http"].get("paths") or []
        if not paths:
            errors.append(FieldError("Required", f"{path}.http.paths"))
        for path_index, entry in enumerate(paths):
            entry_path = f"{path}.http.paths[{path_index}]"
            path_type = entry.get("pathType")
            if path_type is None:
                errors.append(
                    FieldError(
                        "Required", f"{entry_path}.pathType", detail="pathType must be specified"
                    )
                )
            else:
                errors += _not_supported(f"{entry_path}.pathType", path_type, PATH_TYPES)
            value = entry.get("path", "")
            if path_type in ("Exact", "Prefix") and not str(value).startswith("/"):
                errors.append(
                    FieldError("Invalid", f"{entry_path}.path", value, "must be an absolute path")
                )
            errors += _backend_errors(entry.get("backend") or {}, f"{entry_path}.backend")
    for index, tls in enumerate(spec.get("tls") or []):
        for host_index, host in enumerate(tls.get("hosts") or []):
            errors += _invalid_each(
                f"spec.tls[{index}].hosts[{host_index}]", host, host_errors(host)
            )
        secret = tls.get("secretName")
        if secret:
            errors += _invalid_each(
                f"spec.tls[{index}].secretName", secret, dns1123_subdomain_errors(secret)
            )
    return errors


SPEC_VALIDATORS: dict[str, Callable[[JSON], list[FieldError]]] = {
    PODS.plural: validate_pod_spec,
    SERVICES.plural: validate_service_spec,
    INGRESSES.plural: validate_ingress_spec,
}


def validate(resource: ResourceType, obj: JSON) -> list[FieldError]:
    """All problems of a (defaulted) object about to be created."""
    errors = validate_meta(resource, obj["metadata"])
    spec = obj.get("spec")
    if spec is not None and not isinstance(spec, dict):
        return [*errors, FieldError("Invalid", "spec", spec, "must be an object")]
    return errors + SPEC_VALIDATORS[resource.plural](spec or {})
