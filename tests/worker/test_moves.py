"""The record's transition table, move by move, on a real Redis: every legal move lands
where the table says and keeps the live sets and the expiry index in step; every illegal one
changes nothing. Then the reaper and the re-enqueue, the two moves the reconciler makes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from functions.worker.stream import Stream
from shared import keys, lifecycle
from shared.lifecycle import Refused
from shared.records import Record
from shared.redis_client import Scripts
from tests.worker.test_stream import entries

Q, C, S, W = "pending/queued", "pending/creating", "pending/starting", "pending/waiting"
PREPARING = {Q, C, S}

# Written out by hand (not read from the table): where each event may go, from where.
EXPECTED: dict[str, dict[str, str]] = {
    "creating": {s: C for s in PREPARING},
    "starting": {s: S for s in PREPARING},
    "run": {s: "running" for s in PREPARING},
    "fail": {s: "failed" for s in PREPARING},
    "crash": {"running": "failed"},
    "give_up": {s: "failed" for s in [*PREPARING, "running", "deleting"]},
    "delete": {s: "deleting" for s in [*PREPARING, "running", "failed"]},
    "expire": {s: "deleting" for s in [*PREPARING, "running"]},
    "deleted": {"deleting": "deleted"},
    "delete_failed": {"deleting": "failed"},
    "promote": {W: Q},
    "leave": {W: "failed"},
    "withdraw": {W: "deleted"},
}
ALL_STATUSES = sorted(PREPARING | {W, "running", "deleting", "deleted", "failed"})
COUNTED = PREPARING | {W, "running"}  # in the live sets
SLOT = PREPARING | {"running", "deleting"}  # in the expiry index


@pytest.fixture
def scripts(redis_client: redis.Redis) -> Iterator[Scripts]:
    registered = Scripts(redis_client)
    yield registered
    registered.close()


def record(r: redis.Redis, container_id: str, status: str, expires_at: float = 900.0) -> None:
    """A record in `status`, in the indexes a record in that status is in."""
    state, _, phase = status.partition("/")
    fields: Any = {
        "id": container_id,
        "state": state,
        "phase": phase,
        "client": "cl",
        "owner": "ow",
        "network": "nw",
        "expires_at": str(expires_at),
        "updated_at": "1.0",
    }
    if status == W:
        fields["queued_at"] = "1.0"
        r.zadd(keys.line_network("nw"), {container_id: 1.0})
        r.rpush(keys.LINE_RING, "nw")
        r.zadd(keys.LINE_DEADLINES, {container_id: expires_at})
    r.hset(keys.record(container_id), mapping=fields)
    if status in SLOT:
        r.zadd(keys.EXPIRY_INDEX, {container_id: expires_at})
    if status in COUNTED:
        for live_set in (keys.live_by_client("cl"), keys.live_by_owner("ow")):
            r.sadd(live_set, container_id)
        r.sadd(keys.live_by_network("nw"), container_id)


def in_line(r: redis.Redis, container_id: str) -> bool:
    in_network = r.zscore(keys.line_network("nw"), container_id) is not None
    assert in_network == (r.zscore(keys.LINE_DEADLINES, container_id) is not None)
    assert r.lrange(keys.LINE_RING, 0, -1) == (["nw"] if in_network else [])
    return in_network


def status_of(r: redis.Redis, container_id: str) -> str:
    fields: Any = r.hgetall(keys.record(container_id))
    return lifecycle.status(fields.get("state"), fields.get("phase"))


def test_the_table_is_the_one_written_here() -> None:
    table = {
        event: {source: move.target for source in move.sources}
        for event, move in lifecycle.MOVES.items()
        if event not in ("create", "queue")
    }
    assert table == EXPECTED
    assert lifecycle.MOVES["create"].sources == {lifecycle.ABSENT}
    assert lifecycle.MOVES["create"].target == Q


@pytest.mark.parametrize("event", sorted(EXPECTED))
@pytest.mark.parametrize("start", ALL_STATUSES)
def test_every_move_from_every_status(
    redis_client: redis.Redis, scripts: Scripts, start: str, event: str
) -> None:
    container_id = "abcdefgh2345"
    record(redis_client, container_id, start)
    before = redis_client.hgetall(keys.record(container_id))
    target = EXPECTED[event].get(start)
    loaded = Record.from_hash(before)
    assert lifecycle.allows(loaded, event) == (target is not None)

    if target is None:
        with pytest.raises(Refused) as refused:
            lifecycle._apply(scripts, event, container_id, 5.0, error="x")
        assert refused.value.code == "unexpected_state"
        assert redis_client.hgetall(keys.record(container_id)) == before
        final = start
    else:
        moved = lifecycle._apply(scripts, event, container_id, 5.0, error="why")
        assert lifecycle.status(moved.state, moved.phase) == target
        assert status_of(redis_client, container_id) == target
        assert moved.updated_at == 5.0 and moved.error == "why"
        final = target
    in_live = container_id in redis_client.smembers(keys.live_by_client("cl"))
    in_owner = container_id in redis_client.smembers(keys.live_by_owner("ow"))
    in_network = container_id in redis_client.smembers(keys.live_by_network("nw"))
    # A move only ever releases: it leaves what the new status no longer holds, adds nothing.
    assert in_live == in_owner == in_network == (start in COUNTED and final in COUNTED)
    assert in_line(redis_client, container_id) == (start == W and final == W)
    in_index = redis_client.zscore(keys.EXPIRY_INDEX, container_id) is not None
    assert in_index == (start in SLOT and final in SLOT)


def test_a_move_of_a_missing_record_is_refused(scripts: Scripts) -> None:
    with pytest.raises(Refused) as refused:
        lifecycle.mark_running(scripts, "abcdefgh2345", now=1.0, url="https://x/")
    assert refused.value.code == "missing"


def test_named_moves_write_what_they_say(redis_client: redis.Redis, scripts: Scripts) -> None:
    record(redis_client, "aaaaaaaaaaaa", Q)
    lifecycle.mark_creating(scripts, "aaaaaaaaaaaa", now=2.0)
    lifecycle.mark_starting(scripts, "aaaaaaaaaaaa", now=3.0)
    running = lifecycle.mark_running(scripts, "aaaaaaaaaaaa", now=4.0, url="https://a.example/")
    assert (running.state, running.phase, running.url, running.started_at) == (
        "running",
        "",
        "https://a.example/",
        4.0,
    )
    crashed = lifecycle.crash(scripts, "aaaaaaaaaaaa", "It crashed.", now=5.0)
    assert (crashed.state, crashed.error) == ("failed", "It crashed.")
    record(redis_client, "bbbbbbbbbbbb", "deleting")
    assert lifecycle.mark_deleted(scripts, "bbbbbbbbbbbb", now=6.0).state == "deleted"


def test_reap_moves_expired_live_containers_to_deleting_with_an_expire_entry(
    redis_client: redis.Redis, scripts: Scripts
) -> None:
    record(redis_client, "aaaaaaaaaaaa", "running", 100.0)
    record(redis_client, "bbbbbbbbbbbb", Q, 150.0)
    record(redis_client, "cccccccccccc", "running", 500.0)  # not yet
    record(redis_client, "dddddddddddd", "deleting", 100.0)  # its delete entry is coming
    record(redis_client, "ffffffffffff", "failed", 100.0)
    redis_client.zadd(keys.EXPIRY_INDEX, {"ffffffffffff": 100.0})  # left behind somehow
    redis_client.zadd(keys.EXPIRY_INDEX, {"eeeeeeeeeeee": 50.0})  # record gone (TTL)
    assert sorted(lifecycle.reap(scripts, now=200.0)) == ["aaaaaaaaaaaa", "bbbbbbbbbbbb"]
    assert redis_client.hget(keys.record("aaaaaaaaaaaa"), "state") == "deleting"
    assert redis_client.smembers(keys.live_by_client("cl")) == {"cccccccccccc"}
    added = [f for _, f in entries(redis_client)]
    assert [(f["type"], f["id"]) for f in added] == [
        ("expire", "aaaaaaaaaaaa"),
        ("expire", "bbbbbbbbbbbb"),
    ]
    assert redis_client.zrange(keys.EXPIRY_INDEX, 0, -1) == [
        "aaaaaaaaaaaa",
        "dddddddddddd",
        "bbbbbbbbbbbb",
        "cccccccccccc",
    ]  # deleting ones keep their slot until their pod is gone
    assert lifecycle.reap(scripts, now=200.0) == []  # no second entry


def test_requeue_only_if_the_record_did_not_move(
    redis_client: redis.Redis, scripts: Scripts
) -> None:
    record(redis_client, "aaaaaaaaaaaa", Q)
    assert not lifecycle.requeue(
        scripts, "aaaaaaaaaaaa", state="pending", updated_at="0.5", now=10.0
    )
    assert lifecycle.requeue(scripts, "aaaaaaaaaaaa", state="pending", updated_at="1.0", now=10.0)
    ((_, fields),) = entries(redis_client)
    assert fields["type"] == "create" and fields["id"] == "aaaaaaaaaaaa"
    assert redis_client.hget(keys.record("aaaaaaaaaaaa"), "requeues") == "1"
    assert Stream(redis_client, "job-a").outstanding_ids() == {"aaaaaaaaaaaa"}
