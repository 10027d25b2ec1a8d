"""kubesim watches through ``kubernetes.watch.Watch``: order, resume, 410 Expired, selectors."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from tests.kubesim_helpers import (
    NAMESPACE,
    Kube,
    compliant_pod,
    new_watch,
    running_kube,
    wait_for,
)

CHURN = {"metadata": {"name": "churn"}, "spec": {"ports": [{"port": 80}]}}


@pytest.fixture(scope="module")
def shared_kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kube]:
    # A short event history (10) so a test can push a resourceVersion out of it.
    with running_kube(tmp_path_factory.mktemp("kubesim"), event_history=10) as kube:
        yield kube


def collect(kube: Kube, count: int, **kwargs: Any) -> list[tuple[str, str, str]]:
    """The first ``count`` events (type, name, resourceVersion) of a pod watch in ``sprout``."""
    events: list[tuple[str, str, str]] = []
    stream = new_watch()
    for event in stream.stream(
        kube.core.list_namespaced_pod, NAMESPACE, timeout_seconds=5, **kwargs
    ):
        obj = event["object"]
        events.append((event["type"], obj.metadata.name, obj.metadata.resource_version))
        if len(events) >= count:
            stream.stop()
    return events


def test_watch_sees_added_modified_deleted_in_order(kube: Kube) -> None:
    start = kube.core.list_namespaced_pod(NAMESPACE).metadata.resource_version
    kube.sim.configure(start_delay=5)  # bound and creating, then nothing until the delete
    kube.core.create_namespaced_pod(NAMESPACE, compliant_pod("w1"))
    wait_for(lambda: kube.core.read_namespaced_pod("w1", NAMESPACE).status.container_statuses)
    kube.core.delete_namespaced_pod("w1", NAMESPACE, grace_period_seconds=0)
    events = collect(kube, 4, resource_version=start)
    assert [(kind, name) for kind, name, _ in events] == [
        ("ADDED", "w1"),
        ("MODIFIED", "w1"),  # the scheduler binds it
        ("MODIFIED", "w1"),  # the kubelet reports ContainerCreating
        ("DELETED", "w1"),
    ]
    versions = [int(version) for _, _, version in events]
    assert versions == sorted(versions) and len(set(versions)) == 4


def test_watch_streams_live_events_and_resumes_from_a_resource_version(kube: Kube) -> None:
    kube.sim.configure(schedule_delay=5)
    received: list[tuple[str, str, str]] = []
    stream = new_watch()
    started = threading.Event()

    def consume() -> None:
        listed = kube.core.list_namespaced_pod(NAMESPACE)
        started.set()
        for event in stream.stream(
            kube.core.list_namespaced_pod,
            NAMESPACE,
            resource_version=listed.metadata.resource_version,
            timeout_seconds=5,
        ):
            obj = event["object"]
            received.append((event["type"], obj.metadata.name, obj.metadata.resource_version))
            if event["type"] == "DELETED":
                stream.stop()

    consumer = threading.Thread(target=consume)
    consumer.start()
    started.wait(5)
    time.sleep(0.05)
    kube.core.create_namespaced_pod(NAMESPACE, compliant_pod("live"))
    kube.core.delete_namespaced_pod("live", NAMESPACE, grace_period_seconds=0)
    consumer.join(10)
    kinds = [kind for kind, _, _ in received]
    assert kinds[0] == "ADDED" and kinds[-1] == "DELETED"
    # Resume from the first event: everything after it is replayed, nothing before it.
    replay = collect(kube, len(received) - 1, resource_version=received[0][2])
    assert replay == received[1:]


def test_watch_without_resource_version_starts_with_current_objects(kube: Kube) -> None:
    kube.core.create_namespaced_pod(NAMESPACE, compliant_pod("existing"))
    events = collect(kube, 1)
    assert events[0][:2] == ("ADDED", "existing")


def test_too_old_resource_version_is_410_expired(kube: Kube) -> None:
    old = kube.core.list_namespaced_pod(NAMESPACE).metadata.resource_version
    for _ in range(15):  # 30 events, well past the 10-event history
        kube.core.create_namespaced_service(NAMESPACE, CHURN)
        kube.core.delete_namespaced_service("churn", NAMESPACE)
    with pytest.raises(ApiException) as error:
        collect(kube, 1, resource_version=old)
    assert error.value.status == 410
    assert "Expired: too old resource version" in str(error.value.reason)


def test_watch_timeout_seconds_ends_the_stream(kube: Kube) -> None:
    began = time.monotonic()
    events = list(new_watch().stream(kube.core.list_namespaced_pod, NAMESPACE, timeout_seconds=1))
    assert events == []
    assert 0.9 <= time.monotonic() - began < 3


def test_label_selector_watch_sees_only_matching_objects(kube: Kube) -> None:
    kube.sim.configure(schedule_delay=5)
    start = kube.core.list_namespaced_pod(NAMESPACE).metadata.resource_version
    kube.core.create_namespaced_pod(NAMESPACE, compliant_pod("other", labels={"pick": "no"}))
    kube.core.create_namespaced_pod(NAMESPACE, compliant_pod("sel", labels={"pick": "me"}))
    kube.core.delete_namespaced_pod("other", NAMESPACE)
    kube.core.delete_namespaced_pod("sel", NAMESPACE)
    events = collect(kube, 2, resource_version=start, label_selector="pick=me")
    assert [(kind, name) for kind, name, _ in events] == [("ADDED", "sel"), ("DELETED", "sel")]


def test_reset_expires_open_watches(kube: Kube) -> None:
    errors: list[ApiException] = []
    version = kube.core.list_namespaced_pod(NAMESPACE).metadata.resource_version

    def consume() -> None:
        try:
            for _ in new_watch().stream(
                kube.core.list_namespaced_pod,
                NAMESPACE,
                resource_version=version,
                timeout_seconds=5,
            ):
                pass
        except ApiException as error:
            errors.append(error)

    consumer = threading.Thread(target=consume)
    consumer.start()
    time.sleep(0.2)
    kube.sim.reset()
    consumer.join(10)
    assert errors and errors[0].status == 410
