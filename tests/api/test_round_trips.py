"""One Redis round trip per request, and no Sprout key without a TTL."""

from __future__ import annotations

import time

from functions.containers.main import ROUTES as CONTAINER_ROUTES
from functions.ratelimit.main import ROUTES as RATELIMIT_ROUTES
from shared import keys
from tests.apps import client_for, create, pass_token
from tests.redis_monitor import sent_commands


def test_each_request_is_one_round_trip(make_context, redis_client, redis_server):
    ctx = make_context()
    api = client_for(ctx, CONTAINER_ROUTES)
    limits_api = client_for(ctx, RATELIMIT_ROUTES)
    # Warm up: the first call of each script loads it (EVALSHA, NOSCRIPT, EVAL).
    created = create(api, redis_client).get_json()
    api.get("/containers")
    api.get(f"/containers/{created['id']}")
    limits_api.get("/rate-limit")
    api.delete(f"/containers/{created['id']}")
    time.sleep(0.1)

    token = pass_token(redis_client)
    with sent_commands(redis_server.url) as seen:
        time.sleep(0.1)
        response = api.post("/containers", json={"template": "nginx", "captcha_token": token})
    assert response.status_code == 202
    assert [c.split()[0] for c in seen] == ["EVALSHA"], seen
    container_id = response.get_json()["id"]

    for method, path, client in [
        ("GET", "/containers", api),
        ("GET", f"/containers/{container_id}", api),
        ("DELETE", f"/containers/{container_id}", api),
        ("GET", "/rate-limit", limits_api),
    ]:
        with sent_commands(redis_server.url) as seen:
            time.sleep(0.1)
            status = client.open(path, method=method).status_code
        assert status in (200, 202)
        assert len(seen) == 1, (method, path, seen)


def test_no_sprout_key_lacks_a_ttl(make_context, redis_client, clock):
    ctx = make_context(live_per_owner=2)
    api = client_for(ctx, CONTAINER_ROUTES)
    other = client_for(ctx, CONTAINER_ROUTES, peer="198.51.100.3")
    limits_api = client_for(ctx, RATELIMIT_ROUTES)
    ids = [create(api, redis_client).get_json()["id"] for _ in range(2)]
    create(api, redis_client)  # refused: owner quota
    api.post("/containers", json={"template": "nginx", "captcha_token": "y" * 20})
    create(other, redis_client, peer="198.51.100.3", mode="pow")
    api.delete(f"/containers/{ids[0]}")
    api.get("/containers")
    limits_api.get("/rate-limit")
    clock.advance(30)
    create(api, redis_client)
    trimmed_by_design = {keys.STREAM, keys.DEAD_LETTER_STREAM, keys.EXPIRY_INDEX}
    for key in redis_client.scan_iter("*"):
        if key in trimmed_by_design:
            continue
        assert redis_client.ttl(key) > 0, f"{key} has no TTL"
