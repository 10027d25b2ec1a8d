"""Soak: simulated visitors through the whole local stack for minutes, with random faults.

    python -m tests.soak [--visitors 200] [--minutes 5] [--lifetime 90] [--capacity 100]
                         [--line 50] [--seed 1] [--data-dir DIR] [--json FILE]

It starts the local stack (`python -m deploy.local`, as `make dev` does) and drives visitors,
one thread each, through the gateway like people with a browser: get a challenge, solve it
(reading the answer from Redis where a person reads it off the picture), create, poll until
running or failed, use it a while, then delete it or walk away and let it expire (a short
`SPROUT_CONTAINER_LIFETIME`, so expiry happens within the run). Meanwhile, at random, faults:
a worker job SIGKILLed, Redis stopped with SIGTERM or SIGKILL (the stack restarts it on the
same AOF, like a StatefulSet pod), bursts of Kubernetes API errors (429/5xx, some after the
write was done) and of API latency, through the simulated cluster's admin endpoint.

Then traffic stops and the system settles with no help: the tick, take-overs and the
reconciler must finish the stragglers. The report checks the invariants and the command
exits 1 if one breaks:

- every acknowledged create (a 202) is a record in Redis: none lost;
- every record is terminal or live, and agrees with the cluster: running has exactly one
  ready pod, terminal has none, failed has a reason; nothing is still pending or deleting,
  nothing live past its lifetime, nothing that expired shown as failed, nothing running
  that its owner deleted;
- no orphan pods (pods without a live record), no duplicate pods;
- no 5xx but the documented 503s (`capacity_full` once the waiting line is full too, and
  `unavailable` while Redis is down), no request without an answer;
- the waiting line, sampled every second while traffic runs (one read-only script, so each
  sample is one instant): nobody waits while a slot is free, and the positions of those who
  wait are 1..n in the round-robin order the ring and the networks' lines give; once
  settled, nobody waits. Some visitors walk away from their place; it must lapse.

Every visitor comes from 127.0.0.1 through the gateway, so the per-address limits (creates
per hour, live containers and places in line per address, challenges per minute) are lifted
for the soak, and with them the network's (never below an address's); the per-owner limit
(3), the global capacity and the waiting line's length stay, so visitors wait and
`capacity_full` happens. The proof of work is kept small (8 bits, no step on failures): a
browser pays it on the visitor's machine, here it would burn this machine's CPU for nothing
the soak measures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import requests
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from functions.worker import metrics as worker_metrics
from functions.worker.podstatus import LIFETIME_ENDED
from shared import keys, lifecycle
from shared.captcha import pow
from tests.captcha_bots import human_drag, payload
from tests.stack_driver import RunningStack, processes_of, redis_pid, worker_jobs

FAULTS = ("kill_job", "redis_sigterm", "redis_sigkill", "api_errors", "api_latency")
DOCUMENTED_503 = frozenset({"capacity_full", "unavailable"})
SELECTOR = "app.kubernetes.io/part-of=sprout"

# One instant of the waiting line, read by one read-only script: the ring, each network's
# line, and every place with its status and the position the server gives it.
LINE_SAMPLE = (
    lifecycle.LUA
    + r"""
local now = tonumber(ARGV[1])
local ring = redis.call('LRANGE', LINE_RING, 0, -1)
local lines = {}
for _, network in ipairs(ring) do
  lines[network] = redis.call('ZRANGE', LINE_NETWORK .. network, 0, -1)
end
local places = {}
for _, id in ipairs(redis.call('ZRANGE', LINE_DEADLINES, 0, -1)) do
  local record = hash_to_table(redis.call('HGETALL', RECORD .. id))
  local position = 0
  if record.id and record.network then position = place_of(record, now) or 0 end
  table.insert(places, {id, status_of(record), position})
end
return cjson.encode({held = redis.call('ZCARD', EXPIRY), ring = ring, lines = lines,
                     places = places})
"""
)


def round_robin(ring: list[str], lines: dict[str, list[str]]) -> list[str]:
    """The order the places get slots: one per network per round, networks in ring order."""
    queues = [list(lines.get(network, [])) for network in ring]
    order = []
    while any(queues):
        for queue in queues:
            if queue:
                order.append(queue.pop(0))
    return order


def line_problems(sample: dict[str, Any], capacity: int) -> list[str]:
    """What is wrong with one instant of the waiting line (nothing, normally)."""
    ring = _as_list(sample["ring"])
    lines = sample["lines"] if isinstance(sample["lines"], dict) else {}
    places = _as_list(sample["places"])
    problems = []
    if places and int(sample["held"]) < capacity:
        problems.append(f"{len(places)} wait while {capacity - int(sample['held'])} slots are free")
    if len(set(ring)) != len(ring) or any(not lines.get(network) for network in ring):
        problems.append(f"the ring {ring} does not list each network with places once")
    expected = round_robin(ring, lines)
    positions = {str(place_id): int(position) for place_id, _, position in places}
    if sorted(positions) != sorted(expected):
        problems.append("the networks' lines and the deadlines hold different places")
    elif [positions[place_id] for place_id in expected] != list(range(1, len(expected) + 1)):
        problems.append(f"positions {[positions[p] for p in expected]} in round-robin order")
    problems += [
        f"{i} in line but {status}" for i, status, _ in places if status != lifecycle.WAITING
    ]
    return problems


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []  # cjson encodes an empty table as {}


@dataclass
class SoakOptions:
    visitors: int = 200
    seconds: float = 300.0
    lifetime: int = 90  # SPROUT_CONTAINER_LIFETIME (at least 60)
    capacity: int = 100  # SPROUT_LIMIT_CAPACITY: live containers in the whole system
    line: int = 50  # SPROUT_LIMIT_LINE_LENGTH: places in the waiting line
    place_timeout: int = 10  # SPROUT_LIMIT_PLACE_TIMEOUT: a place lapses unchecked this long
    walk_away_share: float = 0.2  # visitors who stop checking on their place in line
    seed: int = 1
    data_dir: Path | None = None
    # Faults: the first ones in this order (each at least once), then random ones.
    required_faults: Sequence[str] = FAULTS
    fault_gap: tuple[float, float] = (12.0, 25.0)  # seconds between faults
    api_fault_seconds: tuple[float, float] = (5.0, 10.0)
    # Visitors: seconds of thinking before each create, and of using a running container.
    think: tuple[float, float] = (1.0, 6.0)
    hold: tuple[float, float] = (3.0, 30.0)
    delete_share: float = 0.6  # the rest walk away and let their container expire
    ramp: float = 20.0  # visitors arrive over this many seconds
    settle_timeout: float = 240.0
    start_delay: float = 0.5  # simulated seconds from pod creation to Running
    node_cpu: str = "64"
    node_memory: str = "128Gi"


@dataclass
class Acked:
    """A create the API acknowledged (202), as its visitor saw it."""

    container_id: str
    template: str
    acked_at: float
    seen_running_at: float | None = None
    delete_acked: bool = False


@dataclass
class Tally:
    """What the visitors saw; every field is read and written under `lock`."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: Counter[str] = field(default_factory=Counter)  # "POST /containers 202"
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)  # "503 capacity_full"
    no_answer: Counter[str] = field(default_factory=Counter)  # transport errors by route
    acked: dict[str, Acked] = field(default_factory=dict)
    unreadable_answers: int = 0  # the visitor could not "see" the puzzle (Redis down)
    waited: int = 0  # creates that took a place in the waiting line
    walked_away: set[str] = field(default_factory=set)  # who stopped checking on their place
    line_samples: int = 0
    line_problems: list[str] = field(default_factory=list)
    faults: list[tuple[float, str, str]] = field(default_factory=list)


class Soak:
    def __init__(self, options: SoakOptions, log: Callable[[str], None] = print) -> None:
        self.options = options
        self.log = log
        self.tally = Tally()
        self.stopping = threading.Event()
        self.data_dir = options.data_dir or Path(tempfile.mkdtemp(prefix="sprout-soak-"))
        self.stack: RunningStack | None = None
        self.redis: redis.Redis | None = None
        self.started = 0.0

    # -- the run ------------------------------------------------------------------------------

    def run(self) -> SoakReport:
        options = self.options
        self.stack = RunningStack(
            self.data_dir,
            "--start-delay", str(options.start_delay),
            "--node-cpu", options.node_cpu, "--node-memory", options.node_memory,
            "--redis-restart-delay", "1",
            env=soak_environment(options),
        ).start()  # fmt: skip
        self.redis = redis.Redis.from_url(
            self.stack.description["redis_url"], decode_responses=True, socket_timeout=5
        )
        self.log(f"stack up at {self.stack.url} (data: {self.data_dir})")
        try:
            self.started = time.monotonic()
            threads = [
                threading.Thread(target=Visitor(self, n).run, name=f"visitor-{n}", daemon=True)
                for n in range(options.visitors)
            ]
            faults = threading.Thread(target=self._faults, name="faults", daemon=True)
            sampler = threading.Thread(target=self._sample_line, name="line", daemon=True)
            for thread in threads:
                thread.start()
            faults.start()
            sampler.start()
            self._progress_until(self.started + options.seconds)
            self.stopping.set()
            self.log("traffic stops; waiting for visitors to leave")
            faults.join(timeout=60)
            sampler.join(timeout=60)
            for thread in threads:
                thread.join(timeout=60)
            self._calm_the_cluster()
            traffic_seconds = time.monotonic() - self.started
            self.log("settling: no traffic; the tick and take-overs finish the stragglers")
            settle_started = time.monotonic()
            snapshot = self._settle()
            report = SoakReport.build(
                options,
                self.tally,
                snapshot,
                traffic_seconds=traffic_seconds,
                settle_seconds=time.monotonic() - settle_started,
                data_dir=self.data_dir,
            )
        finally:
            self.stopping.set()
            with contextlib.suppress(Exception):
                self._calm_the_cluster()
            if self.redis is not None:
                self.redis.close()
            code = self.stack.stop()
        report.stack_exit = code
        report.leftover_processes = len(processes_of(self.data_dir))
        return report

    def _progress_until(self, end: float) -> None:
        while not self.stopping.wait(min(15.0, max(0.0, end - time.monotonic()))):
            if time.monotonic() >= end:
                return
            with self.tally.lock:
                acked = len(self.tally.acked)
                total = sum(self.tally.requests.values())
            elapsed = time.monotonic() - self.started
            self.log(f"  {elapsed:5.0f}s  requests {total}  acknowledged creates {acked}")

    # -- the waiting line ---------------------------------------------------------------------

    def _sample_line(self) -> None:
        assert self.redis is not None
        script = self.redis.register_script(LINE_SAMPLE)
        while not self.stopping.wait(1.0):
            try:
                sample = json.loads(script(args=[repr(time.time())]))
            except (redis.RedisError, OSError):
                continue  # Redis is restarting (a fault): no sample this time
            problems = line_problems(sample, self.options.capacity)
            with self.tally.lock:
                self.tally.line_samples += 1
                self.tally.line_problems += problems

    # -- faults -------------------------------------------------------------------------------

    def _faults(self) -> None:
        pending = list(self.options.required_faults)
        rng = random.Random(self.options.seed * 7919)
        while not self.stopping.wait(rng.uniform(*self.options.fault_gap)):
            kind = pending.pop(0) if pending else rng.choice(FAULTS)
            try:
                done = self.inject(kind, rng)
            except Exception as exc:  # a fault that could not be made is reported, not fatal
                done = f"could not: {exc!r}"
            if done.startswith("could not") and kind in self.options.required_faults:
                pending.insert(0, kind)  # try again next time
            with self.tally.lock:
                self.tally.faults.append((time.monotonic() - self.started, kind, done))
            self.log(f"  fault {kind}: {done}")

    def inject(self, kind: str, rng: random.Random) -> str:
        if kind == "kill_job":
            return self.kill_a_job(rng)
        if kind in ("redis_sigterm", "redis_sigkill"):
            sig = signal.SIGTERM if kind == "redis_sigterm" else signal.SIGKILL
            return self.restart_redis(sig)
        seconds = rng.uniform(*self.options.api_fault_seconds)
        if kind == "api_errors":
            self.sim_config(
                error_rate=0.3, error_codes=[429, 500, 503, 504], error_after_commit=0.3
            )
        else:
            self.sim_config(latency_ms=400, jitter_ms=300)
        self.stopping.wait(seconds)
        self._calm_the_cluster()
        return f"{seconds:.1f} s"

    def kill_a_job(self, rng: random.Random) -> str:
        assert self.stack is not None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not self.stopping.is_set():
            jobs = worker_jobs(self.stack.data_dir)
            if jobs:
                victim = rng.choice(jobs)
                os.kill(victim, signal.SIGKILL)
                return f"SIGKILL job pid {victim} ({len(jobs)} running)"
            time.sleep(0.1)
        return "could not: no worker job running"

    def restart_redis(self, sig: signal.Signals) -> str:
        assert self.stack is not None and self.redis is not None
        old = redis_pid(self.stack.data_dir)
        began = time.monotonic()
        os.kill(old, sig)
        deadline = began + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError, OSError, ValueError):
                if redis_pid(self.stack.data_dir) != old and self.redis.ping():
                    down = time.monotonic() - began
                    return f"{sig.name} pid {old}; answering again after {down:.1f} s"
            time.sleep(0.05)
        raise RuntimeError("Redis did not come back within 60 s")

    def sim_config(self, **changes: Any) -> None:
        assert self.stack is not None
        kubeconfig = yaml.safe_load(Path(self.stack.description["kubeconfig"]).read_text())
        token = kubeconfig["users"][0]["user"]["token"]
        (sim,) = [p for p in self.stack.description["parts"] if p["name"] == "kubesim"]
        response = requests.post(
            sim["address"] + "/_sim/config", json=changes, timeout=10,
            headers={"Authorization": f"Bearer {token}"},
        )  # fmt: skip
        response.raise_for_status()

    def _calm_the_cluster(self) -> None:
        self.sim_config(error_rate=0, error_after_commit=0, latency_ms=0, jitter_ms=0)

    # -- settling and looking -----------------------------------------------------------------

    def _settle(self) -> Snapshot:
        deadline = time.monotonic() + self.options.settle_timeout
        while True:
            try:
                snapshot = self.snapshot()
            except (redis.RedisError, OSError) as exc:
                if time.monotonic() > deadline:
                    raise
                self.log(f"  snapshot failed ({exc}); again")
                time.sleep(1)
                continue
            unsettled = snapshot.unsettled()
            if not unsettled or time.monotonic() > deadline:
                return snapshot
            time.sleep(1)

    def snapshot(self) -> Snapshot:
        assert self.stack is not None and self.redis is not None
        r = self.redis
        now = time.time()
        record_keys = list(r.scan_iter(f"{keys.RECORD_PREFIX}*", count=1000))
        pipe = r.pipeline(transaction=False)
        for key in record_keys:
            pipe.hgetall(key)
        records = {str(f["id"]): dict(f) for f in pipe.execute() if f and "id" in f}
        group: dict[str, Any] = {}
        with contextlib.suppress(redis.ResponseError):
            for info in r.xinfo_groups(keys.STREAM):
                if info["name"] == keys.WORKER_GROUP:
                    group = dict(info)
        api = k8s.CoreV1Api(k8s_config.new_client_from_config(self.stack.description["kubeconfig"]))
        networking = k8s.NetworkingV1Api(api.api_client)
        try:
            pods = api.list_namespaced_pod("sprout", label_selector=SELECTOR).items
            services = api.list_namespaced_service("sprout", label_selector=SELECTOR).items
            ingresses = networking.list_namespaced_ingress("sprout", label_selector=SELECTOR).items
        finally:
            api.api_client.close()
        return Snapshot(
            taken_at=now,
            records=records,
            pods=[_pod_summary(p) for p in pods],
            services=[_object_owner(s) for s in services],
            ingresses=[_object_owner(i) for i in ingresses],
            lag=int(group.get("lag") or 0),
            pending_entries=int(group.get("pending") or 0),
            stream_length=int(r.xlen(keys.STREAM)),
            dead_letters=int(r.xlen(keys.DEAD_LETTER_STREAM)),
            worker_metrics=worker_metrics.render(r),
        )


def soak_environment(options: SoakOptions) -> dict[str, str]:
    return {
        "SPROUT_CONTAINER_LIFETIME": str(options.lifetime),
        "SPROUT_LIMIT_CAPACITY": str(options.capacity),
        # Everyone comes from 127.0.0.1: lift the per-address limits (the per-owner one stays).
        "SPROUT_LIMIT_CREATES_PER_HOUR": "1000000",
        "SPROUT_LIMIT_LIVE_PER_ADDRESS": "1000000",
        "SPROUT_LIMIT_CHALLENGES_PER_MINUTE": "1000000",
        "SPROUT_LIMIT_PLACES_PER_ADDRESS": "1000000",
        "SPROUT_LIMIT_LINE_LENGTH": str(options.line),
        "SPROUT_LIMIT_PLACE_TIMEOUT": str(options.place_timeout),
        "SPROUT_CAPTCHA_SLIDER_DIFFICULTY": "8",
        # A constant proof of work, whatever the load and the failures the soak provokes.
        "SPROUT_CAPTCHA_LOAD_LEVELS": "[]",
        "SPROUT_CAPTCHA_FAILURE_LEVELS": "[]",
        "SPROUT_CAPTCHA_NETWORK_FAILURE_LEVELS": "[]",
        # Orphans found within the settle time, not after 5 minutes.
        "SPROUT_WORKER_RECONCILE_INTERVAL": "30",
    }


def _object_owner(obj: Any) -> str:
    labels = obj.metadata.labels or {}
    return str(labels.get("sprout.dev/container-id", ""))


def _pod_summary(pod: Any) -> dict[str, Any]:
    conditions = {c.type: c.status for c in (pod.status.conditions or [])}
    return {
        "name": pod.metadata.name,
        "container_id": _object_owner(pod),
        "phase": pod.status.phase,
        "ready": conditions.get("Ready") == "True",
        "terminating": pod.metadata.deletion_timestamp is not None,
    }


# -- visitors ---------------------------------------------------------------------------------


class Visitor:
    """One person with a browser: a cookie jar, a hand on the slider, some patience."""

    def __init__(self, soak: Soak, number: int) -> None:
        assert soak.stack is not None and soak.redis is not None
        self.soak = soak
        self.url = soak.stack.url
        self.redis = soak.redis
        self.options = soak.options
        self.rng = random.Random(soak.options.seed * 100_003 + number)
        self.http = requests.Session()

    def wait(self, seconds: float) -> bool:
        """Pause like a person; True if the soak is stopping (leave now)."""
        return self.soak.stopping.wait(max(0.0, seconds))

    def run(self) -> None:
        try:
            if self.wait(self.rng.uniform(0, self.options.ramp)):
                return
            while not self.wait(self.rng.uniform(*self.options.think)):
                self.one_visit()
        finally:
            self.http.close()

    def one_visit(self) -> None:
        token = self.pass_token()
        if token is None:
            self.wait(self.rng.uniform(1, 3))
            return
        template = self.rng.choice(("nginx", "whoami", "python", "hello"))
        created = self.call(
            "POST",
            "/containers",
            "/containers",
            json={"template": template, "captcha_token": token},
        )
        if created is None:
            return
        if created.status_code != 202:
            self.wait(min(30.0, float(created.headers.get("Retry-After", "2"))))
            return
        container_id = str(created.json()["id"])
        with self.soak.tally.lock:
            self.soak.tally.acked[container_id] = Acked(container_id, template, time.monotonic())
        if created.json()["phase"] == "waiting":
            with self.soak.tally.lock:
                self.soak.tally.waited += 1
            if self.rng.random() < self.options.walk_away_share:
                with self.soak.tally.lock:  # stops checking on its place: it must lapse
                    self.soak.tally.walked_away.add(container_id)
                return
        state = self.poll(container_id, {"running", "failed"}, timeout=240.0, every=1.0)
        if state != "running":
            return
        with self.soak.tally.lock:
            self.soak.tally.acked[container_id].seen_running_at = time.monotonic()
        hold_until = time.monotonic() + self.rng.uniform(*self.options.hold)
        while time.monotonic() < hold_until:  # the page polls the list (ETag, mostly 304)
            if self.wait(min(4.0, hold_until - time.monotonic())):
                return
            self.call("GET", "/containers", "/containers")
        if self.rng.random() >= self.options.delete_share:
            return  # walks away: the container expires
        deleted = self.call("DELETE", f"/containers/{container_id}", "/containers/{id}")
        if deleted is not None and deleted.status_code == 202:
            with self.soak.tally.lock:
                self.soak.tally.acked[container_id].delete_acked = True
            self.poll(container_id, {"deleted", "failed"}, timeout=60.0, every=1.0)

    def pass_token(self) -> str | None:
        challenge = self.call(
            "POST",
            "/captcha/request",
            "/captcha/request",
            json={"action": "create", "mode": "slider"},
        )
        if challenge is None or challenge.status_code != 200:
            return None
        body = challenge.json()
        try:
            answer = self.redis.hget(keys.captcha_challenge(body["challenge_id"]), "x")
        except redis.RedisError:
            answer = None
        if answer is None:  # Redis is down: the picture did not load, as it were
            with self.soak.tally.lock:
                self.soak.tally.unreadable_answers += 1
            return None
        drag = human_drag(int(answer), self.rng, max_offset=body["width"] - body["piece_size"])
        nonce = pow.solve(body["pow"]["salt"], body["pow"]["difficulty"])
        if self.wait(0.6 + drag.duration_ms / 1000):  # looking, then dragging
            return None
        verified = self.call(
            "POST", "/captcha/verify", "/captcha/verify",
            json=payload(body["challenge_id"], drag, nonce),
        )  # fmt: skip
        if verified is None or verified.status_code != 200:
            return None
        return str(verified.json()["token"])

    def poll(self, container_id: str, states: set[str], *, timeout: float, every: float) -> str:
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            response = self.call("GET", f"/containers/{container_id}", "/containers/{id}")
            if response is not None and response.status_code == 200:
                state = str(response.json()["state"])
                if state in states:
                    return state
            if self.wait(every):
                break
        return state

    def call(
        self, method: str, path: str, route: str, json: Any = None
    ) -> requests.Response | None:
        try:
            response = self.http.request(method, self.url + path, json=json, timeout=30)
        except requests.RequestException as exc:
            with self.soak.tally.lock:
                self.soak.tally.no_answer[f"{method} {route} {type(exc).__name__}"] += 1
            return None
        code = ""
        if response.status_code >= 400:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                code = str(response.json()["error"]["code"])
        with self.soak.tally.lock:
            self.soak.tally.requests[f"{method} {route} {response.status_code}"] += 1
            self.soak.tally.statuses[response.status_code] += 1
            if code:
                self.soak.tally.errors[f"{response.status_code} {code}"] += 1
        return response


# -- what the run found -----------------------------------------------------------------------


@dataclass
class Snapshot:
    taken_at: float
    records: dict[str, dict[str, str]]
    pods: list[dict[str, Any]]
    services: list[str]
    ingresses: list[str]
    lag: int
    pending_entries: int
    stream_length: int
    dead_letters: int
    worker_metrics: str

    def pods_by_container(self) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        for pod in self.pods:
            found.setdefault(pod["container_id"], []).append(pod)
        return found

    def orphan_pods(self) -> list[str]:
        """Pods whose container has no live record (deleting counts as on its way out)."""
        return [
            pod["name"]
            for pod in self.pods
            if self.records.get(pod["container_id"], {}).get("state")
            not in ("pending", "running", "deleting")
        ]

    def duplicate_pods(self) -> dict[str, int]:
        return {cid: len(pods) for cid, pods in self.pods_by_container().items() if len(pods) > 1}

    def disagreements(self) -> list[str]:
        """Records whose state does not match the cluster (or their lifetime)."""
        problems = []
        by_container = self.pods_by_container()
        services, ingresses = Counter(self.services), Counter(self.ingresses)
        for cid, record in sorted(self.records.items()):
            state = record.get("state", "")
            pods = by_container.get(cid, [])
            if state == "running":
                if len(pods) != 1 or not pods[0]["ready"] or pods[0]["terminating"]:
                    problems.append(f"{cid} running, pods {pods}")
                elif services[cid] != 1 or ingresses[cid] != 1:
                    problems.append(
                        f"{cid} running, services {services[cid]}, ingresses {ingresses[cid]}"
                    )
                overdue = self.taken_at - float(record.get("expires_at", 0))
                if overdue > 30:
                    problems.append(f"{cid} running {overdue:.0f} s past its expiry")
            elif state in ("failed", "deleted"):
                if pods or services[cid] or ingresses[cid]:
                    problems.append(f"{cid} {state} but still has objects")
                if state == "failed" and not record.get("error"):
                    problems.append(f"{cid} failed without a reason")
                if state == "failed" and record.get("error") == LIFETIME_ENDED:
                    problems.append(f"{cid} expired, but shows failed, not deleted")
            elif state not in ("pending", "deleting"):
                problems.append(f"{cid} in unknown state {state!r}")
        return problems

    def unsettled(self) -> list[str]:
        """Why the system is not at rest yet (empty: settled)."""
        reasons = []
        moving = Counter(
            r.get("state")
            for r in self.records.values()
            if r.get("state") in ("pending", "deleting")
        )
        if moving:
            reasons.append(f"records {dict(moving)}")
        if self.lag or self.pending_entries:
            reasons.append(f"stream lag {self.lag}, pending {self.pending_entries}")
        if any(p["terminating"] for p in self.pods):
            reasons.append("pods terminating")
        reasons += [f"orphan {name}" for name in self.orphan_pods()]
        reasons += [f"duplicate {cid}" for cid in self.duplicate_pods()]
        reasons += self.disagreements()
        return reasons


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class SoakReport:
    options: dict[str, Any]
    traffic_seconds: float
    settle_seconds: float
    requests: int
    by_status: dict[int, int]
    by_route: dict[str, int]
    errors: dict[str, int]
    no_answer: dict[str, int]
    unreadable_answers: int
    waited: int
    walked_away: int
    line_samples: int
    line_problems: list[str]
    faults: list[tuple[float, str, str]]
    acknowledged: int
    lost: list[str]
    states_acked: dict[str, int]
    states_all: dict[str, int]
    not_acked_but_created: int
    deleted_but_live: list[str]
    orphan_pods: list[str]
    duplicate_pods: dict[str, int]
    disagreements: list[str]
    unsettled: list[str]
    launch_server: dict[str, float]
    launch_seen: dict[str, float]
    lag: int
    pending_entries: int
    stream_length: int
    dead_letters: int
    worker_counters: dict[str, float]
    data_dir: str
    stack_exit: int | None = None
    leftover_processes: int = 0

    @classmethod
    def build(
        cls,
        options: SoakOptions,
        tally: Tally,
        snap: Snapshot,
        *,
        traffic_seconds: float,
        settle_seconds: float,
        data_dir: Path,
    ) -> SoakReport:
        acked = tally.acked
        records = snap.records
        launches = [
            float(r["started_at"]) - float(r["created_at"])
            for cid, r in records.items()
            if cid in acked and r.get("started_at")
        ]
        seen = [
            a.seen_running_at - a.acked_at for a in acked.values() if a.seen_running_at is not None
        ]
        counters = {
            name: value
            for name, value in _samples(snap.worker_metrics).items()
            if name.startswith("sprout_worker_") and "_bucket" not in name
        }
        return cls(
            options={k: (str(v) if isinstance(v, Path) else v) for k, v in vars(options).items()},
            traffic_seconds=traffic_seconds,
            settle_seconds=settle_seconds,
            requests=sum(tally.requests.values()),
            by_status=dict(sorted(tally.statuses.items())),
            by_route=dict(sorted(tally.requests.items())),
            errors=dict(sorted(tally.errors.items())),
            no_answer=dict(tally.no_answer),
            unreadable_answers=tally.unreadable_answers,
            waited=tally.waited,
            walked_away=len(tally.walked_away),
            line_samples=tally.line_samples,
            line_problems=list(tally.line_problems),
            faults=list(tally.faults),
            acknowledged=len(acked),
            lost=sorted(cid for cid in acked if cid not in records),
            states_acked=dict(Counter(records[c]["state"] for c in acked if c in records)),
            states_all=dict(Counter(r.get("state", "?") for r in records.values())),
            not_acked_but_created=sum(1 for cid in records if cid not in acked),
            deleted_but_live=sorted(
                cid
                for cid, a in acked.items()
                if a.delete_acked and records.get(cid, {}).get("state") in ("pending", "running")
            ),
            orphan_pods=snap.orphan_pods(),
            duplicate_pods=snap.duplicate_pods(),
            disagreements=snap.disagreements(),
            unsettled=snap.unsettled(),
            launch_server=_percentiles(launches),
            launch_seen=_percentiles(seen),
            lag=snap.lag,
            pending_entries=snap.pending_entries,
            stream_length=snap.stream_length,
            dead_letters=snap.dead_letters,
            worker_counters=counters,
            data_dir=str(data_dir),
        )

    # -- verdict ------------------------------------------------------------------------------

    def server_errors(self) -> dict[str, int]:
        """5xx answers other than the documented 503s."""
        bad = {
            key: n
            for key, n in self.errors.items()
            if key.startswith("5") and not (key.startswith("503 ") and key[4:] in DOCUMENTED_503)
        }
        documented = sum(n for key, n in self.errors.items() if key.startswith("503 "))
        for status, n in self.by_status.items():
            if status >= 500 and status != 503:
                bad.setdefault(f"{status} (no code)", 0)
                bad[f"{status} (no code)"] = max(bad[f"{status} (no code)"], n)
        undocumented_503 = self.by_status.get(503, 0) - documented
        if undocumented_503 > 0:
            bad["503 (no code)"] = undocumented_503
        return bad

    def violations(self) -> list[str]:
        found = []
        if self.lost:
            found.append(f"{len(self.lost)} acknowledged creates lost: {self.lost[:10]}")
        if self.orphan_pods:
            found.append(f"{len(self.orphan_pods)} orphan pods: {self.orphan_pods[:10]}")
        if self.duplicate_pods:
            found.append(f"duplicate pods: {self.duplicate_pods}")
        if self.disagreements:
            found.append(f"{len(self.disagreements)} records disagree: {self.disagreements[:10]}")
        if self.unsettled:
            found.append(f"not settled after {self.settle_seconds:.0f} s: {self.unsettled[:10]}")
        if self.deleted_but_live:
            found.append(f"deleted by their owner but live: {self.deleted_but_live[:10]}")
        if self.line_problems:
            found.append(f"waiting line: {self.line_problems[:10]}")
        if self.line_samples == 0:
            found.append("the waiting line was never sampled")
        if self.server_errors():
            found.append(f"server errors: {self.server_errors()}")
        if self.no_answer:
            found.append(f"requests without an answer: {self.no_answer}")
        if self.acknowledged == 0:
            found.append("no create was acknowledged: the soak exercised nothing")
        if self.stack_exit not in (0, None):
            found.append(f"the stack exited {self.stack_exit}")
        if self.leftover_processes:
            found.append(f"{self.leftover_processes} processes outlived the stack")
        return found

    def text(self) -> str:
        o = self.options
        lines = [
            "",
            f"Sprout soak: {o['visitors']} visitors, {self.traffic_seconds:.0f} s of traffic, "
            f"lifetime {o['lifetime']} s, capacity {o['capacity']}, seed {o['seed']}",
            f"settled in {self.settle_seconds:.0f} s after traffic stopped",
            "",
            f"requests: {self.requests}   by status: "
            + ", ".join(f"{s}: {n}" for s, n in self.by_status.items()),
            f"  2xx {sum(n for s, n in self.by_status.items() if 200 <= s < 300)}"
            f"  3xx {sum(n for s, n in self.by_status.items() if 300 <= s < 400)}"
            f"  4xx {sum(n for s, n in self.by_status.items() if 400 <= s < 500)}"
            f"  5xx {sum(n for s, n in self.by_status.items() if s >= 500)}",
            "errors by code: " + (", ".join(f"{k}: {n}" for k, n in self.errors.items()) or "none"),
            f"requests without an answer: {sum(self.no_answer.values())}"
            + (f" {self.no_answer}" if self.no_answer else ""),
            f"puzzles a visitor could not read (Redis down): {self.unreadable_answers}",
            f"waiting line: {self.waited} creates waited, {self.walked_away} walked away; "
            f"{self.line_samples} samples, {len(self.line_problems)} problems",
            "",
            "faults:",
            *(f"  {t:6.1f}s  {kind:14s} {what}" for t, kind, what in self.faults),
            "",
            f"acknowledged creates: {self.acknowledged}   lost: {len(self.lost)}",
            "containers by final state (acknowledged): "
            + ", ".join(f"{s}: {n}" for s, n in sorted(self.states_acked.items())),
            "records by final state (all): "
            + ", ".join(f"{s}: {n}" for s, n in sorted(self.states_all.items()))
            + f"  (created but not acknowledged: {self.not_acked_but_created})",
            f"orphan pods: {len(self.orphan_pods)}   duplicate pods: {len(self.duplicate_pods)}"
            f"   records disagreeing with the cluster: {len(self.disagreements)}"
            f"   deleted but live: {len(self.deleted_but_live)}",
            "launch time, create -> running (server): " + _format_percentiles(self.launch_server),
            "launch time, 202 -> seen running (visitor, 1 s polls): "
            + _format_percentiles(self.launch_seen),
            f"stream at the end: XINFO GROUPS lag {self.lag}, pending {self.pending_entries}; "
            f"length {self.stream_length}; dead letters {self.dead_letters}",
            "worker metrics: "
            + ", ".join(f"{k} {v:g}" for k, v in sorted(self.worker_counters.items())),
            "",
        ]
        problems = self.violations()
        lines.append("INVARIANTS HOLD" if not problems else "INVARIANTS BROKEN:")
        lines += [f"  - {p}" for p in problems]
        lines.append(f"logs: {self.data_dir}/logs")
        return "\n".join(lines)

    def as_json(self) -> str:
        return json.dumps({**vars(self), "violations": self.violations()}, indent=2, default=str)


def _percentiles(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": percentile(values, 0.50),
        "p95": percentile(values, 0.95),
        "p99": percentile(values, 0.99),
        "max": max(values) if values else float("nan"),
    }


def _format_percentiles(found: dict[str, float]) -> str:
    return (
        f"p50 {found['p50']:.2f} s, p95 {found['p95']:.2f} s, p99 {found['p99']:.2f} s, "
        f"max {found['max']:.2f} s (n={found['n']:.0f})"
    )


def _samples(text: str) -> dict[str, float]:
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--lifetime", type=int, default=90, help="container lifetime, s (>= 60)")
    parser.add_argument("--capacity", type=int, default=100, help="live containers, system-wide")
    parser.add_argument("--line", type=int, default=50, help="places in the waiting line")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data-dir", type=Path, default=None, help="default: a new temp dir")
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = parser.parse_args(argv)
    options = SoakOptions(
        visitors=args.visitors,
        seconds=args.minutes * 60,
        lifetime=args.lifetime,
        capacity=args.capacity,
        line=args.line,
        seed=args.seed,
        data_dir=args.data_dir,
    )
    report = Soak(options, log=lambda line: print(line, flush=True)).run()
    print(report.text(), flush=True)
    if args.json:
        args.json.write_text(report.as_json())
    return 1 if report.violations() else 0


if __name__ == "__main__":
    sys.exit(main())
