"""A challenge for a create is refused before the puzzle, on real Redis, when the create it
would pay for would be refused anyway: the create's own policy and wording (429), or every slot
and the waiting line full (503). Nothing is stored for a refused challenge, and a create that
would wait in line still gets its challenge."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from functions.captcha.main import ROUTES as CAPTCHA_ROUTES
from functions.containers.main import ROUTES as CONTAINER_ROUTES
from shared import keys, limits
from shared.context import Context
from shared.identity import OWNER_COOKIE, OWNER_TOKEN_HEADER, client_hash
from shared.settings import LimitSettings
from tests.apps import client_for, pass_token
from tests.captcha_support import captcha_context
from tests.clock import FakeClock
from tests.conftest import SECRET

HOLDER = "192.0.2.1"  # each address on its own network
WAITER = "198.51.100.1"
LATE = "203.0.113.7"


class Browser:
    """One browser at one address: asks for challenges, creates with passes."""

    def __init__(self, ctx: Context, r: redis.Redis, address: str) -> None:
        self.r, self.address = r, address
        self.captcha: FlaskClient = client_for(ctx, CAPTCHA_ROUTES, address)
        self.containers: FlaskClient = client_for(ctx, CONTAINER_ROUTES, address)

    def ask(self, mode: str = "slider") -> Any:
        return self.captcha.post("/captcha/request", json={"action": "create", "mode": mode})

    def created(self, mode: str = "slider") -> dict[str, Any]:
        order = {"template": "nginx", "captcha_token": pass_token(self.r, self.address, mode)}
        answer = self.containers.post("/containers", json=order)
        assert answer.status_code == 202, answer.get_json()
        owner = answer.headers.get(OWNER_TOKEN_HEADER)
        if owner:  # the page keeps the cookie for both functions (one origin)
            self.captcha.set_cookie(OWNER_COOKIE, owner)
            self.containers.set_cookie(OWNER_COOKIE, owner)
        return dict(answer.get_json())


def stored_challenges(r: redis.Redis) -> list[str]:
    return sorted(r.scan_iter(keys.captcha_challenge("*")))


def challenges_charged(r: redis.Redis, address: str) -> int:
    return int(r.zcard(keys.challenges_by_client(client_hash(SECRET, address))))


@pytest.fixture
def context(redis_server, clock):
    built: list[Context] = []

    def build(**limit: int) -> Context:
        built.append(captcha_context(redis_server.url, clock, limits=limit))
        return built[-1]

    yield build
    for ctx in built:
        ctx.close()


def test_a_used_up_hourly_quota_refuses_the_challenge_in_its_own_words(
    context, redis_client, clock: FakeClock
):
    ctx = context(creates_per_hour=2)
    browser = Browser(ctx, redis_client, LATE)
    browser.created()
    clock.advance(600)
    browser.created()
    clock.advance(60)

    refused = browser.ask()
    assert refused.status_code == 429
    error = refused.get_json()["error"]
    wait = 3600 - 660  # the first create leaves the hour
    assert error["code"] == "rate_limited"
    assert error["details"] == {
        "policy": "creates_per_address", "retry_after": wait, "scope": "address", "limit": 2,
        "resets_at": int(clock.now) + wait,
    }  # fmt: skip
    assert error["message"] == limits.POLICIES["creates_per_address"].refusal.format(
        limit=2, wait="49 minutes"
    )
    assert error["message"].startswith("Hourly limit reached: 2 new containers an hour")
    assert refused.headers["Retry-After"] == str(wait)
    # The create's policy, used up, and the challenge limit the request was charged to.
    assert refused.headers["RateLimit"] == (
        f'"creates_per_address";r=0;t={wait}, "challenges_per_address";r=19;t=60'
    )
    assert refused.headers["RateLimit-Policy"] == (
        '"creates_per_address";q=2;w=3600, "challenges_per_address";q=20;w=60'
    )
    assert stored_challenges(redis_client) == []  # nobody gets a puzzle to solve in vain
    assert challenges_charged(redis_client, LATE) == 1  # asking still counts

    clock.advance(wait)  # the oldest create leaves the hour: a puzzle again
    assert browser.ask().status_code == 200
    assert len(stored_challenges(redis_client)) == 1


def test_each_policy_refuses_in_its_own_words(context, redis_client, clock):
    ctx = context(live_per_owner=1, live_per_address=3)
    browser = Browser(ctx, redis_client, LATE)
    browser.created()

    refused = browser.ask()  # this browser already holds its one container
    assert refused.status_code == 429
    error = refused.get_json()["error"]
    assert error["details"]["policy"] == "live_per_owner"
    assert error["details"]["scope"] == "owner"
    assert error["message"] == (
        "You already have 1 container. Delete one to start another, or wait until one ends "
        "(in 60 minutes at the latest)."
    )
    assert refused.headers["RateLimit"].startswith('"live_per_owner";r=0;t=3600')
    # Another browser at the same address has no container of its own: its puzzle is served.
    other = Browser(ctx, redis_client, LATE)
    assert other.ask().status_code == 200
    assert len(stored_challenges(redis_client)) == 1


def test_the_pow_path_has_its_own_quota_and_words(context, redis_client):
    ctx = context(pow_creates_per_hour=1)
    browser = Browser(ctx, redis_client, LATE)
    browser.created("pow")
    refused = browser.ask("pow")
    assert refused.status_code == 429
    error = refused.get_json()["error"]
    assert error["details"]["policy"] == "pow_creates_per_address"
    assert "with the puzzle you may start one now" in error["message"]
    assert browser.ask("slider").status_code == 200  # the puzzle path is still open


def test_a_create_that_would_wait_in_line_still_gets_its_challenge(context, redis_client):
    ctx = context(capacity=1, line_length=1)
    Browser(ctx, redis_client, HOLDER).created()  # the one slot is taken
    waiter = Browser(ctx, redis_client, WAITER)
    issued = waiter.ask()
    assert issued.status_code == 200  # the create would wait for a slot: worth solving
    assert stored_challenges(redis_client) == [
        keys.captcha_challenge(issued.get_json()["challenge_id"])
    ]
    assert waiter.created()["phase"] == "waiting"


def test_every_slot_and_the_line_full_refuses_the_challenge(context, redis_client, clock):
    ctx = context(capacity=1, line_length=1)
    Browser(ctx, redis_client, HOLDER).created()
    Browser(ctx, redis_client, WAITER).created()  # the line's one place
    late = Browser(ctx, redis_client, LATE)

    refused = late.ask()
    assert refused.status_code == 503
    error = refused.get_json()["error"]
    assert error["code"] == "capacity_full"
    assert error["message"].startswith("Every slot is taken and the waiting line is full too.")
    retry_after = error["details"]["retry_after"]
    assert error["details"] == {
        "policy": "capacity", "retry_after": retry_after, "resets_at": int(clock.now) + retry_after
    }  # fmt: skip
    assert refused.headers["Retry-After"] == str(retry_after)
    assert 1 <= retry_after <= LimitSettings().max_wait
    assert stored_challenges(redis_client) == []


def test_a_full_waiting_line_refuses_from_an_address_that_already_holds_a_place(
    context, redis_client
):
    ctx = context(capacity=1, line_length=5, places_per_address=1)
    Browser(ctx, redis_client, HOLDER).created()
    waiter = Browser(ctx, redis_client, WAITER)
    waiter.created()  # holds its address's one place
    refused = Browser(ctx, redis_client, WAITER).ask()  # another browser, the same address
    assert refused.status_code == 429
    assert refused.get_json()["error"]["details"]["policy"] == "places_per_address"
    assert stored_challenges(redis_client) == []
    assert Browser(ctx, redis_client, LATE).ask().status_code == 200  # the line has room
