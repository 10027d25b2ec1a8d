"""kubesim through the official client: Sprout's verbs, Status errors, validation, selectors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from functions.worker import builders
from functions.worker.settings import WorkerSettings
from shared.records import Record
from shared.settings import SiteSettings, TemplateSettings
from tests.kubesim_helpers import NAMESPACE, Kube, compliant_pod, error_body


def service(name: str, selector: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "selector": selector or {"app": name},
            "ports": [{"port": 80, "targetPort": 8080}],
        },
    }


def ingress(name: str, host: str = "c1.sprout.example") -> dict[str, Any]:
    backend = {"service": {"name": "c1-svc", "port": {"number": 80}}}
    return {
        "metadata": {"name": name},
        "spec": {
            "ingressClassName": "traefik",
            "tls": [{"hosts": [host], "secretName": "wildcard-tls"}],
            "rules": [
                {
                    "host": host,
                    "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]},
                }
            ],
        },
    }


def test_pod_create_get_list_delete(kube: Kube) -> None:
    created = kube.core.create_namespaced_pod(NAMESPACE, compliant_pod("web-1"))
    assert created.metadata.uid and created.metadata.creation_timestamp
    assert created.metadata.generation == 1
    assert created.status.phase == "Pending"
    assert created.spec.restart_policy == "Always"  # defaulted like a real API server
    assert created.spec.containers[0].resources.requests == {"cpu": "100m", "memory": "64Mi"}
    fetched = kube.core.read_namespaced_pod("web-1", NAMESPACE)
    assert fetched.metadata.uid == created.metadata.uid
    listed = kube.core.list_namespaced_pod(NAMESPACE)
    assert [pod.metadata.name for pod in listed.items] == ["web-1"]
    assert int(listed.metadata.resource_version) >= int(created.metadata.resource_version)
    deleted = kube.core.delete_namespaced_pod("web-1", NAMESPACE, grace_period_seconds=0)
    assert deleted.metadata.name == "web-1"
    assert kube.core.list_namespaced_pod(NAMESPACE).items == []


def test_service_create_get_list_delete(kube: Kube) -> None:
    first = kube.core.create_namespaced_service(NAMESPACE, service("svc-a"))
    kube.core.create_namespaced_service(NAMESPACE, service("svc-b"))
    assert first.spec.type == "ClusterIP"  # defaulted like a real API server
    assert first.spec.ports[0].protocol == "TCP"
    assert kube.core.read_namespaced_service("svc-a", NAMESPACE).metadata.uid == first.metadata.uid
    names = [s.metadata.name for s in kube.core.list_namespaced_service(NAMESPACE).items]
    assert names == ["svc-a", "svc-b"]
    kube.core.delete_namespaced_service("svc-a", NAMESPACE)
    with pytest.raises(ApiException) as missing:
        kube.core.read_namespaced_service("svc-a", NAMESPACE)
    assert missing.value.status == 404


def test_ingress_create_get_list_delete(kube: Kube) -> None:
    created = kube.networking.create_namespaced_ingress(NAMESPACE, ingress("c1"))
    assert created.spec.rules[0].host == "c1.sprout.example"
    assert (
        kube.networking.read_namespaced_ingress("c1", NAMESPACE).metadata.uid
        == created.metadata.uid
    )
    assert len(kube.networking.list_namespaced_ingress(NAMESPACE).items) == 1
    kube.networking.delete_namespaced_ingress("c1", NAMESPACE)
    assert kube.networking.list_namespaced_ingress(NAMESPACE).items == []


def test_duplicate_create_is_409_already_exists(kube: Kube) -> None:
    kube.core.create_namespaced_pod(NAMESPACE, compliant_pod("dup"))
    with pytest.raises(ApiException) as error:
        kube.core.create_namespaced_pod(NAMESPACE, compliant_pod("dup"))
    assert error.value.status == 409
    body = error_body(error.value)
    assert body["kind"] == "Status" and body["status"] == "Failure"
    assert body["reason"] == "AlreadyExists"
    assert body["message"] == 'pods "dup" already exists'
    assert body["details"] == {"name": "dup", "kind": "pods"}
    assert body["code"] == 409


def test_delete_missing_is_404_not_found(kube: Kube) -> None:
    with pytest.raises(ApiException) as error:
        kube.core.delete_namespaced_pod("ghost", NAMESPACE)
    assert error.value.status == 404
    body = error_body(error.value)
    assert body["reason"] == "NotFound"
    assert body["message"] == 'pods "ghost" not found'
    with pytest.raises(ApiException) as ingress_error:
        kube.networking.delete_namespaced_ingress("ghost", NAMESPACE)
    assert error_body(ingress_error.value)["message"] == (
        'ingresses.networking.k8s.io "ghost" not found'
    )


def test_unknown_namespace_is_404_namespace_not_found(kube: Kube) -> None:
    with pytest.raises(ApiException) as error:
        kube.core.create_namespaced_pod("nowhere", compliant_pod("p"))
    body = error_body(error.value)
    assert error.value.status == 404
    assert body["message"] == 'namespaces "nowhere" not found'
    assert body["details"] == {"name": "nowhere", "kind": "namespaces"}
    assert kube.core.list_namespaced_pod("nowhere").items == []  # a list is just empty


SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
DNS1035_MESSAGE = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)


def test_invalid_pod_name_is_422_with_the_real_message(kube: Kube) -> None:
    with pytest.raises(ApiException) as error:
        kube.core.create_namespaced_pod(NAMESPACE, compliant_pod("Bad_Name"))
    assert error.value.status == 422
    body = error_body(error.value)
    assert body["reason"] == "Invalid"
    assert body["message"] == (
        f'Pod "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": {SUBDOMAIN_MESSAGE}'
    )
    assert body["details"]["kind"] == "Pod"
    assert body["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": f'Invalid value: "Bad_Name": {SUBDOMAIN_MESSAGE}',
            "field": "metadata.name",
        }
    ]


def test_invalid_service_and_ingress_names_are_422(kube: Kube) -> None:
    with pytest.raises(ApiException) as svc_error:
        kube.core.create_namespaced_service(NAMESPACE, service("1abc"))
    assert error_body(svc_error.value)["message"] == (
        f'Service "1abc" is invalid: metadata.name: Invalid value: "1abc": {DNS1035_MESSAGE}'
    )
    with pytest.raises(ApiException) as ing_error:
        kube.networking.create_namespaced_ingress(NAMESPACE, ingress("Nope!"))
    body = error_body(ing_error.value)
    assert ing_error.value.status == 422
    assert body["message"] == (
        f'Ingress.networking.k8s.io "Nope!" is invalid: metadata.name: Invalid value: "Nope!": '
        f"{SUBDOMAIN_MESSAGE}"
    )
    long_name = "a" * 64
    with pytest.raises(ApiException) as long_error:
        kube.core.create_namespaced_service(NAMESPACE, service(long_name))
    assert "must be no more than 63 characters" in error_body(long_error.value)["message"]


def test_missing_image_and_other_field_errors_are_422(kube: Kube) -> None:
    pod = compliant_pod("no-image")
    del pod["spec"]["containers"][0]["image"]
    pod["spec"]["restartPolicy"] = "Sometimes"
    with pytest.raises(ApiException) as error:
        kube.core.create_namespaced_pod(NAMESPACE, pod)
    body = error_body(error.value)
    assert body["message"] == (
        'Pod "no-image" is invalid: [spec.containers[0].image: Required value, '
        'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", '
        '"OnFailure", "Never"]'
    )
    fields = {cause["field"]: cause["reason"] for cause in body["details"]["causes"]}
    assert fields == {
        "spec.containers[0].image": "FieldValueRequired",
        "spec.restartPolicy": "FieldValueNotSupported",
    }
    bad_label = compliant_pod("bad-label", labels={"sprout.dev/container-id": "not valid!"})
    with pytest.raises(ApiException) as label_error:
        kube.core.create_namespaced_pod(NAMESPACE, bad_label)
    assert (
        'metadata.labels: Invalid value: "not valid!"' in error_body(label_error.value)["message"]
    )


def test_a_quantity_that_does_not_parse_is_400(kube: Kube) -> None:
    pod = compliant_pod("lots", memory="lots")
    with pytest.raises(ApiException) as error:
        kube.core.create_namespaced_pod(NAMESPACE, pod)
    assert error.value.status == 400
    assert error_body(error.value)["message"].startswith("quantities must match the regular")


def test_sprouts_own_objects_are_accepted(kube: Kube) -> None:
    record = Record.from_hash({"id": "abcdefgh2345", "template": "nginx", "expires_at": "600"})
    template = TemplateSettings().by_name()["nginx"]
    settings = WorkerSettings(namespace=NAMESPACE)
    pod = kube.core.create_namespaced_pod(
        NAMESPACE, builders.build_pod(record, template, settings, now=0)
    )
    kube.core.create_namespaced_service(
        NAMESPACE, builders.build_service(record, template, settings)
    )
    kube.networking.create_namespaced_ingress(
        NAMESPACE, builders.build_ingress(record, settings, SiteSettings())
    )
    assert pod.spec.restart_policy == "Never"
    selected = kube.core.list_namespaced_pod(NAMESPACE, label_selector=builders.SELECTOR)
    assert [p.metadata.name for p in selected.items] == ["sprout-abcdefgh2345"]


def test_wrong_token_is_401(kube: Kube) -> None:
    status, _, body = kube.raw("GET", f"/api/v1/namespaces/{NAMESPACE}/pods", token="wrong")
    assert status == 401
    assert json.loads(body)["reason"] == "Unauthorized"


def test_unsupported_method_is_405_and_unknown_path_404(kube: Kube) -> None:
    status, _, body = kube.raw("PUT", f"/api/v1/namespaces/{NAMESPACE}/pods", b"{}")
    assert status == 405
    assert json.loads(body)["reason"] == "MethodNotAllowed"
    kube.core.create_namespaced_pod(NAMESPACE, compliant_pod("fixed"))
    with pytest.raises(ApiException) as patch:  # Sprout never changes an object it made
        kube.core.patch_namespaced_pod("fixed", NAMESPACE, {"metadata": {"labels": {"a": "b"}}})
    assert patch.value.status == 405
    status, _, body = kube.raw("GET", "/api/v1/namespaces/sprout/deployments")
    assert status == 404
    assert json.loads(body)["kind"] == "Status"


def test_malformed_body_is_400(kube: Kube) -> None:
    status, _, body = kube.raw("POST", f"/api/v1/namespaces/{NAMESPACE}/pods", b"{not json")
    assert status == 400
    assert json.loads(body)["reason"] == "BadRequest"
    wrong_type = json.dumps({"metadata": {"name": "x"}, "spec": {"containers": "oops"}}).encode()
    status, _, _ = kube.raw("POST", f"/api/v1/namespaces/{NAMESPACE}/pods", wrong_type)
    assert status == 400


def test_label_selectors(kube: Kube) -> None:
    for name, labels in [
        ("a", {"app": "web", "tier": "front"}),
        ("b", {"app": "web", "tier": "back"}),
        ("c", {"app": "db"}),
        ("d", {}),
    ]:
        kube.core.create_namespaced_pod(NAMESPACE, compliant_pod(name, labels=labels))

    def names(selector: str) -> list[str]:
        pods = kube.core.list_namespaced_pod(NAMESPACE, label_selector=selector).items
        return [pod.metadata.name for pod in pods]

    assert names("app=web") == ["a", "b"]
    assert names("app==db") == ["c"]
    assert names("app!=web") == ["c", "d"]
    assert names("tier in (front, back)") == ["a", "b"]
    assert names("app notin (web)") == ["c", "d"]
    assert names("tier") == ["a", "b"]
    assert names("!tier") == ["c", "d"]
    assert names("app=web,tier=back") == ["b"]
    with pytest.raises(ApiException) as error:
        names("app in (web")
    assert error.value.status == 400


def test_field_selectors_are_not_served(kube: Kube) -> None:
    with pytest.raises(ApiException) as error:
        kube.core.list_namespaced_pod(NAMESPACE, field_selector="metadata.name=one")
    assert error.value.status == 400
    assert error_body(error.value)["message"] == "field label not supported: metadata.name"


def test_resource_versions_increase_with_every_write(kube: Kube) -> None:
    kube.sim.configure(schedule_delay=5)  # no scheduler writes in between
    first = kube.core.create_namespaced_service(NAMESPACE, service("one"))
    second = kube.core.create_namespaced_service(NAMESPACE, service("two"))
    assert int(second.metadata.resource_version) == int(first.metadata.resource_version) + 1
    kube.core.delete_namespaced_service("one", NAMESPACE)
    listed = kube.core.list_namespaced_service(NAMESPACE)
    assert int(listed.metadata.resource_version) == int(second.metadata.resource_version) + 1
