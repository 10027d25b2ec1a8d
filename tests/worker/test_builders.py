"""The pure builders: whole objects compared (the JSON the API is sent), names, Pod Security
`restricted`."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from deploy import podsecurity
from functions.worker import builders
from functions.worker.settings import WorkerSettings
from shared.records import Record
from shared.settings import SiteSettings, Template, TemplateSettings

NOW = 1_800_000_100.0
RECORD = Record.from_hash(
    {
        "id": "abcdefgh2345",
        "template": "python",
        "state": "pending",
        "created_at": "1800000000",
        "expires_at": "1800003600.5",
    }
)
PYTHON = TemplateSettings().by_name()["python"]
TEMPLATE_FIELDS: dict[str, Any] = {
    "name": "t",
    "title": "t",
    "description": "t",
    "image": "nginx:1.27",
    "port": 8080,
}
LABELS = {
    "app.kubernetes.io/part-of": "sprout",
    "sprout.dev/container-id": "abcdefgh2345",
    "sprout.dev/template": "python",
}


def metadata(**extra: object) -> dict[str, object]:
    return {
        "name": "sprout-abcdefgh2345",
        "namespace": "sprout",
        "labels": LABELS,
        "annotations": {"sprout.dev/expires-at": "1800003600.500", **extra},
    }


def test_pod_is_the_whole_expected_object() -> None:
    pod = builders.build_pod(RECORD, PYTHON, WorkerSettings(), now=NOW)
    quantities = {"cpu": "250m", "memory": "64Mi", "ephemeral-storage": "256Mi"}
    assert pod == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata(
            **{"kubernetes.io/egress-bandwidth": "10M", "kubernetes.io/ingress-bandwidth": "10M"}
        ),
        "spec": {
            "activeDeadlineSeconds": 3501,  # 3500.5 s left, rounded up
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 5,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 65532,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "app",
                    "image": "python:3.12-alpine",
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["python", "-m", "http.server", "8080", "--directory", "/tmp"],
                    "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
                    "resources": {"requests": quantities, "limits": quantities},
                    "readinessProbe": {
                        "tcpSocket": {"port": "http"},
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
            ],
        },
    }


def test_service_is_the_whole_expected_object() -> None:
    service = builders.build_service(RECORD, PYTHON, WorkerSettings(namespace="play"))
    assert service == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {**metadata(), "namespace": "play"},
        "spec": {
            "type": "ClusterIP",
            "selector": {
                "app.kubernetes.io/part-of": "sprout",
                "sprout.dev/container-id": "abcdefgh2345",
            },
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
        },
    }


def test_ingress_is_the_whole_expected_object() -> None:
    settings = WorkerSettings(ingress_class="traefik", tls_secret="wild-tls")
    ingress = builders.build_ingress(RECORD, settings, SiteSettings(base_domain="play.example"))
    host = "abcdefgh2345.play.example"
    assert ingress == {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": metadata(**{"traefik.ingress.kubernetes.io/router.tls": "true"}),
        "spec": {
            "ingressClassName": "traefik",
            "tls": [{"hosts": [host], "secretName": "wild-tls"}],
            "rules": [
                {
                    "host": host,
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {
                                    "service": {
                                        "name": "sprout-abcdefgh2345",
                                        "port": {"number": 80},
                                    }
                                },
                            }
                        ]
                    },
                }
            ],
        },
    }


def test_args_and_no_command_are_passed_as_given() -> None:
    whoami = TemplateSettings().by_name()["whoami"]
    pod = builders.build_pod(RECORD, whoami, WorkerSettings(), now=NOW)
    (app,) = pod["spec"]["containers"]
    assert app["args"] == ["--port", "8080"] and "command" not in app
    assert app["resources"]["limits"] == {
        "cpu": "100m",
        "memory": "32Mi",
        "ephemeral-storage": "256Mi",
    }


def test_active_deadline_is_the_remaining_lifetime_and_at_least_one_second() -> None:
    settings = WorkerSettings()
    pod = builders.build_pod(RECORD, PYTHON, settings, now=NOW)
    assert pod["spec"]["activeDeadlineSeconds"] == 3501
    late = builders.build_pod(RECORD, PYTHON, settings, now=RECORD.expires_at + 50)
    assert late["spec"]["activeDeadlineSeconds"] == 1


def test_bandwidth_annotations_come_from_the_template() -> None:
    slow = PYTHON.model_copy(update={"egress_bandwidth": "500k", "ingress_bandwidth": "2M"})
    pod = builders.build_pod(RECORD, slow, WorkerSettings(), now=NOW)
    assert pod["metadata"]["annotations"]["kubernetes.io/egress-bandwidth"] == "500k"
    assert pod["metadata"]["annotations"]["kubernetes.io/ingress-bandwidth"] == "2M"
    service = builders.build_service(RECORD, slow, WorkerSettings())
    assert "kubernetes.io/egress-bandwidth" not in service["metadata"]["annotations"]  # pods only


@pytest.mark.parametrize("rate", ["1k", "500k", "10M", "1.5G", "10Mi", "1P"])
def test_a_template_takes_a_bandwidth_the_kubelet_accepts(rate: str) -> None:
    template = Template(**{**TEMPLATE_FIELDS, "egress_bandwidth": rate, "ingress_bandwidth": rate})
    assert (template.egress_bandwidth, template.ingress_bandwidth) == (rate, rate)


@pytest.mark.parametrize("rate", ["", "fast", "999", "10 M", "10m", "2P", "-5M"])
def test_a_template_refuses_a_bandwidth_the_kubelet_would_not(rate: str) -> None:
    with pytest.raises(ValidationError, match="bits per second between 1k and 1P"):
        Template(**{**TEMPLATE_FIELDS, "egress_bandwidth": rate})


def test_every_default_template_makes_a_restricted_sandbox_pod() -> None:
    for template in TemplateSettings().templates:
        record = Record.from_hash({**RECORD.__dict__, "template": template.name, "id": RECORD.id})
        pod = builders.build_pod(record, template, WorkerSettings(), now=NOW)
        # Pod Security `restricted`, plus what a sandbox needs beyond it (limits, no token).
        assert podsecurity.sandbox_violations(pod) == [], template.name
        (app,) = pod["spec"]["containers"]
        assert app["resources"]["requests"] == app["resources"]["limits"]
        annotations = pod["metadata"]["annotations"]
        assert annotations["kubernetes.io/egress-bandwidth"] == template.egress_bandwidth


DNS_1123_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")  # also DNS-1035 (services)


@given(st.from_regex(r"\A[a-z2-7]{12}\Z"))
def test_names_are_dns_labels_and_map_back_to_the_id(container_id: str) -> None:
    name = builders.object_name(container_id)
    assert DNS_1123_LABEL.match(name) and len(name) <= 63
    assert builders.container_id_of(name) == container_id


def test_names_refuse_what_is_not_a_container_id() -> None:
    for bad in ("", "ABCDEFGH2345", "abc", "abcdefgh234567", "abcdefgh234!", "../../etc"):
        assert not builders.valid_container_id(bad)
        try:
            builders.object_name(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} was accepted")
    assert builders.container_id_of("redis-0") is None


def test_templates_with_a_digest_keep_it() -> None:
    pinned = Template(
        name="pinned",
        title="Pinned",
        description="by digest",
        image="nginxinc/nginx-unprivileged@sha256:" + "a" * 64,
        port=8080,
    )
    pod = builders.build_pod(RECORD, pinned, WorkerSettings(), now=NOW)
    assert pod["spec"]["containers"][0]["image"] == pinned.image
