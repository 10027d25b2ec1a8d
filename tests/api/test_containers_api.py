"""The containers and ratelimit functions on real Redis: success and error paths."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient

from functions.containers.main import ROUTES as CONTAINER_ROUTES
from functions.ratelimit.main import ROUTES as RATELIMIT_ROUTES
from shared import keys
from tests.apps import client_for, create, pass_token


@pytest.fixture
def ctx(make_context):
    return make_context()


@pytest.fixture
def api(ctx) -> FlaskClient:
    return client_for(ctx, CONTAINER_ROUTES)


def test_create_answers_202_with_record_location_cookie_and_stream_entry(api, redis_client):
    response = create(api, redis_client)
    assert response.status_code == 202
    body = response.get_json()
    assert body["state"] == "pending" and body["phase"] == "queued"
    assert body["template"] == "nginx" and body["url"] is None and body["error"] is None
    assert body["expires_at"] == pytest.approx(body["created_at"] + 3600)
    assert response.headers["Location"] == f"/containers/{body['id']}"
    secret = response.headers["Sprout-Owner-Token"]
    assert response.headers["Set-Cookie"] == (
        f"sprout_owner={secret}; Max-Age=2592000; HttpOnly; Path=/; SameSite=Strict"
    )
    assert '"creates_per_address";q=5;w=3600' in response.headers["RateLimit-Policy"]
    assert '"creates_per_address";r=4;' in response.headers["RateLimit"]
    entries = redis_client.xrange(keys.STREAM)
    assert [(e[1]["type"], e[1]["id"]) for e in entries] == [("create", body["id"])]
    record = redis_client.hgetall(keys.record(body["id"]))
    assert record["owner"] != response.headers["Sprout-Owner-Token"]  # only the hash is stored
    assert 0 < redis_client.ttl(keys.record(body["id"])) <= 24 * 3600 + 3600


def test_the_owner_cookie_is_secure_where_the_site_is_https(make_context, redis_client):
    api = client_for(make_context(api={"cookie_secure": True}), CONTAINER_ROUTES)
    response = create(api, redis_client)
    cookie = response.headers["Set-Cookie"]
    assert cookie.endswith("; Secure") and cookie.count("Secure") == 1
    # The browser sends it back, and it names the same owner as the bearer token does.
    listed = api.get("/containers", headers={"Cookie": cookie.split(";")[0]})
    assert [c["id"] for c in listed.get_json()["containers"]] == [response.get_json()["id"]]


def test_the_create_window_never_resets_later_than_its_length(api, redis_client, clock):
    # The script's answer passes through cjson, which keeps 14 significant digits of an epoch
    # time: .00008 came back as .0001, and the header said t=3601 for a 3600 s window.
    clock.advance(0.00008)
    response = create(api, redis_client)
    assert response.status_code == 202
    assert '"creates_per_address";r=4;t=3600' in response.headers["RateLimit"]


def test_list_get_delete_as_owner(api, redis_client, clock):
    first = create(api, redis_client).get_json()
    clock.advance(1)
    second = create(api, redis_client, "whoami").get_json()
    listed = api.get("/containers")
    assert listed.status_code == 200
    assert [c["id"] for c in listed.get_json()["containers"]] == [second["id"], first["id"]]
    assert api.get(f"/containers/{first['id']}").get_json() == first
    deleted = api.delete(f"/containers/{first['id']}")
    assert deleted.status_code == 202 and deleted.get_json()["state"] == "deleting"
    again = api.delete(f"/containers/{first['id']}")
    assert again.status_code == 202
    types = [e[1]["type"] for e in redis_client.xrange(keys.STREAM)]
    assert types == ["create", "create", "delete"]  # a repeated delete appends nothing


def test_bearer_token_identifies_rest_clients(ctx, redis_client):
    rest = client_for(ctx, CONTAINER_ROUTES)
    created = create(rest, redis_client)
    secret = created.headers["Sprout-Owner-Token"]
    rest.delete_cookie("sprout_owner")
    bare = client_for(ctx, CONTAINER_ROUTES)
    assert bare.get("/containers").get_json() == {"containers": []}
    mine = bare.get("/containers", headers={"Authorization": f"Bearer {secret}"})
    assert [c["id"] for c in mine.get_json()["containers"]] == [created.get_json()["id"]]


def test_other_owner_gets_404_on_read_and_delete(ctx, api, redis_client):
    mine = create(api, redis_client).get_json()
    stranger = client_for(ctx, CONTAINER_ROUTES, peer="198.51.100.9")
    create(stranger, redis_client, peer="198.51.100.9")
    assert stranger.get(f"/containers/{mine['id']}").status_code == 404
    response = stranger.delete(f"/containers/{mine['id']}")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert redis_client.hget(keys.record(mine["id"]), "state") == "pending"
    assert mine["id"] not in [c["id"] for c in stranger.get("/containers").get_json()["containers"]]
    anonymous = client_for(ctx, CONTAINER_ROUTES, peer="198.51.100.10")
    assert anonymous.get(f"/containers/{mine['id']}").status_code == 404
    assert anonymous.delete(f"/containers/{mine['id']}").status_code == 404


def test_etag_and_304(api, redis_client):
    create(api, redis_client)
    first = api.get("/containers")
    etag = first.headers["ETag"]
    assert api.get("/containers", headers={"If-None-Match": etag}).status_code == 304
    create(api, redis_client)
    changed = api.get("/containers", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_templates_are_listed(api):
    body = api.get("/containers/templates").get_json()
    names = [t["name"] for t in body["templates"]]
    assert names == ["nginx", "whoami", "python", "hello"]
    assert body["cluster"] == {"simulated": False} and body["lifetime"] == 3600


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"data": "{not json", "content_type": "application/json"}, 400, "bad_request"),
        ({"data": "[1, 2]", "content_type": "application/json"}, 400, "bad_request"),
        ({"data": "template=nginx", "content_type": "text/plain"}, 415, "unsupported_media_type"),
        ({"json": {"template": "nginx"}}, 422, "invalid_field"),
        (
            {"json": {"template": "nginx", "captcha_token": "x" * 20, "extra": 1}},
            422,
            "invalid_field",
        ),
        ({"json": {"template": 5, "captcha_token": "x" * 20}}, 422, "invalid_field"),
        ({"json": {"template": "nginx", "captcha_token": "x" * 20}}, 403, "captcha_invalid"),
        ({"json": {"template": "nope", "captcha_token": "x" * 20}}, 422, "invalid_field"),
        (
            {"data": "{" + " " * 70_000 + "}", "content_type": "application/json"},
            413,
            "payload_too_large",
        ),
        ({"data": b"\xff\xfe", "content_type": "application/json"}, 400, "bad_request"),
    ],
)
def test_create_rejects_bad_input_with_the_right_status(api, kwargs, status, code):
    response = api.post("/containers", **kwargs)
    assert response.status_code == status
    body = response.get_json()
    assert body["error"]["code"] == code and body["error"]["message"]


def test_invalid_field_names_the_field(api):
    body = api.post("/containers", json={"template": "nginx"}).get_json()
    assert body["error"]["details"][0]["field"] == "captcha_token"
    body = api.post("/containers", json={"template": "nope", "captcha_token": "x" * 20}).get_json()
    assert body["error"]["details"][0]["field"] == "template"


def test_unknown_paths_and_methods(api):
    assert api.get("/containers/x/y").status_code == 404
    assert api.get("/elsewhere").status_code == 404
    response = api.put("/containers")
    assert response.status_code == 405 and response.headers["Allow"] == "GET, HEAD, POST"
    assert api.get("/containers/nosuchidxyz2").status_code == 404


@pytest.mark.parametrize("method", ["DELETE", "POST", "PUT", "OPTIONS"])
def test_other_methods_on_the_templates_path_are_405_not_a_container_id(api, method):
    # Found by tests/fuzz_api.py: DELETE /containers/templates was routed to DELETE
    # /containers/{container_id} (404), and a 405 there advertised "Allow: DELETE, GET".
    response = api.open("/containers/templates", method=method)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"
    assert response.get_json()["error"]["details"] == {"allowed": ["GET", "HEAD"]}


def test_head_is_answered_like_get_without_a_body(api):
    # HTTP servers must serve HEAD wherever they serve GET (RFC 9110, 9.1); werkzeug does.
    got, head = api.get("/containers/templates"), api.head("/containers/templates")
    assert (head.status_code, head.data) == (200, b"")
    assert head.headers["Content-Type"] == got.headers["Content-Type"]
    assert head.headers["Content-Length"] == got.headers["Content-Length"]


def test_token_is_single_use_and_bound_to_the_address(ctx, api, redis_client):
    token = pass_token(redis_client)
    body = {"template": "nginx", "captcha_token": token}
    assert api.post("/containers", json=body).status_code == 202
    reused = api.post("/containers", json=body)
    assert reused.status_code == 403 and reused.get_json()["error"]["code"] == "captcha_invalid"
    elsewhere = client_for(ctx, CONTAINER_ROUTES, peer="198.51.100.1")
    foreign = {"template": "nginx", "captcha_token": pass_token(redis_client)}
    assert elsewhere.post("/containers", json=foreign).status_code == 403


def test_live_and_hourly_quotas(make_context, redis_client, clock):
    ctx = make_context(live_per_owner=2, live_per_address=3, creates_per_hour=4)
    api = client_for(ctx, CONTAINER_ROUTES)
    ids = [create(api, redis_client).get_json()["id"] for _ in range(2)]
    refused = create(api, redis_client)
    assert refused.status_code == 429
    error = refused.get_json()["error"]
    assert error["details"]["policy"] == "live_per_owner"
    assert int(refused.headers["Retry-After"]) == 3600
    assert refused.headers["RateLimit"] == '"live_per_owner";r=0;t=3600'
    assert refused.headers["RateLimit-Policy"] == '"live_per_owner";q=2'
    # Deleting frees the owner's live quota at once, but the hourly creates stay counted.
    api.delete(f"/containers/{ids[0]}")
    assert create(api, redis_client).status_code == 202
    api.delete(f"/containers/{ids[1]}")
    assert create(api, redis_client).status_code == 202
    clock.advance(600)
    fifth = create(api, redis_client)
    assert fifth.status_code == 429
    assert fifth.get_json()["error"]["details"]["policy"] == "creates_per_address"
    assert int(fifth.headers["Retry-After"]) == 3000
    assert fifth.headers["RateLimit-Policy"] == '"creates_per_address";q=4;w=3600'
    clock.advance(3001)
    assert fifth.status_code == 429  # the original answer stays what it was
    # The window has moved; but the two containers created are still live (owner quota 2).
    assert create(api, redis_client).get_json()["error"]["details"]["policy"] == "live_per_owner"


def test_a_network_is_refused_in_its_own_words_once_its_addresses_used_its_quota(
    make_context, redis_client
):
    ctx = make_context(creates_per_network=6, live_per_network=4)
    peers = [f"203.0.113.{i}" for i in range(1, 8)]
    answers = [create(client_for(ctx, CONTAINER_ROUTES, p), redis_client, peer=p) for p in peers]
    assert [a.status_code for a in answers] == [202] * 4 + [429] * 3
    refused = answers[4]
    error = refused.get_json()["error"]
    assert error["details"]["policy"] == "live_per_network"
    assert "Your network already has 4 containers" in error["message"]
    assert refused.headers["RateLimit-Policy"] == '"live_per_network";q=4'
    assert (
        refused.headers["RateLimit"] == f'"live_per_network";r=0;t={refused.headers["Retry-After"]}'
    )
    # An IPv6 visitor's network is its /48: another /64 of it counts as the same network.
    six = make_context(live_per_address=1, live_per_network=1)

    def create_from(address: str, slash_64: str):
        # The pass is bound to the address as Sprout keeps it: an IPv6 visitor's /64.
        return create(client_for(six, CONTAINER_ROUTES, address), redis_client, peer=slash_64)

    assert create_from("2001:db8:1:1::5", "2001:db8:1:1::/64").status_code == 202
    same_48 = create_from("2001:db8:1:2::5", "2001:db8:1:2::/64")
    assert same_48.status_code == 429
    assert same_48.get_json()["error"]["details"]["policy"] == "live_per_network"
    assert create_from("2001:db8:2::5", "2001:db8:2::/64").status_code == 202


def test_pow_path_has_a_stricter_hourly_quota(api, redis_client):
    assert create(api, redis_client, mode="pow").status_code == 202
    assert create(api, redis_client, mode="pow").status_code == 202
    third = create(api, redis_client, mode="pow")
    assert third.status_code == 429
    assert third.get_json()["error"]["details"]["policy"] == "pow_creates_per_address"
    assert create(api, redis_client, mode="slider").status_code == 202


def test_capacity_full_is_503_with_retry_after_only_when_the_line_is_full(
    make_context, redis_client
):
    ctx = make_context(capacity=1, line_length=1)
    peers = ["198.51.100.1", "198.51.101.2", "198.51.102.3"]
    answers = [create(client_for(ctx, CONTAINER_ROUTES, p), redis_client, peer=p) for p in peers]
    assert [a.status_code for a in answers] == [202, 202, 503]
    assert answers[1].get_json()["phase"] == "waiting"
    full = answers[2]
    assert full.get_json()["error"]["code"] == "capacity_full"
    assert int(full.headers["Retry-After"]) == 3600  # when the one slot frees at the latest


def test_without_a_line_full_is_503_at_once(make_context, redis_client):
    ctx = make_context(capacity=1, line_length=0)
    first = client_for(ctx, CONTAINER_ROUTES, peer="198.51.100.1")
    second = client_for(ctx, CONTAINER_ROUTES, peer="198.51.100.2")
    assert create(first, redis_client, peer="198.51.100.1").status_code == 202
    full = create(second, redis_client, peer="198.51.100.2")
    assert full.status_code == 503
    assert full.get_json()["error"]["code"] == "capacity_full"
    assert int(full.headers["Retry-After"]) == 3600


def test_rate_limit_endpoint_reports_every_policy(ctx, api, redis_client):
    limits_api = client_for(ctx, RATELIMIT_ROUTES)
    fresh = limits_api.get("/rate-limit").get_json()
    by_name = {p["name"]: p for p in fresh["policies"]}
    assert set(by_name) == {
        "creates_per_address", "pow_creates_per_address", "creates_per_network",
        "live_per_address", "live_per_owner", "live_per_network", "network_share",
        "places_per_address", "places_per_network", "challenges_per_address", "capacity",
    }  # fmt: skip
    assert {p["scope"] for p in fresh["policies"] if "network" in p["name"]} == {"network"}
    assert (by_name["places_per_address"]["limit"], by_name["places_per_network"]["limit"]) == (
        1,
        3,
    )
    assert all(p["description"] for p in fresh["policies"])
    assert fresh["others"] == []
    assert by_name["creates_per_address"] == {
        "name": "creates_per_address", "scope": "address", "limit": 5, "remaining": 5,
        "reset": 0, "window": 3600, "description": by_name["creates_per_address"]["description"],
    }  # fmt: skip
    created = create(api, redis_client)
    secret = created.headers["Sprout-Owner-Token"]
    response = limits_api.get("/rate-limit", headers={"Authorization": f"Bearer {secret}"})
    by_name = {p["name"]: p for p in response.get_json()["policies"]}
    assert by_name["creates_per_address"]["remaining"] == 4
    assert by_name["creates_per_address"]["reset"] == 3600
    assert by_name["live_per_address"]["remaining"] == 2
    assert by_name["live_per_owner"]["remaining"] == 2
    assert by_name["capacity"]["remaining"] == 99
    assert by_name["creates_per_network"]["remaining"] == 29
    assert by_name["live_per_network"]["remaining"] == 19
    assert by_name["network_share"] == {**by_name["network_share"], "limit": 10, "remaining": 9}
    assert '"live_per_owner";r=2;t=3600' in response.headers["RateLimit"]
    assert '"network_share";r=9;t=3600' in response.headers["RateLimit"]
    assert '"creates_per_network";q=30;w=3600' in response.headers["RateLimit-Policy"]
    assert response.get_json()["others"] == []  # the caller's own container is not "other"


def test_rate_limit_shows_others_containers_on_the_address_and_network_by_end_time_only(
    ctx, api, redis_client, clock
):
    created = create(api, redis_client)
    first, owner_token = created.get_json(), created.headers["Sprout-Owner-Token"]
    clock.advance(10)
    neighbour = client_for(ctx, CONTAINER_ROUTES, peer="203.0.113.99")
    second = create(neighbour, redis_client, peer="203.0.113.99").get_json()

    def others(peer: str, headers: dict[str, str] | None = None) -> list[dict[str, object]]:
        answer = client_for(ctx, RATELIMIT_ROUTES, peer).get("/rate-limit", headers=headers)
        return list(answer.get_json()["others"])

    # Another browser at the first address: its container is on the address, the
    # neighbour's only on the network; each shows its end time and nothing else.
    assert others("203.0.113.7") == [
        {"scope": "address", "expires_at": first["expires_at"]},
        {"scope": "network", "expires_at": second["expires_at"]},
    ]
    assert others("203.0.113.150") == [
        {"scope": "network", "expires_at": first["expires_at"]},
        {"scope": "network", "expires_at": second["expires_at"]},
    ]
    assert others("198.51.100.1") == []  # another network
    # The owner sees the neighbour's, not their own; once deleted, it counts no more.
    owner = {"Authorization": f"Bearer {owner_token}"}
    assert others("203.0.113.7", owner) == [
        {"scope": "network", "expires_at": second["expires_at"]}
    ]
    neighbour.delete(f"/containers/{second['id']}")
    assert others("203.0.113.150") == [{"scope": "network", "expires_at": first["expires_at"]}]


def test_redis_down_is_a_503_not_a_500(make_context):
    ctx = make_context(api={"redis_url": "redis://127.0.0.1:1/0"})
    response = client_for(ctx, RATELIMIT_ROUTES).get("/rate-limit")
    assert response.status_code == 503
    assert json.loads(response.data)["error"]["code"] == "unavailable"
    assert "Retry-After" in response.headers
