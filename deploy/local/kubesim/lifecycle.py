"""The scheduler and kubelet of one simulated node, driving pods through their real lifecycle.

Mirrors what a watcher of a real cluster sees: a new pod is Pending; the scheduler binds it
(``spec.nodeName``, PodScheduled=True) or marks it Unschedulable ("0/1 nodes are available:
1 Insufficient cpu. ...") when the node's free requests do not fit; the kubelet reports
ContainerCreating, then Running with Ready=True, podIP, hostIP and startTime. Failures happen
the way clusters fail, and tests trigger them deterministically:

* an image containing ``doesnotexist`` -> ErrImagePull, then ImagePullBackOff (pod stays
  Pending); an unparseable image reference -> InvalidImageName;
* ``sprout-sim:crash`` in a container's command/args -> exit code 1, then phase Failed
  (restartPolicy Never, as Sprout's pods have) or CrashLoopBackOff (Always/OnFailure: the
  container would only crash again, so it stays backing off); ``sprout-sim:crash-after=S``
  runs S seconds first; ``sprout-sim:complete`` exits 0; ``sprout-sim:oom`` is OOMKilled;
* ``sprout-sim:never-ready`` runs but never passes readiness;
* ``sprout-sim:start-delay=S`` overrides the start delay for that pod;
* ``spec.activeDeadlineSeconds`` elapsed -> phase Failed, reason DeadlineExceeded.

Graceful deletion ends with the pod's removal once the kubelet has stopped it. The loop reacts
to store events (like controllers watching the API) and runs timed steps on one background
thread; every change goes through the store and so reaches watchers.
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import itertools
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

from .config import SimConfig
from .quantity import QuantityError, parse_quantity
from .resources import PODS
from .store import Snapshot, Store, WatchEvent, clone, now_timestamp, parse_timestamp

JSON = dict[str, Any]

NODE_NAME = "sprout-sim-node"
TERMINAL_PHASES = ("Succeeded", "Failed")

Outcome = Literal["run", "crash", "complete", "oom", "pull_error", "invalid_image"]

_REFERENCE = re.compile(
    r"^(?:(?:[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*(?::[0-9]+)?)/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)
_FLAG_HOOK = re.compile(r"sprout-sim:(crash|complete|oom|never-ready)(?![-\w=])")
_VALUE_HOOK = re.compile(r"sprout-sim:(crash-after|start-delay)=([0-9]+(?:\.[0-9]+)?)")


def normalize_image(image: str) -> str:
    """``nginx`` -> ``docker.io/library/nginx:latest``, as container runtimes report images."""
    name, _, digest = image.partition("@")
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        domain, path = first, rest
    else:
        domain, path = "docker.io", name
    if domain == "docker.io" and "/" not in path:
        path = "library/" + path
    if not digest and ":" not in path.rsplit("/", 1)[-1]:
        path += ":latest"
    return f"{domain}/{path}" + (f"@{digest}" if digest else "")


def _terminated(container_status: JSON, code: int, reason: str, started_at: str) -> None:
    """Ends the container of ``container_status`` with exit ``code``."""
    ended = {
        "exitCode": code,
        "reason": reason,
        "startedAt": started_at,
        "finishedAt": now_timestamp(),
    }
    container_status.update(state={"terminated": ended}, ready=False, started=False)


@dataclass(frozen=True)
class ContainerPlan:
    """What the simulated runtime will do with one container, read from its spec."""

    name: str
    image: str
    outcome: Outcome
    never_ready: bool
    crash_after: float | None
    start_delay: float | None

    @classmethod
    def of(cls, container: JSON) -> ContainerPlan:
        words = (container.get("command") or []) + (container.get("args") or [])
        text = " ".join(map(str, words))
        flags = set(_FLAG_HOOK.findall(text))
        values = dict(_VALUE_HOOK.findall(text))
        image = str(container.get("image") or "")
        outcome: Outcome = "run"
        if not _REFERENCE.match(image):
            outcome = "invalid_image"
        elif "doesnotexist" in image:
            outcome = "pull_error"
        elif "crash" in flags:
            outcome = "crash"
        elif "oom" in flags:
            outcome = "oom"
        elif "complete" in flags:
            outcome = "complete"
        return cls(
            name=str(container.get("name", "")),
            image=image,
            outcome=outcome,
            never_ready="never-ready" in flags,
            crash_after=float(values["crash-after"]) if "crash-after" in values else None,
            start_delay=float(values["start-delay"]) if "start-delay" in values else None,
        )

    def pull_error_message(self) -> str:
        ref = normalize_image(self.image)
        return (
            f'failed to pull and unpack image "{ref}": failed to resolve reference "{ref}": '
            "pull access denied, repository does not exist or may require authorization: "
            "server message: insufficient_scope: authorization failed"
        )

    def invalid_image_message(self) -> str:
        reason = "repository name must be lowercase" if self.image.lower() != self.image else ""
        return (
            f'Failed to apply default image tag "{self.image}": couldn\'t parse image reference '
            f'"{self.image}": invalid reference format' + (f": {reason}" if reason else "")
        )


def pod_requests(pod: JSON) -> tuple[Fraction, Fraction]:
    """The pod's CPU and memory requests, summed over its containers."""
    cpu, memory = Fraction(0), Fraction(0)
    for container in (pod.get("spec") or {}).get("containers") or []:
        requests = (container.get("resources") or {}).get("requests") or {}
        try:
            cpu += parse_quantity(requests.get("cpu", 0))
            memory += parse_quantity(requests.get("memory", 0))
        except QuantityError:
            continue
    return cpu, memory


def _ever_started(status: JSON) -> bool:
    state = status.get("state") or {}
    return bool(
        status.get("restartCount")
        or "running" in state
        or "terminated" in state
        or (status.get("lastState") or {})
    )


def compute_phase(statuses: list[JSON], restart_policy: str) -> str:
    """The pod phase from its container states, following the kubelet's ``getPhase``."""
    if not statuses or not all(_ever_started(status) for status in statuses):
        return "Pending"
    if restart_policy == "Always":
        return "Running"
    states = [status.get("state") or {} for status in statuses]
    if any("running" in state or "waiting" in state for state in states):
        return "Running"
    codes = [state["terminated"].get("exitCode", 0) for state in states]
    return "Succeeded" if all(code == 0 for code in codes) else "Failed"


_CONDITION_ORDER = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady")


def set_condition(
    status: JSON, kind: str, value: bool, reason: str = "", message: str = ""
) -> None:
    conditions: list[JSON] = status.setdefault("conditions", [])
    text = "True" if value else "False"
    for condition in conditions:
        if condition["type"] == kind:
            if condition["status"] != text:
                condition["lastTransitionTime"] = now_timestamp()
            condition["status"] = text
            break
    else:
        condition = {
            "type": kind,
            "status": text,
            "lastProbeTime": None,
            "lastTransitionTime": now_timestamp(),
        }
        conditions.append(condition)
    condition.pop("reason", None)
    condition.pop("message", None)
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    order = {kind: index for index, kind in enumerate(_CONDITION_ORDER)}
    conditions.sort(key=lambda c: order.get(c["type"], 99))  # PodScheduled last, as kubectl shows


def refresh_readiness(pod: JSON) -> None:
    """Recomputes phase, Ready and ContainersReady from the container statuses."""
    status = pod["status"]
    statuses = status.get("containerStatuses") or []
    if status.get("phase") not in TERMINAL_PHASES:
        status["phase"] = compute_phase(statuses, pod["spec"].get("restartPolicy", "Always"))
    phase = status["phase"]
    if phase in TERMINAL_PHASES:
        reason = "PodCompleted" if phase == "Succeeded" else "PodFailed"
        set_condition(status, "Ready", False, reason)
        set_condition(status, "ContainersReady", False, reason)
        return
    unready = [s["name"] for s in statuses if not s.get("ready")]
    if unready:
        message = f"containers with unready status: [{' '.join(unready)}]"
        set_condition(status, "Ready", False, "ContainersNotReady", message)
        set_condition(status, "ContainersReady", False, "ContainersNotReady", message)
    else:
        set_condition(status, "Ready", True)
        set_condition(status, "ContainersReady", True)


class Timers:
    """A heap of due actions run in order on one thread."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._sequence = itertools.count()
        self._condition = threading.Condition()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def add(self, delay: float, action: Callable[[], None]) -> None:
        with self._condition:
            heapq.heappush(
                self._heap, (time.monotonic() + max(delay, 0.0), next(self._sequence), action)
            )
            self._condition.notify()

    def clear(self) -> None:
        with self._condition:
            self._heap.clear()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="kubesim-lifecycle", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._condition:
            self._stopped = True
            self._condition.notify()
        if self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._stopped:
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    if wait is not None and wait <= 0:
                        break
                    self._condition.wait(wait)
                if self._stopped:
                    return
                _, _, action = heapq.heappop(self._heap)
            action()


class Cluster:
    """Scheduler + kubelet of a one-node cluster over the store."""

    def __init__(self, store: Store, config: Callable[[], SimConfig]) -> None:
        self.store = store
        self.config = config
        self.timers = Timers()
        # Requests held by bound, non-terminal pods (uid -> (cpu, memory)).
        self._bound: dict[str, tuple[Fraction, Fraction]] = {}
        self._used_cpu = self._used_memory = Fraction(0)
        # Pods the scheduler could not place yet, in arrival order (uid -> (namespace, name)).
        self._unschedulable: dict[str, tuple[str, str]] = {}
        store.add_listener(self._on_event)

    def start(self) -> None:
        self.timers.start()

    def stop(self) -> None:
        self.timers.stop()

    def reset(self) -> None:
        with self.store.lock:
            self.timers.clear()
            self._bound.clear()
            self._used_cpu = self._used_memory = Fraction(0)
            self._unschedulable.clear()

    # --- reacting to writes ------------------------------------------------------------------

    def _on_event(self, event: WatchEvent) -> None:
        if event.snapshot.resource is not PODS:
            return
        pod = event.snapshot.obj
        meta = pod["metadata"]
        uid = meta["uid"]
        if event.type == "ADDED":
            self._later(self.config().schedule_delay, pod, self._schedule)
        holds = (
            event.type != "DELETED"
            and bool(pod["spec"].get("nodeName"))
            and pod["status"].get("phase") not in TERMINAL_PHASES
        )
        if holds and uid not in self._bound:
            self._hold(uid, pod)
        elif not holds and uid in self._bound:
            cpu, memory = self._bound.pop(uid)
            self._used_cpu -= cpu
            self._used_memory -= memory
            self._retry_unschedulable()
        if event.type == "DELETED":
            self._unschedulable.pop(uid, None)
        elif meta.get("deletionTimestamp") and not (
            event.previous and event.previous.obj["metadata"].get("deletionTimestamp")
        ):  # a graceful delete began: the kubelet stops the pod, then it goes
            grace = float(meta.get("deletionGracePeriodSeconds") or 0)
            self._later(min(grace, self.config().deletion_delay), pod, self._finish_deletion)

    def _hold(self, uid: str, pod: JSON) -> None:
        cpu, memory = self._bound[uid] = pod_requests(pod)
        self._used_cpu += cpu
        self._used_memory += memory

    def _later(self, delay: float, pod: JSON, step: Callable[[JSON], None]) -> None:
        """Runs ``step`` on the then-current version of ``pod`` (if it still exists)."""
        meta = pod["metadata"]
        namespace, name, uid = meta["namespace"], meta["name"], meta["uid"]

        def run() -> None:
            with self.store.lock:
                snapshot = self.store.get(PODS, namespace, name)
                if snapshot is None or snapshot.obj["metadata"]["uid"] != uid:
                    return
                step(clone(snapshot.obj))

        self.timers.add(delay, run)

    def _save(self, pod: JSON) -> Snapshot:
        refresh_readiness(pod)
        return self.store.put(PODS, pod, "MODIFIED")

    @staticmethod
    def _active(pod: JSON) -> bool:
        """Still running on the node: not finished and not being stopped."""
        return pod["status"].get("phase") not in TERMINAL_PHASES and not pod["metadata"].get(
            "deletionTimestamp"
        )

    # --- scheduler ---------------------------------------------------------------------------

    def _retry_unschedulable(self) -> None:
        for uid, (namespace, name) in list(self._unschedulable.items()):
            snapshot = self.store.get(PODS, namespace, name)
            if snapshot is None or snapshot.obj["metadata"]["uid"] != uid:
                self._unschedulable.pop(uid, None)
                continue
            self._later(0, snapshot.obj, self._schedule)

    def capacity_changed(self) -> None:
        with self.store.lock:
            self._retry_unschedulable()

    def _insufficient(self, pod: JSON) -> list[str]:
        config = self.config()
        cpu, memory = pod_requests(pod)
        reasons: list[str] = []
        if cpu and self._used_cpu + cpu > parse_quantity(config.node_cpu):
            reasons.append("Insufficient cpu")
        if memory and self._used_memory + memory > parse_quantity(config.node_memory):
            reasons.append("Insufficient memory")
        if len(self._bound) + 1 > config.node_pods:
            reasons.append("Too many pods")
        return reasons

    def _schedule(self, pod: JSON) -> None:
        if pod["spec"].get("nodeName") or pod["metadata"].get("deletionTimestamp"):
            return
        uid, status = pod["metadata"]["uid"], pod["status"]
        reasons = self._insufficient(pod)
        if reasons:
            self._unschedulable[uid] = (pod["metadata"]["namespace"], pod["metadata"]["name"])
            counted = ", ".join(sorted(f"1 {reason}" for reason in reasons))
            message = (
                f"0/1 nodes are available: {counted}. preemption: 0/1 nodes are available: "
                "1 No preemption victims found for incoming pod."
            )
            conditions = {c["type"]: c for c in status.get("conditions") or []}
            if conditions.get("PodScheduled", {}).get("message") != message:
                set_condition(status, "PodScheduled", False, "Unschedulable", message)
                self.store.put(PODS, pod, "MODIFIED")
            return
        self._unschedulable.pop(uid, None)
        # The binding: the scheduler sets nodeName and PodScheduled in one write...
        pod["spec"]["nodeName"] = NODE_NAME
        set_condition(status, "PodScheduled", True)
        self.store.put(PODS, pod, "MODIFIED")
        # ...then the kubelet admits it and reports its containers as being created.
        pod = clone(pod)
        status = pod["status"]
        status["startTime"] = now_timestamp()
        set_condition(status, "PodReadyToStartContainers", False)
        set_condition(status, "Initialized", True)
        status["containerStatuses"] = [
            {
                "name": container["name"],
                "state": {"waiting": {"reason": "ContainerCreating"}},
                "lastState": {},
                "ready": False,
                "restartCount": 0,
                "image": container.get("image", ""),
                "imageID": "",  # required by clients' models; known once pulled
                "started": False,
            }
            for container in pod["spec"]["containers"]
        ]
        self._save(pod)
        self._after_admission(pod)

    def _after_admission(self, pod: JSON, elapsed: float = 0.0) -> None:
        """Timers that start once the kubelet owns the pod: container start and the deadline."""
        config = self.config()
        plans = [ContainerPlan.of(c) for c in pod["spec"]["containers"]]
        delays = [plan.start_delay for plan in plans if plan.start_delay is not None]
        start_delay = max(delays) if delays else config.start_delay
        self._later(max(start_delay - elapsed, 0), pod, self._start_containers)
        deadline = pod["spec"].get("activeDeadlineSeconds")
        if deadline:
            self._later(deadline * config.deadline_scale - elapsed, pod, self._deadline_exceeded)

    # --- kubelet -----------------------------------------------------------------------------

    def _start_containers(self, pod: JSON) -> None:
        statuses = pod["status"].get("containerStatuses") or []
        creating = [
            s
            for s in statuses
            if (s["state"].get("waiting") or {}).get("reason") == "ContainerCreating"
        ]
        if not self._active(pod) or not creating:
            return
        set_condition(pod["status"], "PodReadyToStartContainers", True)
        plans = {c["name"]: ContainerPlan.of(c) for c in pod["spec"]["containers"]}
        for container_status in statuses:
            self._run_container(pod, container_status, plans[container_status["name"]])
        self._save(pod)

    def _run_container(self, pod: JSON, container_status: JSON, plan: ContainerPlan) -> None:
        """One start attempt of one container, per its plan (mutates ``container_status``)."""
        if plan.outcome == "invalid_image":
            waiting = {"reason": "InvalidImageName", "message": plan.invalid_image_message()}
            container_status["state"] = {"waiting": waiting}
            return
        if plan.outcome == "pull_error":
            waiting = {"reason": "ErrImagePull", "message": plan.pull_error_message()}
            container_status["state"] = {"waiting": waiting}
            self._later(self.config().backoff_delay, pod, lambda p: self._pull_backoff(p, plan))
            return
        reference = container_status["image"] = normalize_image(plan.image)
        digest = hashlib.sha256(reference.encode()).hexdigest()
        container_status["imageID"] = (
            reference.split("@")[0].rsplit(":", 1)[0] + "@sha256:" + digest
        )
        now = now_timestamp()
        if plan.outcome == "run":
            container_status["state"] = {"running": {"startedAt": now}}
            container_status.update(ready=not plan.never_ready, started=True)
            if plan.crash_after is not None:
                self._later(plan.crash_after, pod, lambda p: self._crash(p, plan.name))
            return
        code, reason = {
            "crash": (1, "Error"),
            "oom": (137, "OOMKilled"),
            "complete": (0, "Completed"),
        }[plan.outcome]
        _terminated(container_status, code, reason, started_at=now)
        self._back_off(pod, container_status, code)

    @staticmethod
    def _back_off(pod: JSON, container_status: JSON, code: int) -> None:
        """Under restartPolicy Always (OnFailure: after a failure) the kubelet restarts the
        container, which ends the same way again: the pod shows it backing off."""
        policy = pod["spec"].get("restartPolicy", "Always")
        if policy == "Never" or (policy == "OnFailure" and code == 0):
            return
        meta, name = pod["metadata"], container_status["name"]
        message = (
            f"back-off 10s restarting failed container={name} "
            f"pod={meta['name']}_{meta['namespace']}({meta['uid']})"
        )
        container_status["lastState"] = {"terminated": container_status["state"]["terminated"]}
        container_status["restartCount"] = int(container_status.get("restartCount", 0)) + 1
        container_status["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": message}}

    def _statuses(self, pod: JSON, name: str, state: str, reason: str | None = None) -> list[JSON]:
        """The status of container ``name`` if it is in ``state`` (with ``reason``)."""
        return [
            s
            for s in pod["status"].get("containerStatuses") or []
            if s["name"] == name
            and state in s["state"]
            and (reason is None or s["state"][state].get("reason") == reason)
        ]

    def _pull_backoff(self, pod: JSON, plan: ContainerPlan) -> None:
        for container_status in self._statuses(pod, plan.name, "waiting", "ErrImagePull"):
            message = (
                f'Back-off pulling image "{plan.image}": ErrImagePull: {plan.pull_error_message()}'
            )
            container_status["state"] = {
                "waiting": {"reason": "ImagePullBackOff", "message": message}
            }
            self._save(pod)

    def _crash(self, pod: JSON, name: str) -> None:
        for container_status in self._statuses(pod, name, "running") if self._active(pod) else []:
            started = container_status["state"]["running"]["startedAt"]
            _terminated(container_status, 1, "Error", started_at=started)
            self._back_off(pod, container_status, 1)
            self._save(pod)

    def _deadline_exceeded(self, pod: JSON) -> None:
        if not self._active(pod):
            return
        status = pod["status"]
        for container_status in status.get("containerStatuses") or []:
            running = container_status["state"].get("running")
            if running:
                _terminated(container_status, 137, "Error", started_at=running["startedAt"])
        status["phase"] = "Failed"
        status["reason"] = "DeadlineExceeded"
        status["message"] = "Pod was active on the node longer than the specified deadline"
        self._save(pod)

    def _finish_deletion(self, pod: JSON) -> None:
        """The kubelet has stopped the pod, and the pod goes away."""
        self.store.remove(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"])

    # --- restart from a state file -----------------------------------------------------------

    def resume(self) -> None:
        """Re-arms timers for loaded pods; running pods keep running."""
        with self.store.lock:
            for snapshot in self.store.snapshots(PODS, None):
                self._resume_pod(snapshot.obj)

    def _resume_pod(self, pod: JSON) -> None:
        status, meta = pod["status"], pod["metadata"]
        if meta.get("deletionTimestamp"):
            self._later(self.config().deletion_delay, pod, self._finish_deletion)
            return
        if status.get("phase") in TERMINAL_PHASES:
            return
        if not pod["spec"].get("nodeName"):
            self._later(self.config().schedule_delay, pod, self._schedule)
            return
        self._hold(meta["uid"], pod)
        started = status.get("startTime")
        elapsed = time.time() - parse_timestamp(started) if started else 0.0
        self._after_admission(pod, elapsed)
        plans = {c["name"]: ContainerPlan.of(c) for c in pod["spec"]["containers"]}
        for container_status in status.get("containerStatuses") or []:
            state, name = container_status["state"], container_status["name"]
            reason = (state.get("waiting") or {}).get("reason")
            if reason == "ErrImagePull":
                step = functools.partial(self._pull_backoff, plan=plans[name])
                self._later(self.config().backoff_delay, pod, step)
            elif "running" in state and (crash_after := plans[name].crash_after) is not None:
                ran = time.time() - parse_timestamp(state["running"]["startedAt"])
                self._later(crash_after - ran, pod, functools.partial(self._crash, name=name))
