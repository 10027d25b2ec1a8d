"""Pod Security admission, as ``k8s.io/pod-security-admission`` enforces it on pod creation.

A namespace labelled ``pod-security.kubernetes.io/enforce: baseline|restricted`` rejects pods
violating that level with 403 Forbidden and the real message:
``pods "x" is forbidden: violates PodSecurity "restricted:latest": <reason> (<detail>), ...``.
The checks, their wording, their order (baseline check IDs sorted, then restricted ones, with
restricted checks replacing the baseline checks they override) follow the upstream policy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]
Violation = tuple[str, str]  # (forbidden reason, forbidden detail)

ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
ENFORCE_VERSION_LABEL = "pod-security.kubernetes.io/enforce-version"
LEVELS = ("privileged", "baseline", "restricted")

_ALLOWED_VOLUME_SOURCES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
_BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
_SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)


def _pluralize(singular: str, plural: str, count: int) -> str:
    return singular if count == 1 else plural


def _join_quote(items: list[str]) -> str:
    return ", ".join(f'"{item}"' for item in items)


def _containers(spec: JSON) -> Iterator[JSON]:
    """Init containers, then containers, then ephemeral containers, as upstream visits them."""
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(key) or []:
            if isinstance(container, dict):
                yield container


def _security_context(container: JSON) -> JSON:
    context = container.get("securityContext")
    return context if isinstance(context, dict) else {}


def _pod_security_context(spec: JSON) -> JSON:
    context = spec.get("securityContext")
    return context if isinstance(context, dict) else {}


def _names_phrase(noun: str, names: list[str]) -> str:
    return f"{_pluralize(noun, noun + 's', len(names))} {_join_quote(names)}"


# --- baseline checks --------------------------------------------------------------------------


def _app_armor(spec: JSON) -> Violation | None:
    bad: list[str] = []
    for context in [_pod_security_context(spec), *map(_security_context, _containers(spec))]:
        profile = context.get("appArmorProfile") or {}
        kind = profile.get("type")
        if kind and kind not in ("RuntimeDefault", "Localhost"):
            bad.append(f'appArmorProfile.type="{kind}"')
    if bad:
        return "forbidden AppArmor profile", ", ".join(sorted(set(bad)))
    return None


def _capabilities_baseline(spec: JSON) -> Violation | None:
    containers: list[str] = []
    capabilities: set[str] = set()
    for container in _containers(spec):
        added = (_security_context(container).get("capabilities") or {}).get("add") or []
        extra = [capability for capability in added if capability not in _BASELINE_CAPABILITIES]
        if extra:
            containers.append(container.get("name", ""))
            capabilities.update(extra)
    if containers:
        return "non-default capabilities", (
            f"{_names_phrase('container', containers)} must not include "
            f"{_join_quote(sorted(capabilities))} in securityContext.capabilities.add"
        )
    return None


def _host_namespaces(spec: JSON) -> Violation | None:
    used = [f"{key}=true" for key in ("hostNetwork", "hostPID", "hostIPC") if spec.get(key)]
    return ("host namespaces", ", ".join(used)) if used else None


def _host_path_volumes(spec: JSON) -> Violation | None:
    volumes = [
        volume.get("name", "") for volume in spec.get("volumes") or [] if "hostPath" in volume
    ]
    return ("hostPath volumes", _names_phrase("volume", volumes)) if volumes else None


def _host_ports(spec: JSON) -> Violation | None:
    containers: list[str] = []
    ports: set[str] = set()
    for container in _containers(spec):
        used = [
            str(port["hostPort"]) for port in container.get("ports") or [] if port.get("hostPort")
        ]
        if used:
            containers.append(container.get("name", ""))
            ports.update(used)
    if containers:
        return "hostPort", (
            f"{_names_phrase('container', containers)} "
            f"{_pluralize('uses', 'use', len(containers))} "
            f"{_pluralize('hostPort', 'hostPorts', len(ports))} {', '.join(sorted(ports))}"
        )
    return None


def _privileged(spec: JSON) -> Violation | None:
    containers = [
        c.get("name", "") for c in _containers(spec) if _security_context(c).get("privileged")
    ]
    if containers:
        return "privileged", (
            f"{_names_phrase('container', containers)} must not set securityContext.privileged=true"
        )
    return None


def _proc_mount(spec: JSON) -> Violation | None:
    containers: list[str] = []
    for container in _containers(spec):
        mount = _security_context(container).get("procMount")
        if mount not in (None, "Default"):
            containers.append(container.get("name", ""))
    if containers:
        return "procMount", (
            f"{_names_phrase('container', containers)} must not set securityContext.procMount to "
            f'"Unmasked"'
        )
    return None


def _se_linux_options(spec: JSON) -> Violation | None:
    contexts = [_pod_security_context(spec), *map(_security_context, _containers(spec))]
    for context in contexts:
        options = context.get("seLinuxOptions") or {}
        if (
            options.get("user")
            or options.get("role")
            or options.get("type")
            not in (
                None,
                "",
                "container_t",
                "container_init_t",
                "container_kvm_t",
                "container_engine_t",
            )
        ):
            return "seLinuxOptions", "forbidden securityContext.seLinuxOptions"
    return None


def _seccomp_baseline(spec: JSON) -> Violation | None:
    setters: list[str] = []
    if (_pod_security_context(spec).get("seccompProfile") or {}).get("type") == "Unconfined":
        setters.append("pod")
    containers = [
        container.get("name", "")
        for container in _containers(spec)
        if (_security_context(container).get("seccompProfile") or {}).get("type") == "Unconfined"
    ]
    if containers:
        setters.append(_names_phrase("container", containers))
    if setters:
        return "seccompProfile", (
            f"{' and '.join(setters)} must not set securityContext.seccompProfile.type to "
            '"Unconfined"'
        )
    return None


def _sysctls(spec: JSON) -> Violation | None:
    names = [
        sysctl.get("name", "")
        for sysctl in _pod_security_context(spec).get("sysctls") or []
        if sysctl.get("name") not in _SAFE_SYSCTLS
    ]
    return ("forbidden sysctls", ", ".join(names)) if names else None


def _windows_host_process(spec: JSON) -> Violation | None:
    contexts = [_pod_security_context(spec), *map(_security_context, _containers(spec))]
    if any((context.get("windowsOptions") or {}).get("hostProcess") for context in contexts):
        return (
            "hostProcess",
            "pod or containers must not set securityContext.windowsOptions.hostProcess=true",
        )
    return None


# --- restricted checks ------------------------------------------------------------------------


def _allow_privilege_escalation(spec: JSON) -> Violation | None:
    containers = [
        container.get("name", "")
        for container in _containers(spec)
        if _security_context(container).get("allowPrivilegeEscalation") is not False
    ]
    if containers:
        return "allowPrivilegeEscalation != false", (
            f"{_names_phrase('container', containers)} must set "
            "securityContext.allowPrivilegeEscalation=false"
        )
    return None


def _capabilities_restricted(spec: JSON) -> Violation | None:
    missing_drop_all: list[str] = []
    adding_forbidden: list[str] = []
    forbidden: set[str] = set()
    for container in _containers(spec):
        name = container.get("name", "")
        capabilities = _security_context(container).get("capabilities")
        if not isinstance(capabilities, dict):
            missing_drop_all.append(name)
            continue
        if "ALL" not in (capabilities.get("drop") or []):
            missing_drop_all.append(name)
        extra = [c for c in capabilities.get("add") or [] if c != "NET_BIND_SERVICE"]
        if extra:
            adding_forbidden.append(name)
            forbidden.update(extra)
    details: list[str] = []
    if missing_drop_all:
        details.append(
            f"{_names_phrase('container', missing_drop_all)} must set "
            'securityContext.capabilities.drop=["ALL"]'
        )
    if adding_forbidden:
        details.append(
            f"{_names_phrase('container', adding_forbidden)} must not include "
            f"{_join_quote(sorted(forbidden))} in securityContext.capabilities.add"
        )
    return ("unrestricted capabilities", "; ".join(details)) if details else None


def _restricted_volumes(spec: JSON) -> Violation | None:
    volumes: list[str] = []
    kinds: set[str] = set()
    for volume in spec.get("volumes") or []:
        sources = [key for key in volume if key != "name"]
        if any(source in _ALLOWED_VOLUME_SOURCES for source in sources):
            continue
        volumes.append(volume.get("name", ""))
        kinds.update(sources or ["unknown"])
    if volumes:
        return "restricted volume types", (
            f"{_names_phrase('volume', volumes)} {_pluralize('uses', 'use', len(volumes))} "
            f"{_pluralize('restricted volume type', 'restricted volume types', len(kinds))} "
            f"{_join_quote(sorted(kinds))}"
        )
    return None


def _run_as_non_root(spec: JSON) -> Violation | None:
    setters: list[str] = []
    pod_value = _pod_security_context(spec).get("runAsNonRoot")
    if pod_value is False:
        setters.append("pod")
    explicitly_bad: list[str] = []
    implicitly_bad: list[str] = []
    for container in _containers(spec):
        value = _security_context(container).get("runAsNonRoot")
        if value is False:
            explicitly_bad.append(container.get("name", ""))
        elif value is None and pod_value is not True:
            implicitly_bad.append(container.get("name", ""))
    if explicitly_bad:
        setters.append(_names_phrase("container", explicitly_bad))
    if setters:
        return "runAsNonRoot != true", (
            f"{' and '.join(setters)} must not set securityContext.runAsNonRoot=false"
        )
    if implicitly_bad:
        return "runAsNonRoot != true", (
            f"pod or {_names_phrase('container', implicitly_bad)} must set "
            "securityContext.runAsNonRoot=true"
        )
    return None


def _run_as_user(spec: JSON) -> Violation | None:
    setters = ["pod"] if _pod_security_context(spec).get("runAsUser") == 0 else []
    containers = [
        container.get("name", "")
        for container in _containers(spec)
        if _security_context(container).get("runAsUser") == 0
    ]
    if containers:
        setters.append(_names_phrase("container", containers))
    if setters:
        return "runAsUser=0", f"{' and '.join(setters)} must not set runAsUser=0"
    return None


def _seccomp_restricted(spec: JSON) -> Violation | None:
    valid = ("RuntimeDefault", "Localhost")
    setters: list[str] = []
    bad_values: set[str] = set()
    pod_profile = _pod_security_context(spec).get("seccompProfile")
    pod_set = False
    if isinstance(pod_profile, dict):
        if pod_profile.get("type") in valid:
            pod_set = True
        else:
            setters.append("pod")
            bad_values.add(str(pod_profile.get("type", "")))
    explicitly_bad: list[str] = []
    implicitly_bad: list[str] = []
    for container in _containers(spec):
        profile = _security_context(container).get("seccompProfile")
        if isinstance(profile, dict):
            if profile.get("type") not in valid:
                explicitly_bad.append(container.get("name", ""))
                bad_values.add(str(profile.get("type", "")))
        elif not pod_set:
            implicitly_bad.append(container.get("name", ""))
    if explicitly_bad:
        setters.append(_names_phrase("container", explicitly_bad))
    if setters:
        return "seccompProfile", (
            f"{' and '.join(setters)} must not set securityContext.seccompProfile.type to "
            f"{_join_quote(sorted(bad_values))}"
        )
    if implicitly_bad:
        return "seccompProfile", (
            f"pod or {_names_phrase('container', implicitly_bad)} must set "
            'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"'
        )
    return None


@dataclass(frozen=True)
class Check:
    id: str
    level: str
    run: Callable[[JSON], Violation | None]
    overrides: tuple[str, ...] = ()


CHECKS: tuple[Check, ...] = (
    Check("appArmorProfile", "baseline", _app_armor),
    Check("capabilities_baseline", "baseline", _capabilities_baseline),
    Check("hostNamespaces", "baseline", _host_namespaces),
    Check("hostPathVolumes", "baseline", _host_path_volumes),
    Check("hostPorts", "baseline", _host_ports),
    Check("privileged", "baseline", _privileged),
    Check("procMount", "baseline", _proc_mount),
    Check("seLinuxOptions", "baseline", _se_linux_options),
    Check("seccompProfile_baseline", "baseline", _seccomp_baseline),
    Check("sysctls", "baseline", _sysctls),
    Check("windowsHostProcess", "baseline", _windows_host_process),
    Check("allowPrivilegeEscalation", "restricted", _allow_privilege_escalation),
    Check(
        "capabilities_restricted",
        "restricted",
        _capabilities_restricted,
        overrides=("capabilities_baseline",),
    ),
    Check("restrictedVolumes", "restricted", _restricted_volumes, overrides=("hostPathVolumes",)),
    Check("runAsNonRoot", "restricted", _run_as_non_root),
    Check("runAsUser", "restricted", _run_as_user),
    Check(
        "seccompProfile_restricted",
        "restricted",
        _seccomp_restricted,
        overrides=("seccompProfile_baseline",),
    ),
)


def _checks_for(level: str) -> list[Check]:
    if level == "baseline":
        return [check for check in CHECKS if check.level == "baseline"]
    overridden = {
        name for check in CHECKS if check.level == "restricted" for name in check.overrides
    }
    return [check for check in CHECKS if check.id not in overridden]


def pod_security_violation(namespace: JSON, pod: JSON) -> str | None:
    """The ``violates PodSecurity ...`` text if ``namespace`` forbids ``pod``, else None."""
    labels = namespace.get("metadata", {}).get("labels") or {}
    level = labels.get(ENFORCE_LABEL, "privileged")
    if level not in ("baseline", "restricted"):
        return None
    version = labels.get(ENFORCE_VERSION_LABEL) or "latest"
    spec = pod.get("spec") or {}
    problems: list[str] = []
    for check in _checks_for(level):
        violation = check.run(spec)
        if violation:
            reason, detail = violation
            problems.append(f"{reason} ({detail})" if detail else reason)
    if not problems:
        return None
    return f'violates PodSecurity "{level}:{version}": {", ".join(problems)}'
