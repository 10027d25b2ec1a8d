"""The local scaler starts worker jobs on consumer-group lag the way KEDA's ScaledJob does."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from deploy.local.scaler import Scaler, Trigger, desired_new_jobs, group_lag

TRIGGER = Trigger(
    stream="container_events", group="workers", lag_count=5, activation_lag_count=0,
    max_replicas=10, polling_interval=0.05,
)  # fmt: skip


@pytest.mark.parametrize(
    ("lag", "running", "expected"),
    [
        (0, 0, 0),  # nothing to do: scale stays at zero
        (1, 0, 1),  # activation at lag > 0
        (5, 0, 1),
        (6, 0, 2),
        (6, 1, 1),  # running jobs count against the target
        (49, 0, 10),
        (1000, 0, 10),  # never more than maxReplicaCount
        (1000, 10, 0),
        (3, 4, 0),
    ],
)
def test_desired_new_jobs_follows_kedas_default_strategy(
    lag: int, running: int, expected: int
) -> None:
    assert desired_new_jobs(TRIGGER, lag, running) == expected


def test_activation_threshold() -> None:
    trigger = Trigger("s", "g", lag_count=5, activation_lag_count=3, max_replicas=10,
                      polling_interval=1)  # fmt: skip
    assert desired_new_jobs(trigger, 3, 0) == 0
    assert desired_new_jobs(trigger, 4, 0) == 1


def test_group_lag_counts_undelivered_entries_only(redis_client) -> None:
    assert group_lag(redis_client, "container_events", "workers") == 0
    for i in range(7):
        redis_client.xadd("container_events", {"i": i})
    assert group_lag(redis_client, "container_events", "workers") == 7  # no group yet
    redis_client.xgroup_create("container_events", "workers", id="0")
    assert group_lag(redis_client, "container_events", "workers") == 7
    redis_client.xreadgroup("workers", "c1", {"container_events": ">"}, count=3)
    assert group_lag(redis_client, "container_events", "workers") == 4


def test_lag_redis_cannot_count_falls_back_to_the_stream_length(redis_client) -> None:
    # A job handled and deleted the last entry it read while an older one is still pending
    # (a dead job's): Redis 7 answers lag nil. Reading that as 0 would start no job while
    # new entries wait (the worker's fault test stalled on exactly that).
    stream, group = "container_events", "workers"
    redis_client.xgroup_create(stream, group, id="0", mkstream=True)
    redis_client.xadd(stream, {"i": 1})
    last = redis_client.xadd(stream, {"i": 2})
    redis_client.xreadgroup(group, "c1", {stream: ">"})
    redis_client.xack(stream, group, last)
    redis_client.xdel(stream, last)
    redis_client.xadd(stream, {"i": 3})
    (info,) = redis_client.xinfo_groups(stream)
    assert info["lag"] is None and info["pending"] == 1
    assert group_lag(redis_client, stream, group) == 2  # XLEN: the pending one and the new one


def test_scaler_starts_jobs_up_to_the_cap_and_lets_them_exit(redis_client) -> None:
    started: list[subprocess.Popen[bytes]] = []

    def start(number: int) -> subprocess.Popen[bytes]:
        job = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"])
        started.append(job)
        return job

    scaler = Scaler(redis_client, TRIGGER, start)
    assert scaler.poll_once() == 0  # no stream: scale to zero
    for i in range(100):
        redis_client.xadd("container_events", {"i": i})
    assert scaler.poll_once() == 10
    assert scaler.poll_once() == 0  # ten still running
    assert scaler.peak == 10
    for job in started:
        job.wait()
    assert scaler.running() == 0
    scaler.stop()


def test_the_tick_runs_on_its_schedule_never_two_at_once(redis_client) -> None:
    ticks: list[subprocess.Popen[bytes]] = []

    def tick() -> subprocess.Popen[bytes]:
        ticks.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"]))
        return ticks[-1]

    scaler = Scaler(redis_client, TRIGGER, lambda n: tick(), start_tick=tick, tick_interval=0.1)
    scaler.maybe_tick()
    assert len(ticks) == 1
    time.sleep(0.15)
    scaler.maybe_tick()  # due, but the first is still running
    assert len(ticks) == 1
    ticks[0].wait()
    scaler.maybe_tick()
    assert len(ticks) == 2
    scaler.maybe_tick()  # not due yet
    assert len(ticks) == 2
    scaler.stop()
    assert all(t.poll() is not None for t in ticks)


def test_a_new_entry_starts_a_job_at_once_not_at_the_next_poll(redis_client) -> None:
    # A poll a minute apart: only the blocking read on the stream can start this job in time.
    slow_polls = Trigger("container_events", "workers", lag_count=5, activation_lag_count=0,
                         max_replicas=10, polling_interval=60)  # fmt: skip
    started: list[subprocess.Popen[bytes]] = []

    def start(number: int) -> subprocess.Popen[bytes]:
        started.append(subprocess.Popen([sys.executable, "-c", "pass"]))
        return started[-1]

    scaler = Scaler(redis_client, slow_polls, start)
    loop = threading.Thread(target=scaler.run)
    loop.start()
    try:
        deadline = time.monotonic() + 30  # half the poll interval: the read must have woken it
        while scaler._last_entry is None:  # the loop has polled once and is waiting on the stream
            assert time.monotonic() < deadline
            time.sleep(0.01)
        redis_client.xadd("container_events", {"type": "create"})
        while not started:
            assert time.monotonic() < deadline, "the scaler waited for its next poll"
            time.sleep(0.01)
        assert scaler.started == 1
    finally:
        scaler.request_stop()
        redis_client.xadd("container_events", {"type": "wake"})  # end the blocking read now
        loop.join(timeout=70)
        scaler.stop()
    assert not loop.is_alive()
