"""The proof of work priced by load on real Redis: the capacity in use, the recent failures of
an address and of its network (every address of a /24 shares them), the cap a person's phone
sets, and the proof-of-work-only path that stays stricter. Containers are created through
`POST /containers`, failures are real refused answers to `POST /captcha/verify`."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from functions.captcha.main import ROUTES as CAPTCHA_ROUTES
from functions.containers.main import ROUTES as CONTAINER_ROUTES
from shared.context import Context
from shared.settings import (
    MAX_PERSON_BITS,
    PERSON_WAIT_SECONDS,
    PHONE_HASHES_PER_SECOND,
    CaptchaSettings,
)
from tests.apps import client_for, create
from tests.captcha_support import captcha_context

CAPACITY = 20
# The default tables (`CaptchaSettings`), the test's bases kept low so nothing here is slow
# to solve: load +1 at 0.5, +2 at 0.75, +3 at 0.9; address failures +1 at 1, +2 at 2, +3 at
# 4; network failures +1 at 5, +2 at 15, +3 at 40; cap 19.
SLIDER, POW = 8, 9
# Every network may fill the whole capacity, so only the capacity limits what these tests fill.
OPEN_LIMITS = {"capacity": CAPACITY, "creates_per_hour": 100, "live_per_address": 100}
OPEN_LIMITS |= {"creates_per_network": 1000, "live_per_network": 1000, "network_share": 1}


def price(ctx: Context, peer: str, mode: str = "slider") -> int:
    answer = client_for(ctx, CAPTCHA_ROUTES, peer).post(
        "/captcha/request", json={"action": "create", "mode": mode}
    )
    assert answer.status_code == 200, answer.get_json()
    return int(answer.get_json()["pow"]["difficulty"])


def fail_once(api: FlaskClient) -> None:
    """A real refused answer: a challenge asked for, answered wrongly."""
    challenge = api.post("/captcha/request", json={"action": "create"}).get_json()
    wrong = {"challenge_id": challenge["challenge_id"], "x": 1, "pow_nonce": "1"}
    assert api.post("/captcha/verify", json=wrong).status_code == 403


@pytest.fixture
def ctx(redis_server, redis_client, clock) -> Context:
    return captcha_context(
        redis_server.url,
        clock,
        limits=OPEN_LIMITS,
        slider_difficulty=SLIDER,
        pow_difficulty=POW,
        max_difficulty=MAX_PERSON_BITS,
    )


def test_the_price_rises_with_capacity_use_level_by_level(ctx, redis_client):
    # Each create from its own network: the price must follow the slots held, nothing else.
    expected_extra = {0: 0, 9: 0, 10: 1, 14: 1, 15: 2, 17: 2, 18: 3, 20: 3}  # held -> bits
    held = 0
    for target, extra in expected_extra.items():
        while held < target:
            peer = f"198.18.{held}.1"
            made = create(client_for(ctx, CONTAINER_ROUTES, peer), redis_client, peer=peer)
            assert made.status_code == 202, made.get_json()
            held += 1
        onlooker = f"192.0.2.{target}"  # a network that holds nothing
        assert price(ctx, onlooker) == SLIDER + extra, f"{held} of {CAPACITY} held"
        assert price(ctx, onlooker, "pow") == POW + extra, f"{held} of {CAPACITY} held"


def test_a_network_s_failures_raise_the_price_for_every_address_in_it(ctx, clock):
    failing, neighbour = "198.51.100.9", "198.51.100.77"  # one /24
    stranger = "203.0.113.50"
    failing_api = client_for(ctx, CAPTCHA_ROUTES, failing)
    # Four addresses of the network fail (each once: +1 for each of them) ...
    for host in (1, 2, 3, 4):
        fail_once(client_for(ctx, CAPTCHA_ROUTES, f"198.51.100.{host}"))
    assert price(ctx, neighbour) == SLIDER  # four network failures: below its first level
    fail_once(failing_api)  # ... and the fifth reaches the network's first level (5: +1)
    assert price(ctx, neighbour) == SLIDER + 1
    assert price(ctx, neighbour, "pow") == POW + 1
    assert price(ctx, stranger) == SLIDER  # another network pays nothing for it
    for _ in range(10):  # 15 failures in the network: its second level
        fail_once(failing_api)
    assert price(ctx, neighbour) == SLIDER + 2
    # The failing address pays the greater of its own level (11 failures: +3) and its network's.
    assert price(ctx, failing) == SLIDER + 3
    clock.advance(601)  # the failure window passed
    assert price(ctx, neighbour) == SLIDER
    assert price(ctx, failing) == SLIDER


def test_an_address_s_own_failures_raise_its_price_level_by_level(ctx, clock):
    api = client_for(ctx, CAPTCHA_ROUTES)
    seen = []
    for _ in range(5):
        seen.append(price(ctx, "203.0.113.7"))
        fail_once(api)
    assert seen == [SLIDER, SLIDER + 1, SLIDER + 2, SLIDER + 2, SLIDER + 3]
    assert price(ctx, "203.0.113.7", "pow") == POW + 3
    assert price(ctx, "198.51.100.9") == SLIDER  # another network
    clock.advance(601)
    assert price(ctx, "203.0.113.7") == SLIDER
    assert price(ctx, "203.0.113.7", "pow") == POW


def test_load_and_failures_add_up_to_the_cap_and_no_further(redis_server, redis_client, clock):
    # The default settings: load +3 and failures +3 on bases 16 and 17 would ask 22 and 23 bits.
    defaults: dict[str, Any] = CaptchaSettings().model_dump(
        include={"slider_difficulty", "pow_difficulty", "max_difficulty"}
    )
    ctx = captcha_context(redis_server.url, clock, limits=OPEN_LIMITS, **defaults)
    assert ctx.captcha.max_difficulty == MAX_PERSON_BITS
    peer = "203.0.113.7"
    for _ in range(4):
        fail_once(client_for(ctx, CAPTCHA_ROUTES, peer))
    assert price(ctx, peer) == ctx.captcha.slider_difficulty + 3
    for held in range(18):  # 0.9 of the capacity: the top load level
        other = f"198.18.{held}.1"
        made = create(client_for(ctx, CONTAINER_ROUTES, other), redis_client, peer=other)
        assert made.status_code == 202
    assert price(ctx, peer) == MAX_PERSON_BITS
    assert price(ctx, peer, "pow") == MAX_PERSON_BITS
    # The cap is what a person's phone does in 5 s on average at most.
    assert 2**MAX_PERSON_BITS / PHONE_HASHES_PER_SECOND <= PERSON_WAIT_SECONDS


def test_the_pow_only_path_stays_stricter(ctx, redis_client):
    # Fewer creates an hour: 2 by proof of work alone, against 5 with the puzzle ...
    api = client_for(ctx, CONTAINER_ROUTES, "192.0.2.1")
    made = [create(api, redis_client, peer="192.0.2.1", mode="pow") for _ in range(3)]
    assert [m.status_code for m in made] == [202, 202, 429]
    assert made[2].get_json()["error"]["details"]["policy"] == "pow_creates_per_address"
    assert create(api, redis_client, peer="192.0.2.1").status_code == 202  # the slider path
    # ... and, below the cap, one bit more work at every level of load.
    for held in range(3, CAPACITY + 1):
        onlooker = f"203.0.113.{held}"
        assert price(ctx, onlooker, "pow") == price(ctx, onlooker) + 1, f"{held} held"
        other = f"198.18.{held}.1"
        create(client_for(ctx, CONTAINER_ROUTES, other), redis_client, peer=other)


def test_the_default_table_never_asks_a_person_for_more_than_the_cap():
    settings = CaptchaSettings()
    top = max(level.bits for level in settings.load_levels) + max(
        level.bits for level in [*settings.failure_levels, *settings.network_failure_levels]
    )
    assert settings.max_difficulty <= MAX_PERSON_BITS
    for mode in ("slider", "pow"):
        assert settings.base(mode) <= settings.max_difficulty
        assert settings.base(mode) + top > settings.max_difficulty  # the cap is what bites
    assert settings.pow_difficulty > settings.slider_difficulty
    # The cap is as high as the phone allows, and not a bit higher.
    assert 2**MAX_PERSON_BITS / PHONE_HASHES_PER_SECOND <= PERSON_WAIT_SECONDS
    assert 2 ** (MAX_PERSON_BITS + 1) / PHONE_HASHES_PER_SECOND > PERSON_WAIT_SECONDS
