"""Limits are exact under concurrency, and the client address cannot be spoofed."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from functions.containers.main import ROUTES
from shared import keys
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
    ctx = make_context(capacity=10)
    peers = [f"198.51.100.{i}" for i in range(50)]
    statuses = parallel_creates(ctx, redis_client, peers)
    assert statuses.count(202) == 10
    assert statuses.count(503) == 40
    assert redis_client.zcard(keys.EXPIRY_INDEX) == 10


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
