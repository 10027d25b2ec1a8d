"""Pod Security ``restricted`` admission in kubesim: deploy.podsecurity decides, 403 tells why."""

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


def test_plain_pod_is_refused_with_each_control_and_field(kube: Kube) -> None:
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    context = "spec.containers[0].securityContext"
    assert rejection(kube, pod) == (
        f"allowPrivilegeEscalation ({context}.allowPrivilegeEscalation: must be false), "
        f"runAsNonRoot ({context}.runAsNonRoot: must be true here or in the pod's "
        "securityContext), "
        f"seccompProfile ({context}.seccompProfile.type: must be RuntimeDefault or Localhost "
        "here or in the pod's securityContext), "
        f"capabilities ({context}.capabilities.drop: must include ALL)"
    )
    with pytest.raises(ApiException) as missing:
        kube.core.read_namespaced_pod("p", NAMESPACE)
    assert missing.value.status == 404  # nothing was stored


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
        "capability added",
        _set(
            "spec.containers.0.securityContext.capabilities",
            {"drop": ["ALL"], "add": ["SYS_ADMIN"]},
        ),
        "capabilities (spec.containers[0].securityContext.capabilities.add: "
        "may not add 'SYS_ADMIN')",
    ),
    (
        "runAsUser 0",
        _set("spec.containers.0.securityContext.runAsUser", 0),
        "runAsUser (spec.containers[0].securityContext.runAsUser: must not be 0 (root))",
    ),
    (
        "hostNetwork",
        _set("spec.hostNetwork", True),
        "hostNamespaces (spec.hostNetwork: hostNetwork must not be true)",
    ),
    (
        "privileged",
        _set("spec.containers.0.securityContext.privileged", True),
        "privileged (spec.containers[0].securityContext.privileged: must not be true)",
    ),
    (
        "hostPath volume",
        lambda pod: pod["spec"].update({"volumes": [{"name": "host", "hostPath": {"path": "/"}}]}),
        "hostPathVolumes (spec.volumes[0]: hostPath volumes are forbidden)",
    ),
]


@pytest.mark.parametrize(("rule", "change", "expected"), RULES, ids=[rule for rule, _, _ in RULES])
def test_a_broken_control_is_refused_with_its_reason(
    kube: Kube, rule: str, change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    pod = compliant_pod("p")
    change(pod)
    assert rejection(kube, pod) == expected


def test_allowed_volume_types_and_net_bind_service_pass(kube: Kube) -> None:
    pod = compliant_pod("p")
    pod["spec"]["volumes"] = [{"name": "scratch", "emptyDir": {}}]
    container(pod)["securityContext"]["capabilities"]["add"] = ["NET_BIND_SERVICE"]
    assert kube.core.create_namespaced_pod(NAMESPACE, pod).metadata.name == "p"


def test_invalid_pod_is_422_before_admission(kube: Kube) -> None:
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}}
    with pytest.raises(ApiException) as error:
        kube.core.create_namespaced_pod(NAMESPACE, pod)
    assert error.value.status == 422  # validation answers first, as on a cluster
