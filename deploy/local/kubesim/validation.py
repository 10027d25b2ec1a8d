"""Defaulting and validation of objects, mirroring ``pkg/apis/core/validation`` and friends.

What a cluster does to an incoming object before storing it: fill in defaults (restartPolicy,
dnsPolicy, imagePullPolicy, requests from limits, service port protocol and targetPort, ...),
then validate it and answer 422 Invalid with field paths and messages worded like the real
ones. Updates additionally keep immutable fields (a pod's spec beyond images, deadlines and
tolerations; a service's clusterIP). Only the rules Sprout's objects can run into are here.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from typing import Any

from .errors import FieldError, bad_request
from .names import (
    dns1035_label_errors,
    dns1123_label_errors,
    dns1123_subdomain_errors,
    label_key_errors,
    label_value_errors,
    wildcard_or_subdomain_errors,
)
from .quantity import QuantityError, parse_quantity
from .resources import INGRESSES, NAMESPACES, PODS, SERVICES, ResourceType

JSON = dict[str, Any]

NAME_RULES: dict[str, Callable[[str], list[str]]] = {
    NAMESPACES.plural: dns1123_label_errors,
    PODS.plural: dns1123_subdomain_errors,
    SERVICES.plural: dns1035_label_errors,
    INGRESSES.plural: dns1123_subdomain_errors,
}

RESTART_POLICIES = ("Always", "OnFailure", "Never")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
PROTOCOLS = ("SCTP", "TCP", "UDP")
SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")
MAX_ANNOTATIONS_BYTES = 256 * 1024
MAX_INT32 = 2147483647

POD_UPDATE_FORBIDDEN = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
    "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
    "(allow it to be set to 1 if it was previously negative)"
)


# --- defaulting -------------------------------------------------------------------------------


def image_has_tag_or_digest(image: str) -> tuple[bool, str]:
    """Whether ``image`` names a tag or digest, and the tag (``latest`` when absent)."""
    if "@" in image:
        return True, ""
    last_part = image.rsplit("/", 1)[-1]
    if ":" in last_part:
        return True, last_part.rsplit(":", 1)[1]
    return False, "latest"


def _default_container(container: JSON) -> None:
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    image = container.get("image")
    if "imagePullPolicy" not in container:
        _, tag = image_has_tag_or_digest(image) if isinstance(image, str) and image else (False, "")
        container["imagePullPolicy"] = "Always" if tag == "latest" else "IfNotPresent"
    resources = container.setdefault("resources", {})
    if isinstance(resources, dict):
        limits = resources.get("limits") or {}
        if limits:
            requests = resources.setdefault("requests", {})
            for name, value in limits.items():
                requests.setdefault(name, value)
    for port in container.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")


def default_pod(pod: JSON) -> None:
    spec = pod.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    spec.setdefault("serviceAccountName", spec.get("serviceAccount") or "default")
    spec["serviceAccount"] = spec["serviceAccountName"]
    for key in ("initContainers", "containers"):
        for container in spec.get(key) or []:
            if isinstance(container, dict):
                _default_container(container)


def default_service(service: JSON) -> None:
    spec = service.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["type"] != "ExternalName":
        spec.setdefault("internalTrafficPolicy", "Cluster")
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if "port" in port:
                port.setdefault("targetPort", port["port"])


def default_namespace(namespace: JSON) -> None:
    name = namespace["metadata"].get("name", "")
    labels = namespace["metadata"].setdefault("labels", {})
    labels["kubernetes.io/metadata.name"] = name
    spec = namespace.setdefault("spec", {})
    if isinstance(spec, dict):
        spec.setdefault("finalizers", ["kubernetes"])


DEFAULTERS: dict[str, Callable[[JSON], None]] = {
    PODS.plural: default_pod,
    SERVICES.plural: default_service,
    NAMESPACES.plural: default_namespace,
}


def apply_defaults(resource: ResourceType, obj: JSON) -> None:
    defaulter = DEFAULTERS.get(resource.plural)
    if defaulter:
        defaulter(obj)


def check_quantities(pod: JSON) -> None:
    """Resource quantities that do not parse fail decoding (400), as on a real server."""
    spec = pod.get("spec") or {}
    for key in ("initContainers", "containers"):
        for container in spec.get(key) or []:
            resources = container.get("resources") if isinstance(container, dict) else None
            if not isinstance(resources, dict):
                continue
            for section in ("requests", "limits"):
                for value in (resources.get(section) or {}).values():
                    try:
                        parse_quantity(value)
                    except QuantityError as error:
                        raise bad_request(str(error)) from error


# --- validation -------------------------------------------------------------------------------


def _invalid_each(field: str, value: object, problems: list[str]) -> list[FieldError]:
    return [FieldError("Invalid", field, value, problem) for problem in problems]


def validate_meta(resource: ResourceType, meta: JSON) -> list[FieldError]:
    errors: list[FieldError] = []
    name = meta.get("name") or ""
    if not name:
        errors.append(
            FieldError("Required", "metadata.name", detail="name or generateName is required")
        )
    else:
        errors += _invalid_each("metadata.name", name, NAME_RULES[resource.plural](name))
    labels = meta.get("labels") or {}
    for key, value in labels.items():
        errors += _invalid_each("metadata.labels", key, label_key_errors(key))
        if not isinstance(value, str):
            errors.append(FieldError("Invalid", "metadata.labels", value, "must be a string"))
        else:
            errors += _invalid_each("metadata.labels", value, label_value_errors(value))
    annotations = meta.get("annotations") or {}
    for key in annotations:
        errors += _invalid_each("metadata.annotations", key, label_key_errors(key.lower()))
    size = sum(len(key) + len(str(value)) for key, value in annotations.items())
    if size > MAX_ANNOTATIONS_BYTES:
        errors.append(
            FieldError(
                "TooLong",
                "metadata.annotations",
                detail=f"must have at most {MAX_ANNOTATIONS_BYTES} bytes",
            )
        )
    return errors


def _port_range(field: str, value: object) -> list[FieldError]:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        return [FieldError("Invalid", field, value, "must be between 1 and 65535, inclusive")]
    return []


def _container_errors(container: JSON, path: str, volume_names: set[str]) -> list[FieldError]:
    errors: list[FieldError] = []
    name = container.get("name") or ""
    if not name:
        errors.append(FieldError("Required", f"{path}.name"))
    else:
        errors += _invalid_each(f"{path}.name", name, dns1123_label_errors(name))
    image = container.get("image")
    if not isinstance(image, str) or not image.strip():
        errors.append(FieldError("Required", f"{path}.image"))
    policy = container.get("imagePullPolicy")
    if policy not in PULL_POLICIES:
        errors.append(
            FieldError("NotSupported", f"{path}.imagePullPolicy", policy, supported=PULL_POLICIES)
        )
    for index, port in enumerate(container.get("ports") or []):
        port_path = f"{path}.ports[{index}]"
        errors += _port_range(f"{port_path}.containerPort", port.get("containerPort"))
        if port.get("hostPort"):
            errors += _port_range(f"{port_path}.hostPort", port.get("hostPort"))
        if port.get("protocol") not in PROTOCOLS:
            errors.append(
                FieldError(
                    "NotSupported",
                    f"{port_path}.protocol",
                    port.get("protocol"),
                    supported=PROTOCOLS,
                )
            )
    for index, env in enumerate(container.get("env") or []):
        if not env.get("name"):
            errors.append(FieldError("Required", f"{path}.env[{index}].name"))
    for index, mount in enumerate(container.get("volumeMounts") or []):
        mount_path = f"{path}.volumeMounts[{index}]"
        if mount.get("name") not in volume_names:
            errors.append(FieldError("NotFound", f"{mount_path}.name", mount.get("name")))
        if not mount.get("mountPath"):
            errors.append(FieldError("Required", f"{mount_path}.mountPath"))
    resources = container.get("resources") or {}
    limits = resources.get("limits") or {}
    for resource_name, requested in (resources.get("requests") or {}).items():
        if resource_name in limits and parse_quantity(requested) > parse_quantity(
            limits[resource_name]
        ):
            errors.append(
                FieldError(
                    "Invalid",
                    f"{path}.resources.requests",
                    str(requested),
                    f"must be less than or equal to {resource_name} limit of "
                    f"{limits[resource_name]}",
                )
            )
    return errors


def validate_pod_spec(spec: JSON) -> list[FieldError]:
    errors: list[FieldError] = []
    volume_names: set[str] = set()
    for index, volume in enumerate(spec.get("volumes") or []):
        path = f"spec.volumes[{index}]"
        name = volume.get("name") or ""
        if not name:
            errors.append(FieldError("Required", f"{path}.name"))
        else:
            errors += _invalid_each(f"{path}.name", name, dns1123_label_errors(name))
            if name in volume_names:
                errors.append(FieldError("Duplicate", f"{path}.name", name))
        volume_names.add(name)
        sources = [key for key in volume if key != "name"]
        if not sources:
            errors.append(FieldError("Required", path, detail="must specify a volume type"))
        elif len(sources) > 1:
            errors.append(
                FieldError(
                    "Forbidden",
                    f"{path}.{sources[1]}",
                    detail="may not specify more than 1 volume type",
                )
            )
    containers = spec.get("containers") or []
    if not containers:
        errors.append(FieldError("Required", "spec.containers"))
    seen: set[str] = set()
    for key in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(key) or []):
            path = f"spec.{key}[{index}]"
            errors += _container_errors(container, path, volume_names)
            name = container.get("name")
            if name and name in seen:
                errors.append(FieldError("Duplicate", f"{path}.name", name))
            seen.add(name)
    restart = spec.get("restartPolicy")
    if restart not in RESTART_POLICIES:
        errors.append(
            FieldError("NotSupported", "spec.restartPolicy", restart, supported=RESTART_POLICIES)
        )
    if spec.get("dnsPolicy") not in DNS_POLICIES:
        errors.append(
            FieldError(
                "NotSupported", "spec.dnsPolicy", spec.get("dnsPolicy"), supported=DNS_POLICIES
            )
        )
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and (
        not isinstance(deadline, int)
        or isinstance(deadline, bool)
        or not 1 <= deadline <= MAX_INT32
    ):
        errors.append(
            FieldError(
                "Invalid",
                "spec.activeDeadlineSeconds",
                deadline,
                f"must be between 1 and {MAX_INT32}, inclusive",
            )
        )
    return errors


def validate_service_spec(spec: JSON) -> list[FieldError]:
    errors: list[FieldError] = []
    service_type = spec.get("type")
    if service_type not in SERVICE_TYPES:
        errors.append(
            FieldError("NotSupported", "spec.type", service_type, supported=SERVICE_TYPES)
        )
    cluster_ip = spec.get("clusterIP") or ""
    headless = cluster_ip == "None"
    if cluster_ip and not headless:
        try:
            ipaddress.ip_address(cluster_ip)
        except ValueError:
            errors.append(
                FieldError(
                    "Invalid",
                    "spec.clusterIPs[0]",
                    cluster_ip,
                    "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                )
            )
    ports = spec.get("ports") or []
    if not ports and service_type != "ExternalName" and not headless:
        errors.append(FieldError("Required", "spec.ports"))
    names: set[str] = set()
    for index, port in enumerate(ports):
        path = f"spec.ports[{index}]"
        name = port.get("name") or ""
        if len(ports) > 1 and not name:
            errors.append(FieldError("Required", f"{path}.name"))
        elif name:
            errors += _invalid_each(f"{path}.name", name, dns1123_label_errors(name))
            if name in names:
                errors.append(FieldError("Duplicate", f"{path}.name", name))
            names.add(name)
        errors += _port_range(f"{path}.port", port.get("port"))
        target = port.get("targetPort")
        if isinstance(target, int) and not isinstance(target, bool):
            errors += _port_range(f"{path}.targetPort", target)
        elif not isinstance(target, str) or not target:
            errors.append(
                FieldError(
                    "Invalid",
                    f"{path}.targetPort",
                    target,
                    "must contain at least one letter or number (a-z, 0-9)",
                )
            )
        if port.get("protocol") not in PROTOCOLS:
            errors.append(
                FieldError(
                    "NotSupported", f"{path}.protocol", port.get("protocol"), supported=PROTOCOLS
                )
            )
    for key, value in (spec.get("selector") or {}).items():
        errors += _invalid_each("spec.selector", key, label_key_errors(key))
        errors += _invalid_each("spec.selector", value, label_value_errors(str(value)))
    return errors


def _backend_errors(backend: JSON, path: str) -> list[FieldError]:
    service = backend.get("service")
    if not service and not backend.get("resource"):
        return [FieldError("Invalid", path, "", "resource or service backend is required")]
    if not service:
        return []
    errors: list[FieldError] = []
    name = service.get("name") or ""
    if not name:
        errors.append(FieldError("Required", f"{path}.service.name"))
    else:
        errors += _invalid_each(f"{path}.service.name", name, dns1035_label_errors(name))
    port = service.get("port") or {}
    has_name, has_number = bool(port.get("name")), port.get("number") is not None
    if has_name == has_number:
        errors.append(
            FieldError(
                "Invalid",
                f"{path}.service.port",
                json.dumps(port),
                "port name or number is required",
            )
            if not has_name
            else FieldError(
                "Invalid",
                f"{path}.service.port",
                json.dumps(port),
                "cannot set both port name & port number",
            )
        )
    elif has_number:
        errors += _port_range(f"{path}.service.port.number", port.get("number"))
    return errors


def validate_ingress_spec(spec: JSON) -> list[FieldError]:
    errors: list[FieldError] = []
    rules = spec.get("rules") or []
    if not rules and not spec.get("defaultBackend"):
        errors.append(
            FieldError(
                "Invalid", "spec.rules", [], "either `defaultBackend` or `rules` must be specified"
            )
        )
    class_name = spec.get("ingressClassName")
    if class_name is not None:
        errors += _invalid_each(
            "spec.ingressClassName", class_name, dns1123_subdomain_errors(class_name)
        )
    if spec.get("defaultBackend"):
        errors += _backend_errors(spec["defaultBackend"], "spec.defaultBackend")
    for index, rule in enumerate(rules):
        path = f"spec.rules[{index}]"
        host = rule.get("host")
        if host:
            errors += _invalid_each(f"{path}.host", host, wildcard_or_subdomain_errors(host))
        http = rule.get("http")
        if http is None:
            continue
        paths = http.get("paths") or []
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
            elif path_type not in PATH_TYPES:
                errors.append(
                    FieldError(
                        "NotSupported", f"{entry_path}.pathType", path_type, supported=PATH_TYPES
                    )
                )
            value = entry.get("path", "")
            if path_type in ("Exact", "Prefix") and not str(value).startswith("/"):
                errors.append(
                    FieldError("Invalid", f"{entry_path}.path", value, "must be an absolute path")
                )
            errors += _backend_errors(entry.get("backend") or {}, f"{entry_path}.backend")
    for index, tls in enumerate(spec.get("tls") or []):
        for host_index, host in enumerate(tls.get("hosts") or []):
            errors += _invalid_each(
                f"spec.tls[{index}].hosts[{host_index}]", host, wildcard_or_subdomain_errors(host)
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
    """All problems of a (defaulted) object about to be created or stored."""
    errors = validate_meta(resource, obj["metadata"])
    spec = obj.get("spec")
    if spec is not None and not isinstance(spec, dict):
        return [*errors, FieldError("Invalid", "spec", spec, "must be an object")]
    validator = SPEC_VALIDATORS.get(resource.plural)
    if validator:
        errors += validator(spec or {})
    return errors


def _pod_update_errors(old: JSON, new: JSON) -> list[FieldError]:
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    errors: list[FieldError] = []
    old_deadline, new_deadline = (
        old_spec.get("activeDeadlineSeconds"),
        new_spec.get("activeDeadlineSeconds"),
    )
    if old_deadline is not None:
        if new_deadline is None:
            errors.append(
                FieldError(
                    "Invalid",
                    "spec.activeDeadlineSeconds",
                    None,
                    "must not update from a positive integer to nil value",
                )
            )
        elif isinstance(new_deadline, int) and new_deadline > old_deadline:
            errors.append(
                FieldError(
                    "Invalid",
                    "spec.activeDeadlineSeconds",
                    new_deadline,
                    "must be less than or equal to previous value",
                )
            )
    # Everything but the mutable fields must be identical to the stored spec.
    comparable = json.loads(json.dumps(new_spec))
    for key in ("containers", "initContainers"):
        old_list, new_list = old_spec.get(key) or [], comparable.get(key) or []
        if len(old_list) == len(new_list):
            for old_container, new_container in zip(old_list, new_list, strict=True):
                if "image" in old_container:
                    new_container["image"] = old_container["image"]
    for key in ("activeDeadlineSeconds", "terminationGracePeriodSeconds"):
        if key in old_spec:
            comparable[key] = old_spec[key]
        else:
            comparable.pop(key, None)
    old_tolerations = old_spec.get("tolerations") or []
    new_tolerations = comparable.pop("tolerations", None) or []
    if any(toleration not in new_tolerations for toleration in old_tolerations):
        errors.append(
            FieldError(
                "Forbidden",
                "spec.tolerations",
                detail="existing toleration can not be modified except its tolerationSeconds",
            )
        )
    stored = {key: value for key, value in old_spec.items() if key != "tolerations"}
    if comparable != stored:
        errors.append(FieldError("Forbidden", "spec", detail=POD_UPDATE_FORBIDDEN))
    return errors


def _service_update_errors(old: JSON, new: JSON) -> list[FieldError]:
    old_ip = (old.get("spec") or {}).get("clusterIP")
    new_ip = (new.get("spec") or {}).get("clusterIP")
    if old_ip and new_ip != old_ip:
        return [FieldError("Invalid", "spec.clusterIPs[0]", new_ip, "may not change once set")]
    return []


UPDATE_VALIDATORS: dict[str, Callable[[JSON, JSON], list[FieldError]]] = {
    PODS.plural: _pod_update_errors,
    SERVICES.plural: _service_update_errors,
}


def validate_update(resource: ResourceType, old: JSON, new: JSON) -> list[FieldError]:
    errors = validate(resource, new)
    old_uid, new_uid = old["metadata"].get("uid"), new["metadata"].get("uid")
    if new_uid and new_uid != old_uid:
        errors.append(FieldError("Invalid", "metadata.uid", new_uid, "field is immutable"))
    checker = UPDATE_VALIDATORS.get(resource.plural)
    if checker:
        errors += checker(old, new)
    return errors
