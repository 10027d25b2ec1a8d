"""The waiting line on real Redis: a create waits when every slot is taken, round-robin across
networks, promoted in the same round trip that frees a slot, lost when its page stops
checking, and bad input changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from functions.containers.main import ROUTES as CONTAINER_ROUTES
from shared import keys, lifecycle
from shared.context import Context
from shared.lifecycle import PLACE_LAPSED, WAITED_TOO_LONG, Refused
from tests.apps import client_for, pass_token
from tests.clock import FakeClock
from tests.redis_monitor import sent_commands


class Visitor:
    """One browser at one address."""

    def __init__(self, ctx: Context, r: redis.Redis, address: str) -> None:
        self.r = r
        self.address = address
        self.api: FlaskClient = client_for(ctx, CONTAINER_ROUTES, address)

    def create(self, token: str | None = None) -> Any:
        body = {"template": "nginx", "captcha_token": token or pass_token(self.r, self.address)}
        return self.api.post("/containers", json=body)

    def created(self) -> str:
        answer = self.create()
        assert answer.status_code == 202, answer.get_json()
        return str(answer.get_json()["id"])

    def get(self, container_id: str) -> dict[str, Any]:
        answer = self.api.get(f"/containers/{container_id}")
        assert answer.status_code == 200, answer.get_json()
        return dict(answer.get_json())


def record(r: redis.Redis, container_id: str) -> dict[str, str]:
    fields: Any = r.hgetall(keys.record(container_id))
    return dict(fields)


def phase(r: redis.Redis, container_id: str) -> tuple[str, str]:
    fields = record(r, container_id)
    return fields["state"], fields.get("phase", "")


def entries(r: redis.Redis) -> list[tuple[str, str]]:
    found: Any = r.xrange(keys.STREAM)
    return [(fields["type"], fields["id"]) for _, fields in found]


@pytest.fixture
def full(make_context, redis_client) -> tuple[Context, str, Visitor]:
    """One slot, taken (its id, and the visitor who holds it)."""
    ctx = make_context(capacity=1)
    visitor = Visitor(ctx, redis_client, "192.0.2.1")
    return ctx, visitor.created(), visitor


def test_a_create_waits_in_line_when_every_slot_is_taken(full, redis_client, clock):
    ctx, holder, _ = full
    waiter = Visitor(ctx, redis_client, "198.51.100.1")
    answer = waiter.create()
    assert answer.status_code == 202
    body = answer.get_json()
    assert (body["state"], body["phase"], body["position"]) == ("pending", "waiting", 1)
    assert body["eta_seconds"] == 3600  # the holder ends within its lifetime at the latest
    assert body["expires_at"] == clock.now + 3600  # the place lasts max_wait at most
    assert answer.headers["Location"] == f"/containers/{body['id']}"
    assert entries(redis_client) == [("create", holder)]  # nothing for the cluster yet
    assert waiter.get(body["id"]) == body
    listed = waiter.api.get("/containers").get_json()["containers"]
    assert listed == [body]


def test_a_freed_slot_promotes_the_next_place_in_the_same_round_trip(
    full, redis_client, redis_server, clock
):
    ctx, holder, holder_visitor = full
    waiter = Visitor(ctx, redis_client, "198.51.100.1")
    waiting = waiter.created()
    with pytest.raises(Refused):  # loads the script, so that the count below is its run only
        lifecycle.mark_deleted(ctx.scripts, "abcdefghijkl", now=clock())
    # The holder's owner deletes it: it keeps its slot until its pod is gone.
    holder_visitor.api.delete(f"/containers/{holder}")
    assert phase(redis_client, holder) == ("deleting", "")
    assert phase(redis_client, waiting) == ("pending", "waiting")
    clock.advance(5)

    with sent_commands(redis_server.url) as seen:
        lifecycle.mark_deleted(ctx.scripts, holder, now=clock())  # the worker: pod gone
    assert [command.split()[0] for command in seen] == ["EVALSHA"], seen

    assert phase(redis_client, waiting) == ("pending", "queued")
    assert redis_client.zscore(keys.EXPIRY_INDEX, waiting) == clock.now + 3600
    assert float(record(redis_client, waiting)["expires_at"]) == clock.now + 3600
    assert entries(redis_client)[-1] == ("create", waiting)
    (_, last), *_ = reversed(redis_client.xrange(keys.STREAM))
    assert last["request_id"] == record(redis_client, waiting)["request_id"]
    assert redis_client.zcard(keys.LINE_DEADLINES) == 0
    assert redis_client.llen(keys.LINE_RING) == 0
    body = waiter.get(waiting)
    assert (body["phase"], body["position"], body["eta_seconds"]) == ("queued", None, None)


def test_the_line_is_served_round_robin_across_networks(full, redis_client, clock):
    ctx, holder, _ = full
    crowd = [Visitor(ctx, redis_client, f"203.0.113.{i}") for i in (1, 2, 3)]  # one /24
    crowd_ids = []
    for visitor in crowd:
        crowd_ids.append(visitor.created())
        clock.advance(1)
    late = [Visitor(ctx, redis_client, "198.51.100.7"), Visitor(ctx, redis_client, "192.0.2.99")]
    late_ids = [late[0].created(), late[1].created()]
    # The crowd's second and third wait behind the later visitors of other networks.
    expected = [crowd_ids[0], *late_ids, crowd_ids[1], crowd_ids[2]]
    visitors = dict(zip(crowd_ids + late_ids, crowd + late, strict=True))
    assert [visitors[i].get(i)["position"] for i in expected] == [1, 2, 3, 4, 5]

    promoted, slot = [], holder
    for _ in expected:
        clock.advance(1)
        lifecycle.fail(ctx.scripts, slot, "It ended.", now=clock())  # frees the one slot
        (slot,) = [i for i in expected if phase(redis_client, i) == ("pending", "queued")]
        promoted.append(slot)
        lifecycle.mark_creating(ctx.scripts, slot, now=clock())  # on its way: not "queued"
        waiting = [i for i in expected if phase(redis_client, i) == ("pending", "waiting")]
        assert sorted(visitors[i].get(i)["position"] for i in waiting) == list(
            range(1, len(waiting) + 1)
        )
    assert promoted == expected


def test_the_eta_follows_the_rate_of_recent_releases(make_context, redis_client, clock):
    ctx = make_context(capacity=1, place_timeout=300)  # no place lapses here
    holder = Visitor(ctx, redis_client, "192.0.2.1").created()
    visitors = [Visitor(ctx, redis_client, f"198.51.{n}.1") for n in range(5)]
    ids = [v.created() for v in visitors]
    slot = holder
    for _ in range(3):  # a slot frees every 10 s
        clock.advance(10)
        lifecycle.fail(ctx.scripts, slot, "It ended.", now=clock())
        (slot,) = [i for i in ids if phase(redis_client, i) == ("pending", "queued")]
    # 3 releases over the last 20 s: one every 6.7 s.
    assert [visitors[n].get(ids[n])["eta_seconds"] for n in (3, 4)] == [7, 14]
    clock.advance(30)  # nothing freed since: the rate slows
    assert [visitors[n].get(ids[n])["eta_seconds"] for n in (3, 4)] == [17, 34]


def test_a_waiting_visitor_who_stops_checking_loses_the_place(make_context, redis_client, clock):
    ctx = make_context(capacity=1, place_timeout=30)
    holder = Visitor(ctx, redis_client, "192.0.2.1").created()
    gone, stays = Visitor(ctx, redis_client, "198.51.1.1"), Visitor(ctx, redis_client, "198.51.2.1")
    gone_id, stays_id = gone.created(), stays.created()
    assert stays.get(stays_id)["position"] == 2
    for _ in range(3):  # only one of them keeps checking
        clock.advance(15)
        stays.get(stays_id)
    left = gone.get(gone_id)
    assert (left["state"], left["error"], left["position"]) == ("failed", PLACE_LAPSED, None)
    assert stays.get(stays_id)["position"] == 1
    assert gone_id not in redis_client.smembers(keys.LIVE_BY_CLIENT_PREFIX + record(
        redis_client, gone_id)["client"])  # fmt: skip
    lifecycle.fail(ctx.scripts, holder, "It ended.", now=clock())
    assert phase(redis_client, stays_id) == ("pending", "queued")  # the slot went to who stayed


def test_looking_at_the_list_keeps_a_place_but_never_past_max_wait(
    make_context, redis_client, clock
):
    ctx = make_context(capacity=1, place_timeout=30, max_wait=120)
    Visitor(ctx, redis_client, "192.0.2.1").created()
    waiter = Visitor(ctx, redis_client, "198.51.1.1")
    waiting = waiter.created()
    for _ in range(4):
        clock.advance(25)
        (listed,) = waiter.api.get("/containers").get_json()["containers"]
        assert (listed["phase"], listed["position"]) == ("waiting", 1)
    ttl = redis_client.ttl(keys.record(waiting))
    assert 0 < ttl <= 24 * 3600 + 120  # never more than its place and a record's TTL
    clock.advance(25)  # 125 s after it joined
    (listed,) = waiter.api.get("/containers").get_json()["containers"]
    assert (listed["state"], listed["error"]) == ("failed", WAITED_TOO_LONG)


def test_each_address_and_network_holds_only_a_few_places(make_context, redis_client):
    ctx = make_context(capacity=1, places_per_address=1, places_per_network=2)
    Visitor(ctx, redis_client, "192.0.2.1").created()
    first = Visitor(ctx, redis_client, "203.0.113.1")
    first.created()
    again = first.create()
    assert again.status_code == 429
    error = again.get_json()["error"]
    assert error["details"]["policy"] == "places_per_address"
    assert "Your address already holds 1 place in the waiting line" in error["message"]
    Visitor(ctx, redis_client, "203.0.113.2").created()
    crowded = Visitor(ctx, redis_client, "203.0.113.3").create()
    assert crowded.status_code == 429
    assert crowded.get_json()["error"]["details"]["policy"] == "places_per_network"
    assert crowded.headers["RateLimit-Policy"] == '"places_per_network";q=2'
    Visitor(ctx, redis_client, "198.51.100.9").created()  # another network still gets one
    assert redis_client.zcard(keys.LINE_DEADLINES) == 3


def test_forged_or_foreign_places_and_reused_passes_change_nothing(full, redis_client):
    ctx, _, _ = full
    waiter = Visitor(ctx, redis_client, "198.51.100.1")
    token = pass_token(redis_client, waiter.address)
    waiting = waiter.create(token).get_json()
    deadline = redis_client.zscore(keys.LINE_DEADLINES, waiting["id"])
    before = record(redis_client, waiting["id"])

    stranger = Visitor(ctx, redis_client, "203.0.113.5")
    stranger.created()  # a visitor with a place of their own
    answers = [
        stranger.api.get(f"/containers/{waiting['id']}"),
        stranger.api.delete(f"/containers/{waiting['id']}"),
        stranger.api.get("/containers/abcdefghijkl"),  # a made-up place
        stranger.api.delete("/containers/abcdefghijkl"),
        waiter.create(token),  # the same pass, to queue twice
    ]
    assert [a.status_code for a in answers] == [404, 404, 404, 404, 403]
    for answer in answers:
        error = answer.get_json()["error"]
        assert set(error) <= {"code", "message", "details"} and error["message"]
    assert answers[-1].get_json()["error"]["code"] == "captcha_invalid"
    assert record(redis_client, waiting["id"]) == before
    assert redis_client.zscore(keys.LINE_DEADLINES, waiting["id"]) == deadline
    assert redis_client.zcard(keys.LINE_DEADLINES) == 2  # the waiter's and the stranger's
    assert waiter.get(waiting["id"])["position"] == 1


def test_deleting_a_waiting_container_gives_up_its_place_at_once(full, redis_client):
    ctx, holder, _ = full
    waiter = Visitor(ctx, redis_client, "198.51.100.1")
    waiting = waiter.created()
    for _ in range(2):  # a second delete answers the same
        answer = waiter.api.delete(f"/containers/{waiting}")
        assert answer.status_code == 202
        assert answer.get_json()["state"] == "deleted"
    assert entries(redis_client) == [("create", holder)]  # nothing for the cluster to do
    assert redis_client.zcard(keys.LINE_DEADLINES) == 0
    assert redis_client.llen(keys.LINE_RING) == 0
    client = record(redis_client, waiting)["client"]
    assert waiting not in redis_client.smembers(keys.live_by_client(client))


def test_no_key_of_the_line_lacks_a_ttl(make_context, redis_client, clock: FakeClock):
    ctx = make_context(capacity=1, place_timeout=30)
    holder = Visitor(ctx, redis_client, "192.0.2.1").created()
    stays = Visitor(ctx, redis_client, "198.51.1.1")
    stays_id = stays.created()
    Visitor(ctx, redis_client, "198.51.2.1").created()  # will lapse
    for _ in range(2):
        clock.advance(20)
        stays.get(stays_id)
    lifecycle.fail(ctx.scripts, holder, "It ended.", now=clock())  # promotes; notes a release
    Visitor(ctx, redis_client, "198.51.3.1").created()  # waits again
    present = set(redis_client.scan_iter("*"))
    assert {keys.LINE_RELEASES, keys.LINE_SETTINGS, keys.LINE_RING} <= present
    trimmed_by_design = {keys.STREAM, keys.DEAD_LETTER_STREAM, keys.EXPIRY_INDEX}
    for key in present - trimmed_by_design:
        assert redis_client.ttl(key) > 0, f"{key} has no TTL"
