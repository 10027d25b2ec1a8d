"""Limits are exact under concurrency, and the client address cannot be spoofed."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from functions.containers.main import ROUTES
from shared import identity, keys
from tests.apps import client_for, pass_token


def parallel_creates(ctx, redis_client, peers: list[str]) -> list[int]:
    tokens = [pass_token(redis_client, peer) for peer in peers]
    clients = [client_for(ctx, ROUTES, peer) for peer in peers]

    def one(i: int) -> int:
        body = {"template": "nginx", "captcha_token": tokens[i]}
        return int(clients[i].post("/containers", json=body).status_code)

    with ThreadPoolExecutor(max_workers=32) as pool:
        return list(pool.map(one, range(len(peers))))


def test_200_parallel_creates_from_one_address_admit_exactly_the_limit(make_context, redis_client):
    ctx = make_context(creates_per_hour=5, live_per_address=100, live_per_owner=100)
    statuses = parallel_creates(ctx, redis_client, ["203.0.113.50"] * 200)
    assert statuses.count(202) == 5
    assert statuses.count(429) == 195
    assert redis_client.xlen(keys.STREAM) == 5


def test_50_parallel_creates_against_capacity_10_admit_exactly_10(make_context, redis_client):
    ctx = make_context(capacity=10, line_length=0)  # no waiting line: full is full
    peers = [f"198.51.{i}.7" for i in range(50)]  # 50 networks: no network's limits apply
    statuses = parallel_creates(ctx, redis_client, peers)
    assert statuses.count(202) == 10
    assert statuses.count(503) == 40
    assert redis_client.zcard(keys.EXPIRY_INDEX) == 10


def test_50_parallel_creates_against_capacity_10_and_a_line_of_15(make_context, redis_client):
    ctx = make_context(capacity=10, line_length=15)
    peers = [f"198.51.{i}.7" for i in range(50)]
    statuses = parallel_creates(ctx, redis_client, peers)
    assert statuses.count(202) == 25
    assert statuses.count(503) == 25
    assert redis_client.zcard(keys.EXPIRY_INDEX) == 10
    assert redis_client.zcard(keys.LINE_DEADLINES) == 15
    assert redis_client.xlen(keys.STREAM) == 10  # only those with a slot are on their way


ONE_NETWORK = [f"203.0.113.{i}" for i in range(1, 201)]  # 200 addresses of one /24


def test_200_parallel_creates_from_one_network_admit_exactly_its_hourly_limit(
    make_context, redis_client
):
    ctx = make_context(creates_per_network=7, live_per_network=1000, capacity=10_000)
    statuses = parallel_creates(ctx, redis_client, ONE_NETWORK)
    assert statuses.count(202) == 7
    assert statuses.count(429) == 193
    assert redis_client.xlen(keys.STREAM) == 7


def test_200_parallel_creates_from_one_network_admit_exactly_its_live_limit(
    make_context, redis_client
):
    ctx = make_context(creates_per_network=1000, live_per_network=6, capacity=10_000)
    statuses = parallel_creates(ctx, redis_client, ONE_NETWORK)
    assert statuses.count(202) == 6
    assert statuses.count(429) == 194


def test_200_parallel_creates_from_one_network_admit_exactly_its_share_of_capacity(
    make_context, redis_client
):
    # 10% of 120: 12 live containers; the other networks' visitors still get in.
    ctx = make_context(creates_per_network=1000, live_per_network=1000, capacity=120)
    others = [f"198.51.{i}.9" for i in range(20)]
    statuses = parallel_creates(ctx, redis_client, ONE_NETWORK + others)
    assert statuses[:200].count(202) == 12
    assert statuses[200:] == [202] * 20
    assert redis_client.zcard(keys.EXPIRY_INDEX) == 32


def bucket_of(make_context, redis_client, peer: str, headers: dict[str, str]) -> str:
    """Create once and answer which address bucket the create was charged to."""
    ctx = make_context()
    api = client_for(ctx, ROUTES, peer)
    before = set(redis_client.keys(keys.creates_by_client("*")))
    token_peer = headers.get("X-Real-Ip", peer) if peer.startswith("10.") else peer
    token = pass_token(redis_client, token_peer)
    response = api.post(
        "/containers", json={"template": "nginx", "captcha_token": token}, headers=headers
    )
    assert response.status_code == 202, response.get_json()
    (charged,) = set(redis_client.keys(keys.creates_by_client("*"))) - before
    return str(charged)


def test_spoofed_forwarding_headers_from_an_untrusted_peer_do_not_move_the_bucket(
    make_context, redis_client
):
    plain = bucket_of(make_context, redis_client, "203.0.113.9", {})
    redis_client.flushall()
    spoofed = bucket_of(
        make_context,
        redis_client,
        "203.0.113.9",
        {"X-Forwarded-For": "198.51.100.77", "X-Real-Ip": "198.51.100.77"},
    )
    assert spoofed == plain


def test_a_trusted_proxy_moves_the_caller_to_the_real_address(make_context, redis_client):
    direct = bucket_of(make_context, redis_client, "198.51.100.77", {})
    redis_client.flushall()
    proxied = bucket_of(make_context, redis_client, "10.1.2.3", {"X-Real-Ip": "198.51.100.77"})
    assert proxied == direct
    redis_client.flushall()
    # X-Forwarded-For is never read, even from a trusted proxy.
    forwarded_only = bucket_of(
        make_context, redis_client, "10.1.2.3", {"X-Forwarded-For": "198.51.100.77"}
    )
    assert forwarded_only != direct


def test_a_network_is_the_configured_prefix_around_the_address():
    assert identity.network_of("203.0.113.7", 24, 48) == "203.0.113.0/24"
    assert identity.network_of("203.0.113.7", 16, 48) == "203.0.0.0/16"
    assert identity.network_of("2001:db8:1:2::/64", 24, 48) == "2001:db8:1::/48"
    assert identity.network_of("2001:db8:1:2::/64", 24, 64) == "2001:db8:1:2::/64"
    assert identity.network_of("unknown", 24, 48) == "unknown"


def test_the_prefix_lengths_are_settings(make_context, redis_client):
    ctx = make_context(network_prefix_v4=16, live_per_network=1, live_per_address=1)
    statuses = parallel_creates(ctx, redis_client, ["203.0.1.1", "203.0.2.2", "203.1.0.1"])
    assert sorted(statuses[:2]) == [202, 429]  # they share a /16
    assert statuses[2] == 202
