"""The captcha function on real Redis: the contract, each check rejecting on its own, one
attempt per challenge, passes that `POST /containers` takes once, limits, TTLs, round trips,
and the stock functions-framework CLI."""

from __future__ import annotations

import base64
import io
import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient
from PIL import Image

from deploy.local.redis_server import free_port
from functions.captcha.main import ROUTES as CAPTCHA_ROUTES
from functions.containers.main import ROUTES as CONTAINER_ROUTES
from functions.ratelimit.main import ROUTES as RATELIMIT_ROUTES
from shared import keys
from shared.captcha import pow, service
from shared.context import Context
from shared.identity import client_hash
from tests.apps import client_for
from tests.captcha_bots import human_drag, key_presses, payload, straight_drag
from tests.captcha_support import (
    captcha_context,
    captcha_failures,
    nonce_for,
    person_solves,
    stored_answer,
)
from tests.clock import FakeClock
from tests.conftest import SECRET

PEER = "203.0.113.7"
OTHER_PEER = "198.51.100.9"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ctx(redis_server, redis_client, clock) -> Context:
    return captcha_context(redis_server.url, clock)


@pytest.fixture
def api(ctx: Context) -> FlaskClient:
    return client_for(ctx, CAPTCHA_ROUTES)


def ask(api: FlaskClient, mode: str = "slider") -> dict[str, Any]:
    response = api.post("/captcha/request", json={"action": "create", "mode": mode})
    assert response.status_code == 200, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def decode(url: str) -> Image.Image:
    _, data = url.split(",", 1)
    return Image.open(io.BytesIO(base64.b64decode(data)))


# The contract --------------------------------------------------------------------------------


def test_slider_challenge_has_the_promised_shape(api, redis_client, clock):
    clock.advance(0.4866896)  # a stamp with more digits than cjson keeps
    response = api.post("/captcha/request", json={"action": "create"})
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {
        "challenge_id", "mode", "width", "height", "background", "piece", "piece_size",
        "piece_y", "pow", "expires_at", "min_solve_seconds",
    }  # fmt: skip
    assert body["mode"] == "slider" and (body["width"], body["height"]) == (320, 160)
    assert body["background"].startswith("data:image/jpeg;base64,")
    assert body["piece"].startswith("data:image/png;base64,")
    assert decode(body["background"]).size == (320, 160)
    assert decode(body["piece"]).size == (body["piece_size"],) * 2
    assert 38 <= body["piece_size"] <= 48
    assert 0 <= body["piece_y"] <= 160 - body["piece_size"]
    assert set(body["pow"]) == {"salt", "difficulty"} and body["pow"]["difficulty"] == 4
    assert body["expires_at"] == clock.now + 120
    assert body["min_solve_seconds"] == 0.5
    assert response.headers["RateLimit-Policy"] == '"challenges_per_address";q=20;w=60'
    assert response.headers["RateLimit"] == '"challenges_per_address";r=19;t=60'
    assert response.headers["Cache-Control"] == "no-store"
    key = keys.captcha_challenge(body["challenge_id"])
    stored = redis_client.hgetall(key)
    assert stored["client"] == client_hash(SECRET, PEER) and stored["action"] == "create"
    assert 0 < redis_client.ttl(key) <= 120
    assert "x" not in body and int(stored["x"]) > body["piece_size"]  # the answer stays here


def test_pow_mode_has_no_pictures_and_a_harder_proof(api):
    body = ask(api, "pow")
    assert body["mode"] == "pow" and body["pow"]["difficulty"] == 6
    assert body["background"] is None and body["piece"] is None
    assert body["piece_size"] is None and body["piece_y"] is None


@pytest.mark.parametrize(
    ("path", "kwargs", "status", "code"),
    [
        ("/captcha/request", {"json": {"action": "delete"}}, 422, "invalid_field"),
        ("/captcha/request", {"json": {"action": "create", "mode": "audio"}}, 422, "invalid_field"),
        ("/captcha/request", {"data": "action=create"}, 415, "unsupported_media_type"),
        ("/captcha/verify", {"json": {"challenge_id": "abcdefgh", "x": 3}}, 422, "invalid_field"),
        (
            "/captcha/verify",
            {"json": {"challenge_id": "abcdefgh", "x": 3, "pow_nonce": "12a"}},
            422,
            "invalid_field",
        ),
        ("/captcha/verify", {"data": "{", "content_type": "application/json"}, 400, "bad_request"),
    ],
)
def test_malformed_requests(api, path, kwargs, status, code):
    response = api.post(path, **kwargs)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code


def test_routes_and_methods(api):
    response = api.get("/captcha/request")
    assert response.status_code == 405 and response.headers["Allow"] == "POST"
    assert api.post("/captcha/other", json={}).status_code == 404


# Passing, and what a pass is worth -----------------------------------------------------------


def test_a_pass_buys_exactly_one_container(ctx, api, redis_client, clock):
    challenge = ask(api)
    body, _ = person_solves(
        challenge, stored_answer(redis_client, challenge["challenge_id"]), random.Random(1), clock
    )
    response = api.post("/captcha/verify", json=body)
    assert response.status_code == 200, response.get_json()
    granted = response.get_json()
    assert set(granted) == {"token", "expires_at"}
    assert granted["expires_at"] == clock.now + 120
    assert redis_client.exists(keys.captcha_challenge(challenge["challenge_id"])) == 0
    containers = client_for(ctx, CONTAINER_ROUTES)
    order = {"template": "nginx", "captcha_token": granted["token"]}
    assert containers.post("/containers", json=order).status_code == 202
    reused = containers.post("/containers", json=order)
    assert reused.status_code == 403
    assert reused.get_json()["error"]["code"] == "captcha_invalid"


def test_a_keyboard_user_passes(api, redis_client, clock):
    challenge = ask(api)
    presses = key_presses(stored_answer(redis_client, challenge["challenge_id"]), random.Random(3))
    clock.advance(2 + presses.duration_ms / 1000)
    body = payload(challenge["challenge_id"], presses, nonce_for(challenge), keyboard=True)
    assert api.post("/captcha/verify", json=body).status_code == 200


def test_pow_path_passes_without_a_puzzle_with_a_stricter_quota(ctx, api, redis_client, clock):
    containers = client_for(ctx, CONTAINER_ROUTES)
    statuses = []
    for _ in range(3):
        challenge = ask(api, "pow")
        clock.advance(3)
        body = {"challenge_id": challenge["challenge_id"], "x": 0, "track": [],
                "input": "keyboard", "pow_nonce": nonce_for(challenge)}  # fmt: skip
        granted = api.post("/captcha/verify", json=body)
        assert granted.status_code == 200
        token = granted.get_json()["token"]
        order = {"template": "nginx", "captcha_token": token}
        statuses.append(containers.post("/containers", json=order))
    assert [r.status_code for r in statuses[:2]] == [202, 202]
    assert statuses[2].status_code == 429
    assert statuses[2].get_json()["error"]["details"]["policy"] == "pow_creates_per_address"


def test_the_announced_minimum_solve_time_is_the_rule(api, clock):
    # A fast device finds a proof of work in a blink; the page waits as long as the challenge
    # says before it answers (it used to answer at once and be refused as too fast).
    def answer_after(seconds: float) -> int:
        challenge = ask(api, "pow")
        clock.advance(seconds)
        body = {"challenge_id": challenge["challenge_id"], "x": 0, "track": [],
                "input": "keyboard", "pow_nonce": nonce_for(challenge)}  # fmt: skip
        return int(api.post("/captcha/verify", json=body).status_code)

    wait = ask(api, "pow")["min_solve_seconds"]
    assert wait > 0
    assert answer_after(wait - 0.01) == 403
    assert answer_after(wait) == 200


def test_a_pass_is_bound_to_the_address(ctx, api, redis_client, clock):
    challenge = ask(api)
    body, _ = person_solves(
        challenge, stored_answer(redis_client, challenge["challenge_id"]), random.Random(2), clock
    )
    token = api.post("/captcha/verify", json=body).get_json()["token"]
    elsewhere = client_for(ctx, CONTAINER_ROUTES, peer=OTHER_PEER)
    response = elsewhere.post("/containers", json={"template": "nginx", "captcha_token": token})
    assert response.status_code == 403


# Each check rejects on its own ---------------------------------------------------------------


def failing_nonce(challenge: dict[str, Any]) -> str:
    salt, bits = challenge["pow"]["salt"], challenge["pow"]["difficulty"]
    return next(str(n) for n in range(10_000) if not pow.is_valid(salt, str(n), bits))


Mutation = Callable[[dict[str, Any], dict[str, Any], int, FakeClock, Context], FlaskClient | None]


def unknown_id(body, challenge, answer, clock, ctx):
    body["challenge_id"] = "no-such-challenge"


def other_address(body, challenge, answer, clock, ctx):
    return client_for(ctx, CAPTCHA_ROUTES, peer=OTHER_PEER)


def late(body, challenge, answer, clock, ctx):
    clock.advance(121)


def instant(body, challenge, answer, clock, ctx):
    clock.now = challenge["expires_at"] - 120 + 0.2


def bad_nonce(body, challenge, answer, clock, ctx):
    body["pow_nonce"] = failing_nonce(challenge)


def off_by_five(body, challenge, answer, clock, ctx):
    drag = human_drag(answer + 8, random.Random(5), max_offset=320 - challenge["piece_size"])
    body.update(x=drag.x, track=drag.track)
    assert abs(drag.x - answer) > 4


def scripted_drag(body, challenge, answer, clock, ctx):
    body["track"] = straight_drag(body["x"], random.Random(6)).track


def keys_claimed(body, challenge, answer, clock, ctx):
    body["input"] = "keyboard"


MUTATIONS: dict[str, tuple[str, Mutation]] = {
    "unknown challenge": ("missing", unknown_id),
    "another address": ("binding", other_address),
    "expired by the clock": ("expired", late),
    "answered instantly": ("too_fast", instant),
    "wrong proof of work": ("pow", bad_nonce),
    "offset 5+ px": ("offset", off_by_five),
    "straight drag": ("track_jitter", scripted_drag),
    "drag sent as keys": ("track_keys", keys_claimed),
}


def refuse(ctx, api, redis_client, clock, case) -> tuple[Any, dict[str, int]]:
    """Solve a challenge like a person, spoil one thing, send it: the answer and the reasons
    counted meanwhile."""
    _, mutate = MUTATIONS[case]
    challenge = ask(api)
    answer = stored_answer(redis_client, challenge["challenge_id"])
    body, _ = person_solves(challenge, answer, random.Random(11), clock)
    client = mutate(body, challenge, answer, clock, ctx) or api
    before = captcha_failures()
    response = client.post("/captcha/verify", json=body)
    after = captcha_failures()
    counted = {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}
    assert redis_client.exists(keys.captcha_challenge(challenge["challenge_id"])) == 0 or (
        case == "unknown challenge"
    )
    return response, counted


@pytest.mark.parametrize("case", list(MUTATIONS))
def test_each_check_rejects_on_its_own(ctx, api, redis_client, clock, case):
    response, counted = refuse(ctx, api, redis_client, clock, case)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "captcha_failed"
    assert counted == {MUTATIONS[case][0]: 1}


def test_every_failure_looks_the_same(ctx, api, redis_client, clock):
    answers = {case: refuse(ctx, api, redis_client, clock, case)[0] for case in MUTATIONS}
    assert {(r.status_code, r.data) for r in answers.values()} == {
        (403, answers["unknown challenge"].data)
    }
    assert {r.headers.get("Retry-After") for r in answers.values()} == {None}


def test_a_challenge_for_another_action_fails_binding(ctx, api, redis_client, clock):
    opened = service.open_challenge(
        ctx, client=client_hash(SECRET, PEER), action="delete", mode="slider"
    )
    challenge = service.render(opened).challenge.model_dump()
    body, _ = person_solves(challenge, opened.challenge.x, random.Random(12), clock)
    before = captcha_failures().get("binding", 0)
    assert api.post("/captcha/verify", json=body).status_code == 403
    assert captcha_failures()["binding"] == before + 1


def test_failures_are_logged_by_reason(api, caplog):
    caplog.set_level("INFO", logger="sprout.captcha")
    body = {"challenge_id": "no-such-challenge", "x": 1, "pow_nonce": "1"}
    assert api.post("/captcha/verify", json=body).status_code == 403
    assert "captcha_failed reason=missing" in caplog.text


# One attempt, replays, expiry ----------------------------------------------------------------


def test_one_attempt_per_challenge_and_replays_fail(api, redis_client, clock):
    challenge = ask(api)
    answer = stored_answer(redis_client, challenge["challenge_id"])
    body, _ = person_solves(challenge, answer, random.Random(21), clock)
    wrong = dict(body, x=body["x"] + 30)
    assert api.post("/captcha/verify", json=wrong).status_code == 403
    assert api.post("/captcha/verify", json=body).status_code == 403  # used up by the miss

    fresh = ask(api)
    body, _ = person_solves(
        fresh, stored_answer(redis_client, fresh["challenge_id"]), random.Random(22), clock
    )
    assert api.post("/captcha/verify", json=body).status_code == 200
    assert api.post("/captcha/verify", json=body).status_code == 403  # replay


def test_concurrent_verifies_of_one_challenge_pass_once(ctx, redis_client, clock):
    challenge = ask(client_for(ctx, CAPTCHA_ROUTES))
    body, _ = person_solves(
        challenge, stored_answer(redis_client, challenge["challenge_id"]), random.Random(3), clock
    )
    statuses: list[int] = []
    barrier = threading.Barrier(8)

    def race() -> None:
        client = client_for(ctx, CAPTCHA_ROUTES)
        barrier.wait()
        statuses.append(client.post("/captcha/verify", json=body).status_code)

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [403] * 7


def test_expiry_through_the_injected_clock(api, redis_client, clock):
    challenge = ask(api)
    body, _ = person_solves(
        challenge, stored_answer(redis_client, challenge["challenge_id"]), random.Random(4), clock
    )
    clock.now = challenge["expires_at"]  # still valid at the very edge ...
    assert api.post("/captcha/verify", json=body).status_code == 200
    late = ask(api)
    body, _ = person_solves(
        late, stored_answer(redis_client, late["challenge_id"]), random.Random(4), clock
    )
    clock.now = late["expires_at"] + 0.001  # ... and not a moment after
    assert api.post("/captcha/verify", json=body).status_code == 403


# Difficulty, limits, keys --------------------------------------------------------------------


def test_challenges_per_address_limit(redis_server, redis_client, clock):
    ctx = captcha_context(redis_server.url, clock, limits={"challenges_per_minute": 3})
    api = client_for(ctx, CAPTCHA_ROUTES)
    limits_api = client_for(ctx, RATELIMIT_ROUTES)
    for _ in range(3):
        ask(api)
        clock.advance(10)
    refused = api.post("/captcha/request", json={"action": "create"})
    assert refused.status_code == 429
    error = refused.get_json()["error"]
    assert error["code"] == "rate_limited"
    assert error["details"] == {"policy": "challenges_per_address", "retry_after": 30}
    assert refused.headers["Retry-After"] == "30"
    assert refused.headers["RateLimit"] == '"challenges_per_address";r=0;t=30'
    assert redis_client.zcard(keys.challenges_by_client(client_hash(SECRET, PEER))) == 3
    shown = {p["name"]: p for p in limits_api.get("/rate-limit").get_json()["policies"]}
    assert shown["challenges_per_address"]["remaining"] == 0
    assert shown["challenges_per_address"]["reset"] == 30
    assert ask(client_for(ctx, CAPTCHA_ROUTES, peer=OTHER_PEER))  # another address is free
    clock.advance(31)
    assert api.post("/captcha/request", json={"action": "create"}).status_code == 200


def test_no_captcha_key_lacks_a_ttl(api, redis_client, clock):
    challenge = ask(api)
    ask(api, "pow")
    body, _ = person_solves(
        challenge, stored_answer(redis_client, challenge["challenge_id"]), random.Random(8), clock
    )
    assert api.post("/captcha/verify", json=body).status_code == 200
    api.post("/captcha/verify", json={"challenge_id": "nope-nope", "x": 1, "pow_nonce": "1"})
    found = list(redis_client.scan_iter(f"{keys.PREFIX}*"))
    assert {k.split(":")[1] for k in found} == {"captcha", "rl"}
    kinds = {k.rsplit(":", 1)[0] for k in found}
    assert kinds == {
        f"{keys.PREFIX}captcha:challenge", f"{keys.PREFIX}captcha:pass",
        f"{keys.PREFIX}captcha:failures", f"{keys.PREFIX}captcha:netfailures",
        f"{keys.PREFIX}rl:challenges",
    }  # fmt: skip
    assert all(redis_client.ttl(k) > 0 for k in found), {k: redis_client.ttl(k) for k in found}


@contextmanager
def round_trips(url: str) -> Iterator[list[list[str]]]:
    """Commands clients send while the block runs, grouped by round trip (MULTI..EXEC is one)."""
    trips: list[list[str]] = []
    marker = f"end-{os.getpid()}-{time.monotonic_ns()}"
    watcher = redis.Redis.from_url(url, decode_responses=True)
    probe = redis.Redis.from_url(url, decode_responses=True)
    probe.ping()
    started = threading.Event()

    def watch() -> None:
        open_multi = False
        with watcher.monitor() as monitor:
            started.set()
            while True:
                command = monitor.next_command()
                name = str(command["command"]).split()[0].upper()
                if marker in str(command["command"]):
                    return
                if command.get("client_type") == "lua" or name == "MONITOR":
                    continue
                if open_multi:
                    trips[-1].append(name)
                else:
                    trips.append([name])
                open_multi = (open_multi or name == "MULTI") and name != "EXEC"

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    started.wait(5)
    time.sleep(0.05)
    try:
        yield trips
    finally:
        time.sleep(0.05)
        probe.echo(marker)
        thread.join(10)
        probe.close()
        watcher.close()


def test_round_trips(api, redis_client, redis_server, clock):
    ask(api)  # loads the script
    with round_trips(redis_server.url) as requested:
        challenge = ask(api)
    assert requested == [["EVALSHA"]]
    body, _ = person_solves(
        challenge, stored_answer(redis_client, challenge["challenge_id"]), random.Random(9), clock
    )
    with round_trips(redis_server.url) as passed:
        assert api.post("/captcha/verify", json=body).status_code == 200
    assert passed == [["MULTI", "HGETALL", "DEL", "EXEC"], ["MULTI", "HSET", "EXPIRE", "EXEC"]]
    with round_trips(redis_server.url) as failed:
        assert api.post("/captcha/verify", json=body).status_code == 403
    assert len(failed) == 2 and failed[1][1] == "ZADD"


# The stock CLI -------------------------------------------------------------------------------


def test_runs_under_the_functions_framework_cli(redis_server, redis_client):
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SPROUT_REDIS_URL": redis_server.url,
        "SPROUT_SECRET_KEY": SECRET,
        "SPROUT_CAPTCHA_SLIDER_DIFFICULTY": "5",
    }
    command = [
        sys.executable, "-m", "functions_framework", "--source",
        str(ROOT / "functions" / "captcha" / "main.py"), "--target", "captcha",
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        body = _post_when_up(f"http://127.0.0.1:{port}/captcha/request", {"action": "create"})
        assert body["pow"]["difficulty"] == 5 and body["background"].startswith("data:image/")
        with pytest.raises(urllib.error.HTTPError) as refused:
            _post(f"http://127.0.0.1:{port}/captcha/verify",
                  {"challenge_id": body["challenge_id"], "x": 0, "pow_nonce": "0"})  # fmt: skip
        assert refused.value.code == 403
        assert json.loads(refused.value.read())["error"]["code"] == "captcha_failed"
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert b"Traceback" not in stderr, stderr.decode()


def _post(url: str, data: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url, json.dumps(data).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def _post_when_up(url: str, data: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        try:
            return _post(url, data)
        except (ConnectionError, urllib.error.URLError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"x": "5"}, "x"),
        ({"x": True}, "x"),
        ({"pow_nonce": 12}, "pow_nonce"),
        ({"track": [{"x": 0, "y": 0, "t": False}]}, "track.0.t"),
        ({"track": [{"x": "1.5", "y": 0, "t": 0}]}, "track.0.x"),
    ],
)
def test_verify_takes_exactly_the_documented_types(api, change, field):
    # Found by tests/fuzz_api.py: {"t": false} (and "5" for x) passed validation (pydantic's
    # lax mode), so a body the document forbids was answered 403 instead of 422.
    body = {"challenge_id": "no-such-challenge", "x": 1, "pow_nonce": "1", **change}
    response = api.post("/captcha/verify", json=body)
    assert response.status_code == 422
    assert field in {d["field"] for d in response.get_json()["error"]["details"]}


def test_an_integral_float_is_an_integer_as_json_schema_says(api):
    body = {"challenge_id": "no-such-challenge", "x": 5.0, "pow_nonce": "1"}
    assert api.post("/captcha/verify", json=body).status_code == 403  # valid; no such challenge
