"""The worker under a flaky control plane, and killed mid-batch (KEDA-like scaling, SIGKILL)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from deploy.local.redis_server import RedisServer
from deploy.local.scaler import group_lag
from functions.worker import builders
from functions.worker.kube import Kube
from functions.worker.stream import Stream
from functions.worker.tracker import PodTracker
from shared import keys
from shared.context import Context
from shared.settings import ApiSettings, LimitSettings
from tests.conftest import SECRET
from tests.worker.support import (
    Target,
    create,
    delete,
    make_job,
    run_in_thread,
    state,
    template_settings,
    wait_for,
    worker_settings,
)
from tests.worker.test_lifecycle import assert_group_clean

ROOT = Path(__file__).resolve().parents[2]
TERMINAL = {"running", "failed", "deleted"}


@pytest.mark.slow
def test_20_percent_api_errors_and_latency_every_container_ends_with_a_reason(
    target: Target, ctx: Context, redis_server: Any, redis_client: redis.Redis
) -> None:
    target.configure(
        error_rate=0.2,
        error_codes=[500, 503, 429],
        retry_after_seconds=1,
        error_after_commit=0.3,  # some writes happen although the client saw an error
        latency_ms=20,
        jitter_ms=10,
        seed=7,
    )
    # Each delivery tries each call once (the entry is the one retry layer): 15 deliveries
    # are the 15 tries per call that 5 deliveries of 3 tries each used to give.
    settings = worker_settings(target, max_deliveries=15, linger=1.0)
    job, thread = run_in_thread(settings, redis_server.url)
    ids = create(ctx, n=120)
    deleted = ids[::4]
    for container_id in deleted:
        delete(ctx, container_id)
    thread.join(timeout=90)
    assert not thread.is_alive()
    records = {i: state(redis_client, i) for i in ids}
    assert {r["state"] for r in records.values()} <= TERMINAL
    assert {i for i, r in records.items() if r["state"] == "deleted"} == set(deleted)
    for record in records.values():
        if record["state"] == "failed":
            assert record["error"]  # a reason a person can read
    running = {i for i, r in records.items() if r["state"] == "running"}
    assert len(running) >= 0.9 * (len(ids) - len(deleted))  # retries carried nearly all
    stats = target.stats()
    assert sum(stats["faults"].values()) > 50 and "429" in stats["faults"]
    assert job.report.deliveries >= len(ids) + len(deleted)
    creates = stats["requests"]["create"]
    assert creates["pods"] > len(running) and creates["services"] > len(running)  # retried
    target.configure(error_rate=0.0, latency_ms=0, jitter_ms=0)
    # A dead-lettered create removes its objects if the cluster lets it; what is left of them
    # (the cluster failed that too) is an orphan, for the reconcile the next tick starts.
    make_job(settings, redis_server.url).reconciler.run()
    wait_for(
        lambda: target.objects()["pods"] == sorted(builders.object_name(i) for i in running),
        timeout=30,
        what="only the running containers' pods",
    )
    assert_group_clean(redis_client)
    dead: list[tuple[str, dict[str, str]]] = redis_client.xrange(keys.DEAD_LETTER_STREAM)  # type: ignore[assignment]
    assert all(records[f["id"]]["state"] == "failed" for _, f in dead)


def test_the_pod_watch_recovers_when_it_breaks_off(target: Target) -> None:
    settings = worker_settings(target, backoff_base=0.05)
    kube = Kube.connect(settings)
    tracker = PodTracker(kube, backoff_base=0.05, backoff_max=0.2)
    tracker.start()
    wait_for(lambda: tracker.relists >= 1, timeout=10, what="the first list")
    try:
        target.configure(error_rate=1.0, error_codes=[503], fault_verbs=["watch"])
        kube.stop_watch()  # the connection drops; re-watching fails for a while
        wait_for(
            lambda: target.stats()["faults"].get("503", 0) >= 2, timeout=10, what="failed watches"
        )
        target.configure(error_rate=0.0)
        from tests.worker.test_reconcile import make_objects

        make_objects(target, "bbbbbbbbbbbb")
        seen = tracker.wait("bbbbbbbbbbbb", timeout=10)  # woken by the resumed watch
        assert seen is not None and seen.kind == "ready"
        assert tracker.relists >= 2
    finally:
        tracker.stop()
        kube.close()


class Scaler:
    """What KEDA's ScaledJob does for the worker, in miniature: while the group has lag,
    start `sprout-worker` job processes (up to `max_jobs`); a cron runs the tick."""

    def __init__(self, r: redis.Redis, env: dict[str, str], max_jobs: int) -> None:
        self.r = r
        self.env = env
        self.max_jobs = max_jobs
        self.jobs: list[subprocess.Popen[bytes]] = []
        self.started = 0
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.ticks = Stream(r, "tick")
        self.log = open(os.environ.get("SPROUT_TEST_JOB_LOG", os.devnull), "ab")  # noqa: SIM115

    def running(self) -> list[subprocess.Popen[bytes]]:
        return [job for job in self.jobs if job.poll() is None]

    def _run(self) -> None:
        try:
            self._scale()
        except BaseException as exc:
            self.error = exc
            raise

    def _scale(self) -> None:
        next_tick = 0.0
        while not self.stop.wait(0.1):
            if time.monotonic() >= next_tick:
                self.ticks.tick(now=time.time(), min_idle=1.0, reconcile_interval=300)
                next_tick = time.monotonic() + 0.5
            # As KEDA reads it: when Redis cannot count lag (nil: the last delivered entry
            # was deleted while an older one is still pending), the stream's length.
            lag = group_lag(self.r, keys.STREAM, keys.WORKER_GROUP)
            if lag and len(self.running()) < self.max_jobs:
                self.jobs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "functions.worker"],
                        cwd=ROOT,
                        env=self.env,
                        stdout=subprocess.DEVNULL,
                        stderr=self.log,
                    )
                )
                self.started += 1

    def __enter__(self) -> Scaler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        for job in self.jobs:
            if job.poll() is None:
                job.kill()
            job.wait()
        self.log.close()


def holding(r: redis.Redis) -> dict[int, int]:
    """pid -> entries held, for every job consumer that holds some."""
    held: dict[int, int] = {}
    groups = r.xinfo_groups(keys.STREAM)
    if not groups:
        return held
    for consumer in r.xinfo_consumers(keys.STREAM, keys.WORKER_GROUP):
        parts = str(consumer["name"]).rsplit("-", 2)
        if len(parts) == 3 and parts[1].isdigit() and consumer["pending"]:
            held[int(parts[1])] = int(consumer["pending"])
    return held


@pytest.mark.slow
def test_jobs_sigkilled_mid_batch_lose_nothing_and_recover_without_new_traffic(
    target: Target, ctx: Context, redis_server: Any, redis_client: redis.Redis
) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SPROUT_REDIS_URL": redis_server.url,
        "SPROUT_TEMPLATES": __import__("json").dumps(
            [t.model_dump() for t in ctx.templates.templates]
        ),
        **target.worker_env(),
        "SPROUT_WORKER_API_RATE": "100",
        "SPROUT_WORKER_BATCH_SIZE": "20",
        "SPROUT_WORKER_CLAIM_MIN_IDLE": "1.0",
        "SPROUT_WORKER_BACKOFF_BASE": "0.05",
        "SPROUT_WORKER_BACKOFF_MAX": "0.3",
        "SPROUT_WORKER_LOST_AFTER": "30",
        "SPROUT_WORKER_MAX_DELIVERIES": "50",
        "SPROUT_WORKER_LINGER": "0.5",
        "SPROUT_WORKER_READY_DEADLINE": "20",
        "SPROUT_WORKER_LOG_LEVEL": os.environ.get("SPROUT_TEST_JOB_LOG_LEVEL", "WARNING"),
    }
    target.configure(start_delay=0.3)  # pods take a while: kills land while entries are in hand
    rng = random.Random(11)
    ids: list[str] = []
    deleted: list[str] = []
    deleted_set: set[str] = set()
    kills = 0
    started = time.monotonic()
    with Scaler(redis_client, env, max_jobs=3) as scaler:
        # Until 20 kills: each needs a job that started and holds entries. Once the traffic
        # ends, the entries of killed jobs are taken over by new jobs (the tick, the scaler),
        # which are killed in turn; on a busy machine a job starts slowly, so the cap is wide.
        deadline = time.monotonic() + 300
        next_traffic = 0.0
        while kills < 20 and time.monotonic() < deadline:
            if time.monotonic() >= next_traffic and len(ids) < 600:
                # Traffic: creates, and deletes of older ones (live containers stay ~100).
                ids += create(ctx, n=3)
                alive = [i for i in ids[:-3] if i not in deleted_set]
                for container_id in rng.sample(
                    alive, min(len(alive), 2 if len(alive) > 100 else 1)
                ):
                    delete(ctx, container_id)
                    deleted.append(container_id)
                    deleted_set.add(container_id)
                next_traffic = time.monotonic() + 0.25
            held = holding(redis_client)
            victims = [job for job in scaler.running() if held.get(job.pid, 0) > 0]
            if victims:
                time.sleep(rng.uniform(0.0, 0.1))  # somewhere in the middle of its batch
                victim = rng.choice(victims)
                if holding(redis_client).get(victim.pid, 0) > 0:
                    victim.send_signal(signal.SIGKILL)
                    victim.wait()
                    kills += 1
            time.sleep(0.05)
        assert scaler.error is None
        assert kills >= 20, f"only {kills} kills, {scaler.started} jobs, {len(ids)} containers"
        traffic_ended = time.monotonic()
        # No new traffic from here on: the tick and the take-over must finish the work.
        records = wait_for(
            lambda: (
                (r := {i: state(redis_client, i) for i in ids})
                and all(x["state"] in TERMINAL for x in r.values())
                and r
            ),
            timeout=60,
            what="every container to end",
            interval=0.2,
        )
        recovered_in = time.monotonic() - traffic_ended
        wait_for(
            lambda: not scaler.running() and redis_client.xlen(keys.STREAM) == 0,
            timeout=30,
            what="the jobs to drain and exit",
        )
    assert recovered_in < 60
    assert {i for i, r in records.items() if r["state"] == "deleted"} == set(deleted)
    assert {r["state"] for i, r in records.items() if i not in deleted} == {"running"}
    assert redis_client.xlen(keys.DEAD_LETTER_STREAM) == 0  # nothing lost, nothing given up
    pods = target.pods()
    per_container: dict[str, int] = {}
    for pod in pods:
        container_id = pod.metadata.labels[builders.CONTAINER_ID_LABEL]
        per_container[container_id] = per_container.get(container_id, 0) + 1
    assert max(per_container.values()) == 1  # no duplicate pods
    wait_for(
        lambda: (
            sorted(p.metadata.name for p in target.pods())
            == sorted(builders.object_name(i) for i in ids if i not in deleted)
        ),
        timeout=30,
        what="exactly the running containers' pods",
    )
    assert_group_clean(redis_client)
    print(
        f"\n{kills} kills in {traffic_ended - started:.1f} s, {scaler.started} jobs, "
        f"{len(ids)} containers, recovered {recovered_in:.1f} s after traffic"
    )


def test_a_job_waits_out_a_redis_restart_and_carries_on(target: Target, tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", appendonly=True).start()
    ctx = Context.create(
        ApiSettings(redis_url=server.url, secret_key=SECRET),
        LimitSettings(creates_per_hour=100, live_per_address=100, live_per_owner=100),
        template_settings(),
    )
    client = redis.Redis.from_url(server.url, decode_responses=True)
    # It lingers for entries: Redis goes away while it waits on the stream.
    job, thread = run_in_thread(
        worker_settings(target, linger=60.0, redis_outage_grace=30.0), server.url
    )
    try:
        before = create(ctx, n=2)
        wait_for(
            lambda: all(state(client, i)["state"] == "running" for i in before),
            timeout=30,
            what="the first containers running",
        )
        server.stop()  # SIGTERM: the AOF is written; the job's blocked read breaks
        time.sleep(2.5)
        assert thread.is_alive(), "the job ended when Redis went away"
        server.start()  # the same port and data
        after = create(ctx, n=2)
        wait_for(
            lambda: all(state(client, i)["state"] == "running" for i in before + after),
            timeout=30,
            what="the containers created after the restart running",
        )
        assert thread.is_alive()
    finally:
        job.stop()
        thread.join(timeout=30)
        ctx.close()
        client.close()
        server.stop()
    assert not thread.is_alive()
    assert job.report.stopped_by == "stop"
