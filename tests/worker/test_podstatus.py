"""Reading a pod's status into starting / ready / failed (with a readable reason)."""

from __future__ import annotations

from typing import Any

import pytest

from functions.worker import podstatus
from functions.worker.podstatus import PodState, summarize


def pod(phase: str = "Pending", **status: Any) -> dict[str, Any]:
    return {"metadata": {"name": "sprout-x"}, "status": {"phase": phase, **status}}


def waiting(reason: str) -> list[dict[str, Any]]:
    return [{"name": "app", "ready": False, "state": {"waiting": {"reason": reason}}}]


def terminated(code: int, reason: str = "Error") -> list[dict[str, Any]]:
    return [{"name": "app", "state": {"terminated": {"exitCode": code, "reason": reason}}}]


READY = [{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}]


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (pod(), podstatus.STARTING),
        ({"metadata": {}}, podstatus.STARTING),
        (pod(containerStatuses=waiting("ContainerCreating")), podstatus.STARTING),
        (pod("Running", conditions=[{"type": "Ready", "status": "False"}]), podstatus.STARTING),
        (pod("Running", conditions=READY), podstatus.READY),
        (
            pod(containerStatuses=waiting("ErrImagePull")),
            PodState("failed", podstatus.IMAGE_PULL_FAILED),
        ),
        (
            pod(containerStatuses=waiting("ImagePullBackOff")),
            PodState("failed", podstatus.IMAGE_PULL_FAILED),
        ),
        (
            pod(containerStatuses=waiting("InvalidImageName")),
            PodState("failed", podstatus.IMAGE_PULL_FAILED),
        ),
        (
            pod(containerStatuses=waiting("CreateContainerConfigError")),
            PodState("failed", "It could not be started."),
        ),
        (
            pod(
                conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]
            ),
            PodState("failed", podstatus.UNSCHEDULABLE),
        ),
        (pod("Failed", reason="DeadlineExceeded"), PodState("failed", podstatus.LIFETIME_ENDED)),
        (
            pod("Failed", reason="Evicted"),
            PodState("failed", "The cluster evicted it (it was short of resources)."),
        ),
        (
            pod("Failed", containerStatuses=terminated(1)),
            PodState("failed", "It crashed (exit code 1)."),
        ),
        (
            pod("Failed", containerStatuses=terminated(137, "OOMKilled")),
            PodState("failed", podstatus.OUT_OF_MEMORY),
        ),
        (pod("Failed"), PodState("failed", "Its pod failed.")),
        (
            pod("Succeeded", containerStatuses=terminated(0, "Completed")),
            PodState("failed", "Its program exited."),
        ),
        (
            pod("Running", containerStatuses=terminated(2)),
            PodState("failed", "It crashed (exit code 2)."),
        ),
        (
            pod(
                "Running",
                containerStatuses=[
                    {
                        "name": "app",
                        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                        "lastState": {"terminated": {"exitCode": 3}},
                    }
                ],
            ),
            PodState("failed", "It crashed (exit code 3)."),
        ),
        (
            {
                "metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"},
                "status": {"phase": "Running", "conditions": READY},
            },
            podstatus.GONE,
        ),
    ],
)
def test_summarize(obj: dict[str, Any], expected: PodState) -> None:
    assert summarize(obj) == expected


def test_reasons_are_sentences() -> None:
    for reason in (
        podstatus.IMAGE_PULL_FAILED,
        podstatus.UNSCHEDULABLE,
        podstatus.LIFETIME_ENDED,
        podstatus.POD_VANISHED,
        podstatus.timed_out(180),
    ):
        assert reason[0].isupper() and reason.endswith(".")
    assert podstatus.timed_out(180) == "It did not become ready within 180 seconds."
