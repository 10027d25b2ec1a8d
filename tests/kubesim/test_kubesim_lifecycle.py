"""kubesim's scheduler and kubelet: Running+Ready, and each way a real pod fails."""

from __future__ import annotations

from typing import Any

from tests.kubesim_helpers import NAMESPACE, Kube, compliant_pod, wait_for


def read(kube: Kube, name: str) -> Any:
    return kube.core.read_namespaced_pod(name, NAMESPACE)


def condition(pod: Any, kind: str) -> Any:
    return next((c for c in pod.status.conditions or [] if c.type == kind), None)


def waiting_reason(pod: Any) -> str | None:
    statuses = pod.status.container_statuses or []
    waiting = statuses[0].state.waiting if statuses else None
    return waiting.reason if waiting else None


def test_pod_goes_pending_creating_running_ready(kube: Kube) -> None:
    kube.sim.configure(start_delay=0.3)
    kube.core.create_namespaced_pod(NAMESPACE, compliant_pod("life"))
    creating = wait_for(
        lambda: (p := read(kube, "life")) and waiting_reason(p) == "ContainerCreating" and p
    )
    assert creating.status.phase == "Pending"
    assert condition(creating, "PodScheduled").status == "True"
    assert condition(creating, "Ready").status == "False"
    assert creating.spec.node_name == "sprout-sim-node"
    running = wait_for(lambda: (p := read(kube, "life")).status.phase == "Running" and p)
    assert condition(running, "Ready").status == "True"
    state = running.status.container_statuses[0]
    assert state.ready and state.started and state.state.running.started_at
    assert state.image == "docker.io/library/nginx:1.25"
    assert running.status.start_time


def test_missing_image_ends_in_image_pull_back_off(kube: Kube) -> None:
    kube.core.create_namespaced_pod(
        NAMESPACE, compliant_pod("pull", image="registry.example/doesnotexist:1")
    )
    pulled = wait_for(
        lambda: (p := read(kube, "pull")) and waiting_reason(p) == "ImagePullBackOff" and p
    )
    assert pulled.status.phase == "Pending"
    message = pulled.status.container_statuses[0].state.waiting.message
    assert message.startswith('Back-off pulling image "registry.example/doesnotexist:1"')


def test_err_image_pull_comes_first(kube: Kube) -> None:
    kube.sim.configure(backoff_delay=2)
    kube.core.create_namespaced_pod(NAMESPACE, compliant_pod("pull1", image="doesnotexist"))
    pulled = wait_for(
        lambda: (p := read(kube, "pull1")) and waiting_reason(p) == "ErrImagePull" and p
    )
    assert (
        "failed to pull and unpack image"
        in pulled.status.container_statuses[0].state.waiting.message
    )


def test_invalid_image_reference(kube: Kube) -> None:
    kube.core.create_namespaced_pod(NAMESPACE, compliant_pod("bad-ref", image="Nginx:Latest"))
    pod = wait_for(
        lambda: (p := read(kube, "bad-ref")) and waiting_reason(p) == "InvalidImageName" and p
    )
    assert "invalid reference format" in pod.status.container_statuses[0].state.waiting.message


def test_requests_beyond_node_capacity_are_unschedulable_until_room_frees(kube: Kube) -> None:
    kube.sim.configure(node_cpu="1")
    kube.core.create_namespaced_pod(NAMESPACE, compliant_pod("big", cpu="2"))
    big = wait_for(lambda: (p := read(kube, "big")) and condition(p, "PodScheduled") and p)
    scheduled = condition(big, "PodScheduled")
    assert (scheduled.status, scheduled.reason) == ("False", "Unschedulable")
    assert scheduled.message.startswith("0/1 nodes are available: 1 Insufficient cpu.")
    assert big.status.phase == "Pending"
    kube.core.create_namespaced_pod(NAMESPACE, compliant_pod("fits", cpu="600m"))
    wait_for(lambda: read(kube, "fits").status.phase == "Running")
    kube.core.create_namespaced_pod(NAMESPACE, compliant_pod("waits", cpu="600m"))
    waits = wait_for(lambda: (p := read(kube, "waits")) and condition(p, "PodScheduled") and p)
    assert condition(waits, "PodScheduled").reason == "Unschedulable"
    kube.core.delete_namespaced_pod("fits", NAMESPACE, grace_period_seconds=0)
    wait_for(lambda: read(kube, "waits").status.phase == "Running", what="rescheduling")


def test_crash_with_restart_always_is_crash_loop_back_off(kube: Kube) -> None:
    kube.core.create_namespaced_pod(NAMESPACE, compliant_pod("crash", args=["sprout-sim:crash"]))
    pod = wait_for(
        lambda: (p := read(kube, "crash")) and waiting_reason(p) == "CrashLoopBackOff" and p
    )
    status = pod.status.container_statuses[0]
    assert status.restart_count >= 1
    assert status.last_state.terminated.exit_code == 1
    assert status.last_state.terminated.reason == "Error"
    assert pod.status.phase == "Running"
    assert condition(pod, "Ready").status == "False"


def test_crash_with_restart_never_fails_the_pod(kube: Kube) -> None:
    pod = compliant_pod("crash-never", args=["sprout-sim:crash"], restart_policy="Never")
    kube.core.create_namespaced_pod(NAMESPACE, pod)
    failed = wait_for(lambda: (p := read(kube, "crash-never")).status.phase == "Failed" and p)
    assert failed.status.container_statuses[0].state.terminated.exit_code == 1


def test_crash_after_running_first(kube: Kube) -> None:
    pod = compliant_pod("later", args=["sprout-sim:crash-after=0.3"], restart_policy="Never")
    kube.core.create_namespaced_pod(NAMESPACE, pod)
    wait_for(lambda: read(kube, "later").status.phase == "Running")
    wait_for(lambda: read(kube, "later").status.phase == "Failed")


def test_active_deadline_exceeded_fails_the_pod(kube: Kube) -> None:
    kube.sim.configure(deadline_scale=0.2)
    kube.core.create_namespaced_pod(NAMESPACE, compliant_pod("deadline", deadline=1))
    wait_for(lambda: read(kube, "deadline").status.phase == "Running")
    failed = wait_for(lambda: (p := read(kube, "deadline")).status.phase == "Failed" and p)
    assert failed.status.reason == "DeadlineExceeded"
    assert failed.status.message == "Pod was active on the node longer than the specified deadline"


def test_never_ready_runs_without_readiness(kube: Kube) -> None:
    kube.core.create_namespaced_pod(
        NAMESPACE, compliant_pod("unready", args=["sprout-sim:never-ready"])
    )
    pod = wait_for(lambda: (p := read(kube, "unready")).status.phase == "Running" and p)
    assert condition(pod, "Ready").status == "False"
    assert condition(pod, "Ready").reason == "ContainersNotReady"


def test_graceful_delete_shows_deletion_timestamp_then_removes(kube: Kube) -> None:
    kube.sim.configure(deletion_delay=0.3)
    kube.core.create_namespaced_pod(NAMESPACE, compliant_pod("bye"))
    wait_for(lambda: read(kube, "bye").status.phase == "Running")
    deleting = kube.core.delete_namespaced_pod("bye", NAMESPACE)
    assert deleting.metadata.deletion_timestamp is not None
    assert deleting.metadata.deletion_grace_period_seconds == 30
    assert read(kube, "bye").metadata.deletion_timestamp is not None
    wait_for(lambda: not kube.core.list_namespaced_pod(NAMESPACE).items, what="pod removal")
