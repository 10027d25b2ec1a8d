"""deploy.podsecurity: the `restricted` profile, control by control."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from deploy import podsecurity
from deploy.podsecurity import PodSecurityError


def good_pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "p",
            "labels": {"app.kubernetes.io/part-of": "sprout", "sprout.dev/container-id": "abc"},
            "annotations": {
                "kubernetes.io/egress-bandwidth": "10M",
                "kubernetes.io/ingress-bandwidth": "10M",
            },
        },
        "spec": {
            "automountServiceAccountToken": False,
            "activeDeadlineSeconds": 3600,
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": "c",
                    "image": "nginx",
                    "resources": {
                        "limits": {"cpu": "250m", "memory": "128Mi", "ephemeral-storage": "1Gi"}
                    },
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
            "volumes": [{"name": "tmp", "emptyDir": {}}],
        },
    }


def controls(pod: dict[str, Any]) -> set[str]:
    return {v.control for v in podsecurity.violations(pod)}


def test_a_restricted_pod_passes() -> None:
    assert podsecurity.violations(good_pod()) == []
    podsecurity.assert_restricted(good_pod())
    assert podsecurity.sandbox_violations(good_pod()) == []


def test_container_level_settings_are_enough() -> None:
    pod = good_pod()
    del pod["spec"]["securityContext"]
    pod["spec"]["containers"][0]["securityContext"].update(
        runAsNonRoot=True, seccompProfile={"type": "Localhost", "localhostProfile": "p.json"}
    )
    assert podsecurity.violations(pod) == []


CASES: list[tuple[str, str, Any]] = [
    ("spec.hostNetwork", "hostNamespaces", True),
    ("spec.hostPID", "hostNamespaces", True),
    ("spec.securityContext.runAsNonRoot", "runAsNonRoot", False),
    ("spec.securityContext.runAsUser", "runAsUser", 0),
    ("spec.securityContext.seccompProfile", "seccompProfile", {"type": "Unconfined"}),
    ("spec.securityContext.sysctls", "sysctls", [{"name": "kernel.msgmax", "value": "1"}]),
    ("spec.securityContext.seLinuxOptions", "seLinuxOptions", {"type": "spc_t"}),
    ("spec.volumes", "hostPathVolumes", [{"name": "h", "hostPath": {"path": "/"}}]),
    ("spec.volumes", "volumeTypes", [{"name": "n", "nfs": {"server": "x", "path": "/"}}]),
    ("c.securityContext.privileged", "privileged", True),
    ("c.securityContext.allowPrivilegeEscalation", "allowPrivilegeEscalation", True),
    ("c.securityContext.capabilities", "capabilities", {"drop": ["NET_RAW"]}),
    ("c.securityContext.capabilities", "capabilities", {"drop": ["ALL"], "add": ["SYS_ADMIN"]}),
    ("c.securityContext.runAsUser", "runAsUser", 0),
    ("c.securityContext.runAsNonRoot", "runAsNonRoot", False),
    ("c.securityContext.procMount", "procMount", "Unmasked"),
    ("c.securityContext.appArmorProfile", "appArmorProfile", {"type": "Unconfined"}),
    ("c.securityContext.seccompProfile", "seccompProfile", {"type": "Unconfined"}),
    ("c.ports", "hostPorts", [{"containerPort": 80, "hostPort": 80}]),
    ("spec.securityContext.windowsOptions", "hostProcess", {"hostProcess": True}),
]


@pytest.mark.parametrize(
    ("field", "control", "value"), CASES, ids=[c[0] + "-" + c[1] for c in CASES]
)
def test_each_control_is_enforced(field: str, control: str, value: Any) -> None:
    pod = good_pod()
    node = pod["spec"]["containers"][0] if field.startswith("c.") else pod
    *parents, last = field.removeprefix("c.").split(".")
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    assert control in controls(pod)
    with pytest.raises(PodSecurityError, match=control):
        podsecurity.assert_restricted(pod)


def test_net_bind_service_may_be_added() -> None:
    pod = good_pod()
    pod["spec"]["containers"][0]["securityContext"]["capabilities"]["add"] = ["NET_BIND_SERVICE"]
    assert podsecurity.violations(pod) == []


def test_unset_non_root_and_seccomp_are_violations() -> None:
    pod = good_pod()
    pod["spec"]["securityContext"] = {}
    assert {"runAsNonRoot", "seccompProfile"} <= controls(pod)


def test_init_and_ephemeral_containers_are_checked() -> None:
    for field in ("initContainers", "ephemeralContainers"):
        pod = good_pod()
        pod["spec"][field] = [{"name": "x", "image": "busybox"}]
        found = podsecurity.violations(pod)
        assert any(f"spec.{field}[0]" in v.path for v in found), field


def test_apparmor_annotation_is_checked() -> None:
    pod = good_pod()
    pod["metadata"]["annotations"] = {
        "container.apparmor.security.beta.kubernetes.io/c": "unconfined"
    }
    assert "appArmorProfile" in controls(pod)


@pytest.mark.parametrize(
    ("kind", "wrap"),
    [
        ("Deployment", lambda t: {"spec": {"template": t}}),
        ("StatefulSet", lambda t: {"spec": {"template": t}}),
        ("Job", lambda t: {"spec": {"template": t}}),
        ("CronJob", lambda t: {"spec": {"jobTemplate": {"spec": {"template": t}}}}),
        ("ScaledJob", lambda t: {"spec": {"jobTargetRef": {"template": t}}}),
        ("Service", lambda t: {"apiVersion": "serving.knative.dev/v1", "spec": {"template": t}}),
    ],
)
def test_templates_of_workloads_are_found(kind: str, wrap: Any) -> None:
    pod = good_pod()
    template = {"metadata": pod["metadata"], "spec": pod["spec"]}
    bad = copy.deepcopy(template)
    bad["spec"]["hostIPC"] = True
    assert podsecurity.violations({"kind": kind, **wrap(template)}) == []
    assert "hostNamespaces" in {
        v.control for v in podsecurity.violations({"kind": kind, **wrap(bad)})
    }


def test_a_core_service_or_configmap_has_no_template() -> None:
    assert list(podsecurity.pod_templates({"kind": "Service", "spec": {"ports": []}})) == []
    with pytest.raises(PodSecurityError, match="no pod template"):
        podsecurity.assert_restricted({"kind": "ConfigMap", "data": {}})


def test_kubernetes_client_models_are_accepted() -> None:
    from kubernetes import client

    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name="p"),
        spec=client.V1PodSpec(
            security_context=client.V1PodSecurityContext(
                run_as_non_root=True,
                seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault"),
            ),
            containers=[
                client.V1Container(
                    name="c",
                    image="nginx",
                    security_context=client.V1SecurityContext(
                        allow_privilege_escalation=False,
                        capabilities=client.V1Capabilities(drop=["ALL"]),
                    ),
                )
            ],
        ),
    )
    assert podsecurity.violations(pod) == []
    assert pod.spec is not None and pod.spec.containers[0].security_context is not None
    pod.spec.containers[0].security_context.allow_privilege_escalation = True
    assert "allowPrivilegeEscalation" in {v.control for v in podsecurity.violations(pod)}


def test_sandbox_rules_add_sprouts_own() -> None:
    pod = good_pod()
    pod["spec"]["automountServiceAccountToken"] = True
    del pod["spec"]["activeDeadlineSeconds"]
    del pod["spec"]["containers"][0]["resources"]["limits"]["ephemeral-storage"]
    del pod["metadata"]["labels"]["sprout.dev/container-id"]
    del pod["metadata"]["annotations"]["kubernetes.io/ingress-bandwidth"]
    messages = {v.message for v in podsecurity.sandbox_violations(pod)}
    assert messages == {
        "must be false",
        "must be set",
        "needs a limit for ephemeral-storage",
        "needs sprout.dev/container-id",
        "needs kubernetes.io/ingress-bandwidth",
    }


def test_violation_reads_well() -> None:
    pod = good_pod()
    pod["spec"]["hostPID"] = True
    (violation,) = podsecurity.violations(pod)
    assert str(violation) == "<pod>.spec.hostPID: hostPID must not be true [hostNamespaces]"
