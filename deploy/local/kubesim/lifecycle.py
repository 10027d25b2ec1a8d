"""The scheduler and kubelet of one simulated node, driving pods through their real lifecycle.

Mirrors what a watcher of a real cluster sees: a new pod is Pending; the scheduler binds it
(``spec.nodeName``, PodScheduled=True) or marks it Unschedulable ("0/1 nodes are available:
1 Insufficient cpu. ...") when the node's free requests do not fit; the kubelet reports
ContainerCreating, then Running with Ready=True, podIP, hostIP and startTime. Failures happen
the way clusters fail, and tests trigger them deterministically:

* an image containing ``doesnotexist`` -> ErrImagePull, then ImagePullBackOff (pod stays
  Pending); an unparseable image reference -> InvalidImageName;
* ``sprout-sim:crash`` in a container's command/args -> exit code 1, then CrashLoopBackOff
  (restartPolicy Always/OnFailure) or phase Failed (Never); ``sprout-sim:crash-after=S`` runs
  S seconds first; ``sprout-sim:complete`` exits 0; ``sprout-sim:oom`` is OOMKilled (137);
* ``sprout-sim:never-ready`` runs but never passes readiness;
* ``sprout-sim:start-delay=S`` overrides the start delay for that pod;
* ``spec.activeDeadlineSeconds`` elapsed -> phase Failed, reason DeadlineExceeded.

Graceful deletion ends with the pod's removal; namespace deletion removes its content. The
loop reacts to store events (like controllers watching the API) and runs timed steps on one
background thread; every change goes through the store and so reaches watchers.
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
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any, Literal

from .config import SimConfig
from .ipam import IpPool, PoolExhausted
from .quantity import QuantityError, parse_quantity
from .resources import INGRESSES, NAMESPACES, PODS, SERVICES
from .store import Snapshot, Store, WatchEvent, clone

JSON = dict[str, Any]

NODE_NAME = "sprout-sim-node"
NODE_IP = "172.18.0.2"
POD_CIDR = "10.244.0.0/16"
TERMINAL_PHASES = ("Succeeded", "Failed")
HOOK = "sprout-sim:"
_MIN_RESTART_DELAY = 0.05

Outcome = Literal["run", "crash", "complete", "oom", "pull_error", "invalid_image"]

_REFERENCE = re.compile(
    r"^(?:(?:[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*(?::[0-9]+)?)/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)
_FLAG_HOOK = re.compile(r"sprout-sim:(crash|complete|oom|never-ready)(?![-\w=])")
_VALUE_HOOK = re.compile(r"sprout-sim:(crash-after|start-delay)=([0-9]+(?:\.[0-9]+)?)")


def now_timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


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


def _fake_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


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
        words = [
            str(word) for word in (container.get("command") or []) + (container.get("args") or [])
        ]
        text = " ".join(words)
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


def qos_class(pod: JSON) -> str:
    containers = (pod.get("spec") or {}).get("containers") or []
    resources = [container.get("resources") or {} for container in containers]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    for r in resources:
        limits, requests = r.get("limits") or {}, r.get("requests") or {}
        for name in ("cpu", "memory"):
            if name not in limits or str(requests.get(name, limits[name])) != str(limits[name]):
                return "Burstable"
    return "Guaranteed"


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


_CONDITION_ORDER = (
    "PodReadyToStartContainers",
    "Initialized",
    "Ready",
    "ContainersReady",
    "PodScheduled",
)


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
    conditions.sort(
        key=lambda c: _CONDITION_ORDER.index(c["type"]) if c["type"] in _CONDITION_ORDER else 99
    )


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
    """Scheduler + kubelet + namespace controller of a one-node cluster over the store."""

    def __init__(self, store: Store, config: Callable[[], SimConfig]) -> None:
        self.store = store
        self.config = config
        self.timers = Timers()
        self.pod_ips = IpPool(POD_CIDR, first_offset=2)
        # Requests held by bound, non-terminal pods (uid -> (cpu, memory)).
        self._bound: dict[str, tuple[Fraction, Fraction]] = {}
        self._used_cpu = Fraction(0)
        self._used_memory = Fraction(0)
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
            self.pod_ips.clear()

    # --- reacting to writes ------------------------------------------------------------------

    def _on_event(self, event: WatchEvent) -> None:
        if event.snapshot.resource is PODS:
            self._on_pod_event(event)
        elif event.snapshot.resource is NAMESPACES and event.type == "MODIFIED":
            before = event.previous.obj["metadata"] if event.previous else {}
            after = event.snapshot.obj["metadata"]
            if after.get("deletionTimestamp") and not before.get("deletionTimestamp"):
                name = after["name"]
                self.timers.add(self.config().deletion_delay, lambda: self._finish_namespace(name))

    def _on_pod_event(self, event: WatchEvent) -> None:
        pod = event.snapshot.obj
        meta = pod["metadata"]
        uid = meta["uid"]
        if event.type == "ADDED":
            self._later(self.config().schedule_delay, pod, self._schedule)
        holds = (
            event.type != "DELETED"
            and bool(pod["spec"].get("nodeName"))
            and (pod.get("status") or {}).get("phase") not in TERMINAL_PHASES
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
            self.pod_ips.release((pod.get("status") or {}).get("podIP"))
        elif event.type == "MODIFIED" and meta.get("deletionTimestamp"):
            previous = event.previous.obj["metadata"] if event.previous else {}
            if not previous.get("deletionTimestamp"):
                grace = float(meta.get("deletionGracePeriodSeconds") or 0)
                delay = min(grace, self.config().deletion_delay)
                self._later(delay, pod, self._finish_deletion)

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
        return self.store.put(PODS, pod, "MODIFIED")

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
        uid = pod["metadata"]["uid"]
        reasons = self._insufficient(pod)
        if reasons:
            self._unschedulable[uid] = (pod["metadata"]["namespace"], pod["metadata"]["name"])
            counted = ", ".join(sorted(f"1 {reason}" for reason in reasons))
            message = (
                f"0/1 nodes are available: {counted}. preemption: 0/1 nodes are available: "
                "1 No preemption victims found for incoming pod."
            )
            status = pod.setdefault("status", {})
            current = next(
                (c for c in status.get("conditions") or [] if c["type"] == "PodScheduled"), None
            )
            if current is None or current.get("message") != message:
                set_condition(status, "PodScheduled", False, "Unschedulable", message)
                self._save(pod)
            return
        self._unschedulable.pop(uid, None)
        # The binding: the scheduler sets nodeName and PodScheduled in one write...
        pod["spec"]["nodeName"] = NODE_NAME
        set_condition(pod.setdefault("status", {}), "PodScheduled", True)
        self._save(pod)
        # ...then the kubelet admits it and reports its containers as being created.
        pod = clone(pod)
        status = pod["status"]
        status["hostIP"] = NODE_IP
        status["hostIPs"] = [{"ip": NODE_IP}]
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
                "imageID": "",
                "started": False,
            }
            for container in pod["spec"]["containers"]
        ]
        refresh_readiness(pod)
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
        status = pod["status"]
        if pod["metadata"].get("deletionTimestamp") or status.get("phase") in TERMINAL_PHASES:
            return
        statuses = status.get("containerStatuses") or []
        if not any(
            (s.get("state") or {}).get("waiting", {}).get("reason") == "ContainerCreating"
            for s in statuses
        ):
            return
        if not status.get("podIP"):
            try:
                ip = self.pod_ips.allocate()
            except PoolExhausted:
                return
            status["podIP"] = ip
            status["podIPs"] = [{"ip": ip}]
        set_condition(status, "PodReadyToStartContainers", True)
        plans = {c["name"]: ContainerPlan.of(c) for c in pod["spec"]["containers"]}
        for container_status in statuses:
            plan = plans[container_status["name"]]
            self._run_container(pod, container_status, plan)
        refresh_readiness(pod)
        self._save(pod)

    def _run_container(self, pod: JSON, container_status: JSON, plan: ContainerPlan) -> None:
        """One start attempt of one container, per its plan (mutates ``container_status``)."""
        now = now_timestamp()
        container_id = "containerd://" + _fake_digest(
            f"{pod['metadata']['uid']}/{plan.name}/{time.time_ns()}"
        )
        if plan.outcome == "invalid_image":
            container_status["state"] = {
                "waiting": {"reason": "InvalidImageName", "message": plan.invalid_image_message()}
            }
            return
        if plan.outcome == "pull_error":
            container_status["state"] = {
                "waiting": {"reason": "ErrImagePull", "message": plan.pull_error_message()}
            }
            self._later(self.config().backoff_delay, pod, lambda p: self._pull_backoff(p, plan))
            return
        reference = normalize_image(plan.image)
        container_status["image"] = reference
        container_status["imageID"] = (
            reference.split("@")[0].rsplit(":", 1)[0] + "@sha256:" + _fake_digest(reference)
        )
        container_status["containerID"] = container_id
        if plan.outcome == "run":
            container_status["state"] = {"running": {"startedAt": now}}
            container_status["ready"] = not plan.never_ready
            container_status["started"] = True
            if plan.crash_after is not None:
                self._later(plan.crash_after, pod, lambda p: self._crash(p, plan.name))
            return
        code, reason = {
            "crash": (1, "Error"),
            "oom": (137, "OOMKilled"),
            "complete": (0, "Completed"),
        }[plan.outcome]
        self._terminate(pod, container_status, code, reason, started_at=now)

    def _terminate(
        self, pod: JSON, container_status: JSON, code: int, reason: str, started_at: str
    ) -> None:
        container_status["state"] = {
            "terminated": {
                "exitCode": code,
                "reason": reason,
                "startedAt": started_at,
                "finishedAt": now_timestamp(),
                "containerID": container_status.get("containerID", ""),
            }
        }
        container_status["ready"] = False
        container_status["started"] = False
        policy = pod["spec"].get("restartPolicy", "Always")
        if policy == "Always" or (policy == "OnFailure" and code != 0):
            name = container_status["name"]
            self._later(
                self._restart_delay(container_status), pod, lambda p: self._back_off(p, name)
            )

    def _restart_delay(self, container_status: JSON) -> float:
        base = max(self.config().backoff_delay, _MIN_RESTART_DELAY)
        return float(min(base * 2 ** int(container_status.get("restartCount", 0)), base * 32))

    def _pull_backoff(self, pod: JSON, plan: ContainerPlan) -> None:
        for container_status in pod["status"].get("containerStatuses") or []:
            waiting = (container_status.get("state") or {}).get("waiting") or {}
            if container_status["name"] == plan.name and waiting.get("reason") == "ErrImagePull":
                message = (
                    f'Back-off pulling image "{plan.image}": ErrImagePull: '
                    + plan.pull_error_message()
                )
                container_status["state"] = {
                    "waiting": {"reason": "ImagePullBackOff", "message": message}
                }
                self._save(pod)

    def _crash(self, pod: JSON, name: str) -> None:
        if pod["status"].get("phase") in TERMINAL_PHASES or pod["metadata"].get(
            "deletionTimestamp"
        ):
            return
        for container_status in pod["status"].get("containerStatuses") or []:
            running = (container_status.get("state") or {}).get("running")
            if container_status["name"] == name and running:
                self._terminate(pod, container_status, 1, "Error", started_at=running["startedAt"])
                refresh_readiness(pod)
                self._save(pod)

    def _back_off(self, pod: JSON, name: str) -> None:
        """The kubelet restarts a terminated container after a back-off (CrashLoopBackOff)."""
        if pod["status"].get("phase") in TERMINAL_PHASES or pod["metadata"].get(
            "deletionTimestamp"
        ):
            return
        for container_status in pod["status"].get("containerStatuses") or []:
            terminated = (container_status.get("state") or {}).get("terminated")
            if container_status["name"] != name or not terminated:
                continue
            restarts = int(container_status.get("restartCount", 0)) + 1
            real_delay = min(10 * 2 ** (restarts - 1), 300)
            shown = (
                f"{real_delay // 60}m{real_delay % 60}s" if real_delay >= 60 else f"{real_delay}s"
            )
            meta = pod["metadata"]
            container_status["lastState"] = {"terminated": terminated}
            container_status["restartCount"] = restarts
            container_status["state"] = {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": f"back-off {shown} restarting failed container={name} "
                    f"pod={meta['name']}_{meta['namespace']}({meta['uid']})",
                }
            }
            refresh_readiness(pod)
            self._save(pod)
            self._later(self._restart_delay(container_status), pod, lambda p: self._rerun(p, name))

    def _rerun(self, pod: JSON, name: str) -> None:
        if pod["status"].get("phase") in TERMINAL_PHASES or pod["metadata"].get(
            "deletionTimestamp"
        ):
            return
        containers = {c["name"]: c for c in pod["spec"]["containers"]}
        for container_status in pod["status"].get("containerStatuses") or []:
            waiting = (container_status.get("state") or {}).get("waiting") or {}
            if container_status["name"] == name and waiting.get("reason") == "CrashLoopBackOff":
                self._run_container(pod, container_status, ContainerPlan.of(containers[name]))
                refresh_readiness(pod)
                self._save(pod)

    def _deadline_exceeded(self, pod: JSON) -> None:
        status = pod["status"]
        if status.get("phase") in TERMINAL_PHASES or pod["metadata"].get("deletionTimestamp"):
            return
        for container_status in status.get("containerStatuses") or []:
            running = (container_status.get("state") or {}).get("running")
            if running:
                container_status["state"] = {
                    "terminated": {
                        "exitCode": 137,
                        "reason": "Error",
                        "startedAt": running["startedAt"],
                        "finishedAt": now_timestamp(),
                        "containerID": container_status.get("containerID", ""),
                    }
                }
                container_status["ready"] = False
                container_status["started"] = False
        status["phase"] = "Failed"
        status["reason"] = "DeadlineExceeded"
        status["message"] = "Pod was active on the node longer than the specified deadline"
        refresh_readiness(pod)
        self._save(pod)

    def _finish_deletion(self, pod: JSON) -> None:
        """The kubelet has stopped the pod: it confirms with grace 0, and the pod goes away."""
        meta = pod["metadata"]
        if meta.get("finalizers"):
            if meta.get("deletionGracePeriodSeconds") != 0:
                meta["deletionGracePeriodSeconds"] = 0
                self._save(pod)
            return
        self.store.remove(PODS, meta["namespace"], meta["name"])

    # --- namespace controller ----------------------------------------------------------------

    def _finish_namespace(self, name: str) -> None:
        with self.store.lock:
            namespace = self.store.get(NAMESPACES, "", name)
            if namespace is None or not namespace.obj["metadata"].get("deletionTimestamp"):
                return
            for resource in (PODS, SERVICES, INGRESSES):
                for snapshot in self.store.snapshots(resource, name):
                    self.store.remove(resource, name, snapshot.name)
            self.store.remove(NAMESPACES, "", name)

    # --- restart from a state file -----------------------------------------------------------

    def resume(self) -> None:
        """Re-arms timers for loaded pods; running pods keep running."""
        with self.store.lock:
            for snapshot in self.store.snapshots(PODS, None):
                self._resume_pod(snapshot.obj)
            for namespace in self.store.snapshots(NAMESPACES, None):
                if namespace.obj["metadata"].get("deletionTimestamp"):
                    finish = functools.partial(self._finish_namespace, namespace.name)
                    self.timers.add(self.config().deletion_delay, finish)

    def _resume_pod(self, pod: JSON) -> None:
        status = pod.get("status") or {}
        meta = pod["metadata"]
        if status.get("podIP"):
            self.pod_ips.reserve(status["podIP"])
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
            state = container_status.get("state") or {}
            name = container_status["name"]
            plan = plans[name]
            reason = (state.get("waiting") or {}).get("reason")
            delay = self._restart_delay(container_status)
            if reason == "ErrImagePull":
                step = functools.partial(self._pull_backoff, plan=plan)
                self._later(self.config().backoff_delay, pod, step)
            elif reason == "CrashLoopBackOff":
                self._later(delay, pod, functools.partial(self._rerun, name=name))
            elif "terminated" in state:
                self._later(delay, pod, functools.partial(self._back_off, name=name))
            elif "running" in state and plan.crash_after is not None:
                ran = time.time() - parse_timestamp(state["running"]["startedAt"])
                self._later(plan.crash_after - ran, pod, functools.partial(self._crash, name=name))
