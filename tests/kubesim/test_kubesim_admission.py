"""Pod Security ``restricted`` admission in kubesim: each rule, its message, and a good pod."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from tests.kubesim_helpers import NAMESPACE, Kube, compliant_pod, error_body

PREFIX = 'pods "p" is forbidden: violates PodSecurity "restricted:latest": '


def rejection(kube: Kube, pod: dict[str, Any]) -> str:
    with pytest.raises(ApiException) as error:
        kube.core.create_namespaced_pod(NAMESPACE, pod)
    assert error.value.status == 403
    body = error_body(error.value)
    assert body["reason"] == "Forbidden"
    assert body["details"] == {"name": "p", "kind": "pods"}
    message: str = body["message"]
    assert message.startswith(PREFIX)
    return message[len(PREFIX) :]


def container(pod: dict[str, Any]) -> dict[str, Any]:
    first: dict[str, Any] = pod["spec"]["containers"][0]
    return first


def test_compliant_pod_is_admitted(kube: Kube) -> None:
    created = kube.core.create_namespaced_pod(NAMESPACE, compliant_pod("p"))
    assert created.metadata.name == "p"


def test_plain_pod_gets_the_full_real_message(kube: Kube) -> None:
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    assert rejection(kube, pod) == (
        'allowPrivilegeEscalation != false (container "c" must set '
        "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "
        '"c" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or '
        'container "c" must set securityContext.runAsNonRoot=true), seccompProfile (pod or '
        'container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or '
        '"Localhost")'
    )


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(pod: dict[str, Any]) -> None:
        target = pod
        keys = path.split(".")
        for key in keys[:-1]:
            target = target[int(key)] if isinstance(target, list) else target.setdefault(key, {})
        target[keys[-1]] = value

    return change


RULES: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    (
        "allowPrivilegeEscalation",
        _set("spec.containers.0.securityContext.allowPrivilegeEscalation", True),
        'allowPrivilegeEscalation != false (container "app" must set '
        "securityContext.allowPrivilegeEscalation=false)",
    ),
    (
        "capabilities not dropped",
        _set("spec.containers.0.securityContext.capabilities", {"drop": ["NET_RAW"]}),
        'unrestricted capabilities (container "app" must set '
        'securityContext.capabilities.drop=["ALL"])',
    ),
    (
        "capability added",
        _set(
            "spec.containers.0.securityContext.capabilities",
            {"drop": ["ALL"], "add": ["SYS_ADMIN"]},
        ),
        'unrestricted capabilities (container "app" must not include "SYS_ADMIN" in '
        "securityContext.capabilities.add)",
    ),
    (
        "runAsNonRoot false",
        _set("spec.securityContext.runAsNonRoot", False),
        "runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false)",
    ),
    (
        "runAsUser 0",
        _set("spec.containers.0.securityContext.runAsUser", 0),
        'runAsUser=0 (container "app" must not set runAsUser=0)',
    ),
    (
        "seccomp Unconfined",
        _set("spec.securityContext.seccompProfile", {"type": "Unconfined"}),
        'seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")',
    ),
    (
        "hostNetwork",
        _set("spec.hostNetwork", True),
        "host namespaces (hostNetwork=true)",
    ),
    (
        "hostPID and hostIPC",
        lambda pod: pod["spec"].update({"hostPID": True, "hostIPC": True}),
        "host namespaces (hostPID=true, hostIPC=true)",
    ),
    (
        "privileged",
        _set("spec.containers.0.securityContext.privileged", True),
        'privileged (container "app" must not set securityContext.privileged=true)',
    ),
    (
        "hostPath volume",
        lambda pod: pod["spec"].update({"volumes": [{"name": "host", "hostPath": {"path": "/"}}]}),
        'restricted volume types (volume "host" uses restricted volume type "hostPath")',
    ),
    (
        "hostPort",
        _set("spec.containers.0.ports", [{"containerPort": 8080, "hostPort": 80}]),
        'hostPort (container "app" uses hostPort 80)',
    ),
]


@pytest.mark.parametrize(("rule", "change", "expected"), RULES, ids=[rule for rule, _, _ in RULES])
def test_each_restricted_rule_rejects_with_its_message(
    kube: Kube, rule: str, change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    pod = compliant_pod("p")
    change(pod)
    assert rejection(kube, pod) == expected


def test_allowed_volume_types_and_net_bind_service_pass(kube: Kube) -> None:
    pod = compliant_pod("p")
    pod["spec"]["volumes"] = [{"name": "scratch", "emptyDir": {}}]
    container(pod)["volumeMounts"] = [{"name": "scratch", "mountPath": "/tmp"}]
    container(pod)["securityContext"]["capabilities"]["add"] = ["NET_BIND_SERVICE"]
    assert kube.core.create_namespaced_pod(NAMESPACE, pod).metadata.name == "p"


def test_unlabelled_namespace_admits_anything(kube: Kube) -> None:
    kube.core.create_namespace({"metadata": {"name": "open"}})
    pod = {
        "metadata": {"name": "p"},
        "spec": {"hostNetwork": True, "containers": [{"name": "c", "image": "nginx"}]},
    }
    assert kube.core.create_namespaced_pod("open", pod).spec.host_network is True


def test_service_account_token_is_mounted_unless_disabled(kube: Kube) -> None:
    plain = compliant_pod("p")
    del plain["spec"]["automountServiceAccountToken"]
    created = kube.core.create_namespaced_pod(NAMESPACE, plain)
    mounts = [m.mount_path for m in created.spec.containers[0].volume_mounts]
    assert "/var/run/secrets/kubernetes.io/serviceaccount" in mounts
    hardened = kube.core.create_namespaced_pod(NAMESPACE, compliant_pod("q"))
    assert not hardened.spec.containers[0].volume_mounts
