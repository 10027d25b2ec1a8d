"""Transfer codes on real Redis: a code carries the owner to another browser (the owner cookie,
set as a create sets it), once, for ten minutes, within the rate limits; bad codes are a clear
4xx and change nothing."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from flask.testing import FlaskClient

from functions.containers.main import ROUTES as CONTAINER_ROUTES
from shared import keys, transfer
from shared.context import Context
from shared.errors import NotFound
from shared.identity import OWNER_COOKIE, OWNER_TOKEN_HEADER
from tests.apps import client_for, create
from tests.clock import FakeClock
from tests.redis_monitor import sent_commands

HOME = "203.0.113.7"  # the browser that has the containers
PHONE = "198.51.100.20"  # the other device, on another network
SHOWN = re.compile(r"^[2-9A-HJKMNP-TV-Z]{5}-[2-9A-HJKMNP-TV-Z]{5}$")


@pytest.fixture
def ctx(make_context) -> Context:
    built: Context = make_context()
    return built


@pytest.fixture
def home(ctx, redis_client) -> FlaskClient:
    """A browser at HOME that has created one container (and so holds the owner cookie)."""
    browser = client_for(ctx, CONTAINER_ROUTES, HOME)
    assert create(browser, redis_client, peer=HOME).status_code == 202
    return browser


def phone(ctx: Context, address: str = PHONE) -> FlaskClient:
    return client_for(ctx, CONTAINER_ROUTES, address)


def make_code(browser: FlaskClient) -> dict[str, Any]:
    answer = browser.post("/containers/transfer")
    assert answer.status_code == 201, answer.get_json()
    return dict(answer.get_json())


def redeem(browser: FlaskClient, code: str) -> Any:
    return browser.post("/containers/transfer/redeem", json={"code": code})


def test_a_code_carries_the_containers_to_another_browser(ctx, home, redis_client, clock):
    made = home.post("/containers/transfer")
    assert made.status_code == 201
    body = made.get_json()
    assert set(body) == {"code", "link", "expires_at"}
    assert SHOWN.match(body["code"])
    assert body["link"] == "/?transfer=" + body["code"].replace("-", "")
    assert body["expires_at"] == clock.now + 600
    assert made.headers["RateLimit-Policy"] == '"transfers_per_address";q=10;w=3600'
    assert made.headers["RateLimit"] == '"transfers_per_address";r=9;t=3600'

    other = phone(ctx)
    assert other.get("/containers").get_json()["containers"] == []
    redeemed = redeem(other, body["code"])
    assert redeemed.status_code == 200
    mine = home.get("/containers").get_json()["containers"]
    assert redeemed.get_json()["containers"] == mine and len(mine) == 1
    secret = redeemed.headers[OWNER_TOKEN_HEADER]
    assert redeemed.headers["Set-Cookie"] == (
        f"sprout_owner={secret}; Max-Age=2592000; HttpOnly; Path=/; SameSite=Strict"
    )
    assert redeemed.headers["RateLimit"] == (
        '"redeems_per_address";r=19;t=3600, "redeems_per_network";r=59;t=3600'
    )
    # The phone is that owner now: it sees and may delete the container; so may the home one.
    assert other.get("/containers").get_json()["containers"] == mine
    deleted = other.delete(f"/containers/{mine[0]['id']}")
    assert deleted.status_code == 202
    assert home.get(f"/containers/{mine[0]['id']}").get_json()["state"] == "deleting"


def test_a_code_works_once(ctx, home):
    code = make_code(home)["code"]
    assert redeem(phone(ctx), code).status_code == 200
    again = redeem(phone(ctx, "192.0.2.55"), code)
    assert again.status_code == 404
    error = again.get_json()["error"]
    assert error["code"] == "transfer_code_unknown"
    assert error["message"].startswith("This transfer code is unknown or was used already.")
    assert "Set-Cookie" not in again.headers


def test_racing_redeems_of_one_code_hand_it_over_once(ctx, home):
    code = make_code(home)["code"]
    browsers = [phone(ctx, f"198.51.100.{i}") for i in range(8)]
    start = threading.Barrier(len(browsers))
    statuses: list[int] = []

    def race(browser: FlaskClient) -> None:
        start.wait()
        statuses.append(redeem(browser, code).status_code)

    threads = [threading.Thread(target=race, args=(b,)) for b in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [404] * 7


def test_a_code_expires_after_ten_minutes(ctx, home, redis_client, clock: FakeClock):
    code = make_code(home)["code"]
    (key,) = redis_client.scan_iter(keys.transfer_code("*"))
    assert 590 <= redis_client.ttl(key) <= 600  # Redis drops it by itself as well
    clock.advance(600)
    late = redeem(phone(ctx), code)
    assert late.status_code == 404
    error = late.get_json()["error"]
    assert error["code"] == "transfer_code_expired"
    assert error["message"].startswith("This transfer code has expired.")
    assert "Set-Cookie" not in late.headers
    assert list(redis_client.scan_iter(keys.transfer_code("*"))) == []  # gone once tried


def test_a_code_is_typed_in_either_case_with_or_without_its_dash(ctx, home):
    code = make_code(home)["code"]
    assert redeem(phone(ctx), code.lower().replace("-", "")).status_code == 200
    code = make_code(home)["code"]
    assert redeem(phone(ctx), code.lower()).status_code == 200


def test_redis_keeps_only_a_hash_of_the_code_and_a_sealed_owner(ctx, home, redis_client):
    code = make_code(home)["code"]
    (key,) = redis_client.scan_iter(keys.transfer_code("*"))
    plain = code.replace("-", "")
    assert plain not in key and code not in key
    owner = home.get_cookie(OWNER_COOKIE)
    assert owner is not None and owner.value not in redis_client.get(key)
    # ... and the code opens it again, in another browser.
    other = phone(ctx)
    assert redeem(other, code).status_code == 200
    carried = other.get_cookie(OWNER_COOKIE)
    assert carried is not None and carried.value == owner.value


def test_making_a_code_needs_an_owner(ctx):
    answer = phone(ctx).post("/containers/transfer")
    assert answer.status_code == 404
    error = answer.get_json()["error"]
    assert error["code"] == "no_owner"
    assert error["message"] == (
        "This browser has no containers to carry to another device yet: create one first."
    )


@pytest.mark.parametrize(
    "body",
    [
        {"code": "ABCDE-FGHI1"},  # 1 and I are not in the alphabet
        {"code": "ABCDE-FGH"},
        {"code": "ABCDE--FGHJK"},
        {"code": 1234567890},
        {"code": "ABCDE-FGHJK", "owner": "x"},
        {},
    ],
)
def test_a_malformed_code_is_refused_and_costs_nothing(ctx, redis_client, body):
    answer = phone(ctx).post("/containers/transfer/redeem", json=body)
    assert answer.status_code == 422
    assert answer.get_json()["error"]["code"] == "invalid_field"
    assert list(redis_client.scan_iter(keys.PREFIX + "rl:*")) == []


def test_an_unknown_code_is_a_404_and_no_cookie(ctx):
    answer = redeem(phone(ctx), "ABCDE-FGHJK")
    assert answer.status_code == 404
    assert answer.get_json()["error"]["code"] == "transfer_code_unknown"
    assert "Set-Cookie" not in answer.headers and OWNER_TOKEN_HEADER not in answer.headers


def test_making_codes_is_rate_limited_per_address(make_context, redis_client, clock):
    ctx = make_context(transfers_per_hour=2)
    home = client_for(ctx, CONTAINER_ROUTES, HOME)
    create(home, redis_client, peer=HOME)
    make_code(home)
    clock.advance(100)
    make_code(home)
    refused = home.post("/containers/transfer")
    assert refused.status_code == 429
    error = refused.get_json()["error"]
    assert error["details"]["policy"] == "transfers_per_address"
    assert error["details"]["retry_after"] == 3500
    assert error["message"] == (
        "Too many transfer codes made from your address: 2 an hour. Try again in 59 minutes."
    )
    assert refused.headers["RateLimit"] == '"transfers_per_address";r=0;t=3500'
    assert len(list(redis_client.scan_iter(keys.transfer_code("*")))) == 2


def test_trying_codes_is_rate_limited_per_address_and_per_network(make_context, redis_client):
    ctx = make_context(redeems_per_hour=2, redeems_per_network=3)
    home = client_for(ctx, CONTAINER_ROUTES, HOME)
    create(home, redis_client, peer=HOME)
    code = make_code(home)["code"]
    guesser = phone(ctx, "198.51.100.1")
    assert [redeem(guesser, "ABCDE-FGHJK").status_code for _ in range(2)] == [404, 404]
    refused = redeem(guesser, code)  # even the right code: the tries are used up
    assert refused.status_code == 429
    assert refused.get_json()["error"]["details"]["policy"] == "redeems_per_address"
    neighbour = phone(ctx, "198.51.100.2")  # the same /24
    assert redeem(neighbour, "ABCDE-FGHJK").status_code == 404
    refused = redeem(neighbour, code)
    assert refused.status_code == 429
    error = refused.get_json()["error"]
    assert error["details"]["policy"] == "redeems_per_network"
    assert "including other people's" in error["message"]
    # Refused tries took nothing: the code still works from elsewhere.
    assert redeem(phone(ctx, "192.0.2.9"), code).status_code == 200


def test_making_and_trying_a_code_are_one_round_trip_each(ctx, home, redis_server):
    transfer.make(ctx, owner_secret="x" * 43, client="warm-up")  # loads the script
    with sent_commands(redis_server.url) as seen:
        made = transfer.make(ctx, owner_secret="y" * 43, client="someone")
    assert [command.split()[0] for command in seen] == ["EVALSHA"], seen
    with pytest.raises(NotFound):  # loads the script
        transfer.redeem(ctx, code="ABCDEFGHJK", client="warm-up", network="n")
    with sent_commands(redis_server.url) as seen:
        redeemed = transfer.redeem(ctx, code=made.code.code, client="someone", network="n")
    assert [command.split()[0] for command in seen] == ["EVALSHA"], seen
    assert redeemed.owner_secret == "y" * 43


def test_without_redis_it_is_a_503_not_a_500(make_context):
    ctx = make_context(api={"redis_url": "redis://127.0.0.1:1/0"})
    answer = redeem(phone(ctx), "ABCDE-FGHJK")
    assert answer.status_code == 503
    assert answer.get_json()["error"]["code"] == "unavailable"
