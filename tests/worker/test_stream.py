"""The consumer group as jobs use it, on a real Redis: take-over, heartbeats, retries,
dead-lettering, acknowledging and the tick."""

from __future__ import annotations

import time
from typing import Any

import redis

from functions.worker.stream import Stream
from shared import keys


def add(r: redis.Redis, kind: str = "create", container_id: str = "abcdefgh2345") -> str:
    return str(r.xadd(keys.STREAM, {"type": kind, "id": container_id, "at": "1"}))


def entries(r: redis.Redis, name: str = keys.STREAM) -> list[tuple[str, dict[str, str]]]:
    answer: Any = r.xrange(name)
    return [(str(entry_id), dict(fields)) for entry_id, fields in answer]


def entry_ids(r: redis.Redis) -> list[str]:
    return [entry_id for entry_id, _ in entries(r)]


def stream(r: redis.Redis, consumer: str = "job-a") -> Stream:
    s = Stream(r, consumer)
    s.ensure_group()
    return s


def idle_of(r: redis.Redis, entry_id: str) -> int:
    (entry,) = r.xpending_range(keys.STREAM, keys.WORKER_GROUP, entry_id, entry_id, 1)
    return int(entry["time_since_delivered"])


def test_ensure_group_is_idempotent_and_starts_at_the_beginning(redis_client: redis.Redis) -> None:
    first = add(redis_client)  # an entry added before any job ran is still delivered
    s = stream(redis_client)
    s.ensure_group()
    (delivery,) = s.read_new(10)
    assert delivery.entry_id == first and delivery.deliveries == 1
    assert delivery.type == "create" and delivery.container_id == "abcdefgh2345"


def test_a_dead_jobs_entries_are_taken_over_after_min_idle_with_a_delivery_count(
    redis_client: redis.Redis,
) -> None:
    ids = [add(redis_client, container_id=f"abcdefgh{i:04d}".replace("0", "a")) for i in range(3)]
    dead = stream(redis_client, "dead-job")
    assert len(dead.read_new(10)) == 3
    alive = stream(redis_client, "next-job")
    assert alive.claim_stale(min_idle=0.2, count=10) == []  # too fresh: the job may be alive
    time.sleep(0.25)
    claimed = alive.claim_stale(min_idle=0.2, count=2)
    assert [d.entry_id for d in claimed] == ids[:2] and {d.deliveries for d in claimed} == {2}
    rest = alive.claim_stale(min_idle=0.2, count=10)
    assert [d.entry_id for d in rest] == ids[2:]


def test_claim_skips_entries_deleted_meanwhile(redis_client: redis.Redis) -> None:
    entry = add(redis_client)
    stream(redis_client, "dead").read_new(1)
    redis_client.xdel(keys.STREAM, entry)
    assert stream(redis_client, "next").claim_stale(min_idle=0, count=10) == []
    assert redis_client.xpending(keys.STREAM, keys.WORKER_GROUP)["pending"] == 0


def test_heartbeat_keeps_entries_fresh_without_counting_or_stealing(
    redis_client: redis.Redis,
) -> None:
    mine, theirs = add(redis_client), add(redis_client)
    a, b = stream(redis_client, "a"), stream(redis_client, "b")
    a.read_new(1)
    b.read_new(1)
    time.sleep(0.15)
    assert a.heartbeat([mine, theirs]) == 1  # only what it holds
    assert idle_of(redis_client, mine) < 100 <= idle_of(redis_client, theirs)
    (entry,) = redis_client.xpending_range(keys.STREAM, keys.WORKER_GROUP, mine, mine, 1)
    assert entry["consumer"] == "a" and entry["times_delivered"] == 1
    (entry,) = redis_client.xpending_range(keys.STREAM, keys.WORKER_GROUP, theirs, theirs, 1)
    assert entry["consumer"] == "b"


def test_reclaim_own_redelivers_only_what_it_still_holds(redis_client: redis.Redis) -> None:
    kept, taken = add(redis_client), add(redis_client)
    a = stream(redis_client, "a")
    a.read_new(2)
    redis_client.xclaim(keys.STREAM, keys.WORKER_GROUP, "b", 0, [taken])  # b took one over
    (again,) = a.reclaim_own([kept, taken])
    assert again.entry_id == kept and again.deliveries == 2


def test_finish_acknowledges_and_deletes_and_lag_stays_exact(redis_client: redis.Redis) -> None:
    s = stream(redis_client)
    ids = [add(redis_client) for _ in range(5)]
    taken = s.read_new(3)
    s.finish(d.entry_id for d in taken)
    group = s.group_info()
    assert group["pending"] == 0 and group["lag"] == 2  # the two undelivered still count
    assert entry_ids(redis_client) == ids[3:]


def test_dead_letter_moves_the_entry_with_its_story(redis_client: redis.Redis) -> None:
    s = stream(redis_client)
    entry = add(redis_client)
    (delivery,) = s.read_new(1)
    s.dead_letter(delivery, "the API kept failing", now=5.0, maxlen=100)
    assert redis_client.xlen(keys.STREAM) == 0 and s.group_info()["pending"] == 0
    ((_, fields),) = entries(redis_client, keys.DEAD_LETTER_STREAM)
    assert fields == {
        "type": "create",
        "id": "abcdefgh2345",
        "at": "1",
        "entry_id": entry,
        "deliveries": "1",
        "reason": "the API kept failing",
        "dead_at": "5.0",
    }


def test_tick_adds_one_entry_only_when_work_waits_that_lag_cannot_show(
    redis_client: redis.Redis,
) -> None:
    s = Stream(redis_client, "tick")

    def tick(now: float = 1000.0) -> str:
        return s.tick(now=now, min_idle=0.2, reconcile_interval=300)

    redis_client.set(keys.RECONCILED_AT, "999")
    assert tick() == "idle"  # and it created the group
    assert s.group_info()["lag"] == 0
    add(redis_client)
    assert tick() == "lag"  # KEDA sees this one itself
    stream(redis_client, "dies").read_new(10)
    assert tick() == "idle"  # held by a job that may be alive
    time.sleep(0.25)
    assert tick() == "stale"
    assert s.group_info()["lag"] == 1  # the tick entry: KEDA starts a job
    assert tick() == "lag"  # never a second one while the first waits
    s.read_new(10)
    s.finish(entry_ids(redis_client))
    assert tick() == "idle"
    redis_client.hset(
        keys.record("aaaaaaaaaaaa"), mapping={"id": "aaaaaaaaaaaa", "state": "running"}
    )
    redis_client.zadd(keys.EXPIRY_INDEX, {"aaaaaaaaaaaa": 500.0})  # its lifetime ends at 500
    assert tick(now=600.0) == "expired"
    s.read_new(10)
    s.finish(entry_ids(redis_client))
    redis_client.zrem(keys.EXPIRY_INDEX, "aaaaaaaaaaaa")
    redis_client.zadd(keys.LINE_DEADLINES, {"bbbbbbbbbbbb": 700.0})  # a place lapses at 700
    assert tick(now=800.0) == "lapsed"
    s.read_new(10)
    s.finish(entry_ids(redis_client))
    redis_client.zrem(keys.LINE_DEADLINES, "bbbbbbbbbbbb")
    assert tick(now=1298.0) == "idle"
    assert tick(now=1300.0) == "schedule"
    ((_, fields),) = entries(redis_client)
    assert fields["type"] == "reconcile" and fields["reason"] == "schedule"


def test_forget_consumer_only_when_it_holds_nothing(redis_client: redis.Redis) -> None:
    s = stream(redis_client, "a")
    add(redis_client)
    s.read_new(1)
    assert not s.forget_consumer()
    s.finish(entry_ids(redis_client))
    assert s.forget_consumer()
    assert redis_client.xinfo_consumers(keys.STREAM, keys.WORKER_GROUP) == []
