"""What a pod's status means for its container: still starting, ready, or failed and why.

Pure functions over the pod as the API returns it (a JSON dict), so the watch never has to
build client model objects. Reasons are sentences a visitor can read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["starting", "ready", "failed", "gone"]

IMAGE_PULL_REASONS = frozenset(
    {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
)
START_FAILURE_REASONS = frozenset(
    {"CreateContainerConfigError", "CreateContainerError", "RunContainerError"}
)

IMAGE_PULL_FAILED = "The image could not be pulled."
UNSCHEDULABLE = "There is no room on the cluster to start it right now."
LIFETIME_ENDED = "Its lifetime ran out."
OUT_OF_MEMORY = "It ran out of memory and was stopped."
POD_DELETED = "Its pod was deleted."
POD_VANISHED = "Its pod vanished from the cluster."


def timed_out(seconds: float) -> str:
    return f"It did not become ready within {seconds:.0f} seconds."


@dataclass(frozen=True)
class PodState:
    kind: Kind
    reason: str = ""


STARTING = PodState("starting")
READY = PodState("ready")
GONE = PodState("gone", POD_DELETED)


def _conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c.get("type", ""): c for c in status.get("conditions") or [] if isinstance(c, dict)}


def _terminated_reason(terminated: dict[str, Any]) -> str:
    reason = terminated.get("reason") or ""
    code = terminated.get("exitCode")
    if reason == "OOMKilled":
        return OUT_OF_MEMORY
    if code == 0:
        return "Its program exited."
    if code is not None:
        return f"It crashed (exit code {code})."
    return "It crashed."


def summarize(pod: dict[str, Any]) -> PodState:
    """The state of a container, read from its pod."""
    metadata = pod.get("metadata") or {}
    if metadata.get("deletionTimestamp"):
        return GONE
    status = pod.get("status") or {}
    phase = status.get("phase") or "Pending"
    containers = [c for c in status.get("containerStatuses") or [] if isinstance(c, dict)]

    if phase == "Failed":
        if status.get("reason") == "DeadlineExceeded":
            return PodState("failed", LIFETIME_ENDED)
        if status.get("reason") == "Evicted":
            return PodState("failed", "The cluster evicted it (it was short of resources).")
        for container in containers:
            terminated = (container.get("state") or {}).get("terminated")
            if terminated:
                return PodState("failed", _terminated_reason(terminated))
        return PodState("failed", "Its pod failed.")
    if phase == "Succeeded":
        return PodState("failed", "Its program exited.")

    for container in containers:
        state = container.get("state") or {}
        waiting = state.get("waiting") or {}
        reason = waiting.get("reason") or ""
        if reason in IMAGE_PULL_REASONS:
            return PodState("failed", IMAGE_PULL_FAILED)
        if reason in START_FAILURE_REASONS:
            return PodState("failed", "It could not be started.")
        if reason == "CrashLoopBackOff":
            last = (container.get("lastState") or {}).get("terminated") or {}
            return PodState("failed", _terminated_reason(last))
        if state.get("terminated"):
            return PodState("failed", _terminated_reason(state["terminated"]))

    conditions = _conditions(status)
    scheduled = conditions.get("PodScheduled", {})
    if scheduled.get("status") == "False" and scheduled.get("reason") == "Unschedulable":
        return PodState("failed", UNSCHEDULABLE)
    if phase == "Running" and conditions.get("Ready", {}).get("status") == "True":
        return READY
    return STARTING
