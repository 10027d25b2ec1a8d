"""Pod Security Standards, profile `restricted`: a checker for pods and pod templates.

Kubernetes enforces the profile on namespaces labelled `pod-security.kubernetes.io/enforce:
restricted` (both of Sprout's namespaces are). This module applies the same controls before
anything reaches a cluster, so a pod the worker builds or a template in deploy/ that would be
rejected fails a test instead; and it is the simulated API server's admission
(deploy/local/kubesim), so the worker's pods meet the one checker on their way in:

    from deploy import podsecurity
    problems = podsecurity.violations(pod)          # a V1Pod, or any manifest as a dict
    podsecurity.assert_restricted(pod)              # raises PodSecurityError listing them
    podsecurity.sandbox_violations(pod)             # restricted + what a visitor's pod needs

`violations` accepts a Pod, a workload with a pod template (Deployment, StatefulSet, DaemonSet,
ReplicaSet, Job, CronJob, Knative Service/Configuration/Revision, KEDA ScaledJob), either as a
plain dict in the API's camelCase form or as an object of the official `kubernetes` client.

The controls are those of the `restricted` profile at Kubernetes v1.31 (it includes
`baseline`). Linux pods only: the Windows-specific relaxations are not applied. Knative's
queue-proxy sidecar is injected by Knative and not part of the checked template.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# baseline: capabilities a container may add (restricted narrows this to NET_BIND_SERVICE).
RESTRICTED_ADDABLE_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
# restricted: the volume types a pod may use.
RESTRICTED_VOLUME_TYPES = frozenset(
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
# baseline: sysctls considered safe.
SAFE_SYSCTLS = frozenset(
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
ALLOWED_SELINUX_TYPES = frozenset(
    {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
)
ALLOWED_SECCOMP_TYPES = frozenset({"RuntimeDefault", "Localhost"})
APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
# Where each kind keeps its pod template (metadata and spec).
TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": (),
    "PodTemplate": ("template",),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
    "Service": ("spec", "template"),  # serving.knative.dev; a core Service has no template
    "Configuration": ("spec", "template"),
    "Revision": (),
    "ScaledJob": ("spec", "jobTargetRef", "template"),
}
SANDBOX_REQUIRED_LIMITS = ("cpu", "memory", "ephemeral-storage")
# Traffic shaping (the CNI bandwidth plugin): a sandbox may not flood others.
SANDBOX_REQUIRED_ANNOTATIONS = ("kubernetes.io/egress-bandwidth", "kubernetes.io/ingress-bandwidth")


@dataclass(frozen=True)
class Violation:
    """One broken control: where (a field path), which control, and what is wrong."""

    path: str
    control: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message} [{self.control}]"


class PodSecurityError(AssertionError):
    """A pod or template does not meet the `restricted` profile."""

    def __init__(self, violations: Sequence[Violation]) -> None:
        self.violations = list(violations)
        super().__init__(
            "not Pod Security `restricted`:\n" + "\n".join(f"  {v}" for v in self.violations)
        )


def as_dict(obj: Any) -> dict[str, Any]:
    """A manifest dict as is; a `kubernetes` client model in the API's camelCase form."""
    if isinstance(obj, Mapping):
        return dict(obj)
    from kubernetes.client import ApiClient  # only when given a client model

    serialized: Any = ApiClient().sanitize_for_serialization(obj)  # type: ignore[no-untyped-call]
    if not isinstance(serialized, dict):
        raise TypeError(f"cannot read {type(obj).__name__} as a Kubernetes object")
    return serialized


def pod_templates(manifest: Any) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """Each pod template in `manifest` as (field path of the template, metadata, spec)."""
    data = as_dict(manifest)
    kind = data.get("kind", "Pod")
    path = TEMPLATE_PATHS.get(kind)
    if path is None or (kind == "Service" and "template" not in data.get("spec", {})):
        return
    node: Any = data
    for key in path:
        node = node.get(key) if isinstance(node, Mapping) else None
    if isinstance(node, Mapping) and isinstance(node.get("spec"), Mapping):
        prefix = ".".join(path) or "<pod>"
        yield prefix, dict(node.get("metadata") or {}), dict(node["spec"])


def violations(manifest: Any) -> list[Violation]:
    """Every `restricted` control broken by any pod template in `manifest`."""
    found: list[Violation] = []
    for prefix, metadata, spec in pod_templates(manifest):
        found.extend(pod_spec_violations(spec, metadata, f"{prefix}.spec"))
    return found


def assert_restricted(manifest: Any) -> None:
    """Raise `PodSecurityError` unless every pod template in `manifest` is `restricted`."""
    if not any(True for _ in pod_templates(manifest)):
        raise PodSecurityError([Violation("<manifest>", "template", "no pod template found")])
    found = violations(manifest)
    if found:
        raise PodSecurityError(found)


def pod_spec_violations(
    spec: Mapping[str, Any], metadata: Mapping[str, Any] | None = None, path: str = "spec"
) -> list[Violation]:
    """The `restricted` (and so `baseline`) controls, applied to one PodSpec."""
    found: list[Violation] = []

    def bad(where: str, control: str, message: str) -> None:
        found.append(Violation(where, control, message))

    pod_sc: Mapping[str, Any] = spec.get("securityContext") or {}
    containers = list(_containers(spec, path))

    # baseline: host namespaces, host ports, HostProcess
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            bad(f"{path}.{field}", "hostNamespaces", f"{field} must not be true")
    if (pod_sc.get("windowsOptions") or {}).get("hostProcess"):
        bad(f"{path}.securityContext.windowsOptions.hostProcess", "hostProcess", "not allowed")

    # baseline: sysctls
    for i, sysctl in enumerate(pod_sc.get("sysctls") or []):
        if sysctl.get("name") not in SAFE_SYSCTLS:
            bad(
                f"{path}.securityContext.sysctls[{i}]",
                "sysctls",
                f"unsafe sysctl {sysctl.get('name')!r}",
            )

    # baseline + restricted: volumes
    for i, volume in enumerate(spec.get("volumes") or []):
        kinds = [key for key in volume if key != "name"]
        for volume_type in kinds:
            if volume_type == "hostPath":
                bad(f"{path}.volumes[{i}]", "hostPathVolumes", "hostPath volumes are forbidden")
            elif volume_type not in RESTRICTED_VOLUME_TYPES:
                bad(f"{path}.volumes[{i}]", "volumeTypes", f"volume type {volume_type!r}")

    # baseline: AppArmor, SELinux, seccomp (pod level)
    _apparmor(metadata or {}, pod_sc, f"{path}.securityContext", bad)
    _selinux(pod_sc, f"{path}.securityContext", bad)
    pod_seccomp = (pod_sc.get("seccompProfile") or {}).get("type")
    if pod_seccomp is not None and pod_seccomp not in ALLOWED_SECCOMP_TYPES:
        bad(
            f"{path}.securityContext.seccompProfile.type",
            "seccompProfile",
            f"must be RuntimeDefault or Localhost, not {pod_seccomp!r}",
        )

    # restricted: runAsNonRoot / runAsUser (pod level)
    pod_non_root = pod_sc.get("runAsNonRoot")
    if pod_non_root is False:
        bad(f"{path}.securityContext.runAsNonRoot", "runAsNonRoot", "must not be false")
    if pod_sc.get("runAsUser") == 0:
        bad(f"{path}.securityContext.runAsUser", "runAsUser", "must not be 0 (root)")

    for where, container in containers:
        sc: Mapping[str, Any] = container.get("securityContext") or {}
        scp = f"{where}.securityContext"
        if sc.get("privileged"):
            bad(f"{scp}.privileged", "privileged", "must not be true")
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            bad(f"{scp}.windowsOptions.hostProcess", "hostProcess", "not allowed")
        for j, port in enumerate(container.get("ports") or []):
            if port.get("hostPort"):
                bad(f"{where}.ports[{j}].hostPort", "hostPorts", "host ports are forbidden")
        if sc.get("procMount", "Default") != "Default":
            bad(f"{scp}.procMount", "procMount", "must be Default")
        _selinux(sc, scp, bad)
        apparmor = (sc.get("appArmorProfile") or {}).get("type")
        if apparmor is not None and apparmor not in ("RuntimeDefault", "Localhost"):
            bad(f"{scp}.appArmorProfile.type", "appArmorProfile", f"{apparmor!r} not allowed")

        if sc.get("allowPrivilegeEscalation") is not False:
            bad(f"{scp}.allowPrivilegeEscalation", "allowPrivilegeEscalation", "must be false")

        non_root = sc.get("runAsNonRoot")
        if non_root is False:
            bad(f"{scp}.runAsNonRoot", "runAsNonRoot", "must not be false")
        elif non_root is None and pod_non_root is not True:
            bad(
                f"{scp}.runAsNonRoot",
                "runAsNonRoot",
                "must be true here or in the pod's securityContext",
            )
        if sc.get("runAsUser") == 0:
            bad(f"{scp}.runAsUser", "runAsUser", "must not be 0 (root)")

        seccomp = (sc.get("seccompProfile") or {}).get("type")
        if seccomp is None:
            if pod_seccomp not in ALLOWED_SECCOMP_TYPES:
                bad(
                    f"{scp}.seccompProfile.type",
                    "seccompProfile",
                    "must be RuntimeDefault or Localhost here or in the pod's securityContext",
                )
        elif seccomp not in ALLOWED_SECCOMP_TYPES:
            bad(
                f"{scp}.seccompProfile.type",
                "seccompProfile",
                f"must be RuntimeDefault or Localhost, not {seccomp!r}",
            )

        capabilities: Mapping[str, Any] = sc.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            bad(f"{scp}.capabilities.drop", "capabilities", "must include ALL")
        for cap in capabilities.get("add") or []:
            if cap not in RESTRICTED_ADDABLE_CAPABILITIES:
                bad(f"{scp}.capabilities.add", "capabilities", f"may not add {cap!r}")
    return found


def sandbox_violations(manifest: Any) -> list[Violation]:
    """`restricted`, plus what Sprout asks of a visitor's pod beyond it.

    No service-account token, CPU/memory/ephemeral-storage limits on every container, an
    `activeDeadlineSeconds`, the labels `app.kubernetes.io/part-of=sprout` and
    `sprout.dev/container-id`, and bandwidth limits (`kubernetes.io/egress-bandwidth` and
    `kubernetes.io/ingress-bandwidth` annotations).
    """
    found = violations(manifest)
    for prefix, metadata, spec in pod_templates(manifest):
        path = f"{prefix}.spec"
        if spec.get("automountServiceAccountToken") is not False:
            found.append(
                Violation(f"{path}.automountServiceAccountToken", "sprout", "must be false")
            )
        if not spec.get("activeDeadlineSeconds"):
            found.append(Violation(f"{path}.activeDeadlineSeconds", "sprout", "must be set"))
        labels = metadata.get("labels") or {}
        if labels.get("app.kubernetes.io/part-of") != "sprout":
            found.append(Violation(f"{prefix}.metadata.labels", "sprout", "needs part-of=sprout"))
        if not labels.get("sprout.dev/container-id"):
            found.append(
                Violation(f"{prefix}.metadata.labels", "sprout", "needs sprout.dev/container-id")
            )
        annotations = metadata.get("annotations") or {}
        for annotation in SANDBOX_REQUIRED_ANNOTATIONS:
            if not annotations.get(annotation):
                found.append(
                    Violation(f"{prefix}.metadata.annotations", "sprout", f"needs {annotation}")
                )
        for where, container in _containers(spec, path):
            limits = (container.get("resources") or {}).get("limits") or {}
            for resource in SANDBOX_REQUIRED_LIMITS:
                if not limits.get(resource):
                    found.append(
                        Violation(
                            f"{where}.resources.limits", "sprout", f"needs a limit for {resource}"
                        )
                    )
    return found


def _containers(spec: Mapping[str, Any], path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for field in CONTAINER_LISTS:
        for i, container in enumerate(spec.get(field) or []):
            yield f"{path}.{field}[{i}]", container


def _selinux(sc: Mapping[str, Any], where: str, bad: Any) -> None:
    options: Mapping[str, Any] = sc.get("seLinuxOptions") or {}
    if options.get("type", "") not in ALLOWED_SELINUX_TYPES:
        bad(f"{where}.seLinuxOptions.type", "seLinuxOptions", f"type {options.get('type')!r}")
    for field in ("user", "role"):
        if options.get(field):
            bad(f"{where}.seLinuxOptions.{field}", "seLinuxOptions", f"{field} must be unset")


def _apparmor(metadata: Mapping[str, Any], pod_sc: Mapping[str, Any], where: str, bad: Any) -> None:
    for key, value in (metadata.get("annotations") or {}).items():
        if key.startswith(APPARMOR_ANNOTATION_PREFIX) and not (
            value == "runtime/default" or str(value).startswith("localhost/")
        ):
            bad(f"metadata.annotations[{key}]", "appArmorProfile", f"{value!r} not allowed")
    profile = (pod_sc.get("appArmorProfile") or {}).get("type")
    if profile is not None and profile not in ("RuntimeDefault", "Localhost"):
        bad(f"{where}.appArmorProfile.type", "appArmorProfile", f"{profile!r} not allowed")
