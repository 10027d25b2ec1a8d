"""The HTTP seam: errors never leak, logs carry the request id, config errors say what."""

from __future__ import annotations

import importlib
import io
import json
import logging
import re
from typing import Any

import flask
import pytest
from werkzeug.test import EnvironBuilder

from shared import logs, metrics
from shared.context import Context, LazyContext
from shared.errors import ConfigError
from shared.http import Call, Route, Routes, serve
from shared.settings import ApiSettings, LimitSettings, TemplateSettings, load
from tests.apps import function_app


def boom(call: Call) -> flask.Response:
    logging.getLogger("sprout.test").info("about to fail", extra={"template": "nginx"})
    raise RuntimeError("secret internals /etc/passwd")


def test_unhandled_errors_are_a_bare_500_with_the_request_id(make_context, caplog) -> None:
    caplog.set_level(logging.INFO)
    client = function_app(make_context(), Routes(Route("GET", "/boom", boom))).test_client()
    response = client.get("/boom", headers={"X-Request-Id": "req-12345678"})
    assert response.status_code == 500
    body = response.get_json()
    assert body == {
        "error": {
            "code": "internal",
            "message": "Something went wrong on our side.",
            "details": {"request_id": "req-12345678"},
        }
    }
    assert b"passwd" not in response.data and b"Traceback" not in response.data
    assert response.headers["X-Request-Id"] == "req-12345678"


def test_json_log_lines_carry_the_request_id(make_context) -> None:
    out = io.StringIO()
    handler = logs.handler(out)
    logger = logging.getLogger("sprout")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        client = function_app(make_context(), Routes(Route("GET", "/boom", boom))).test_client()
        client.get("/boom", headers={"X-Request-Id": "req-abcdefgh"})
    finally:
        logger.removeHandler(handler)
    entries = [json.loads(line) for line in out.getvalue().splitlines()]
    first = entries[0]
    assert first["message"] == "about to fail" and first["template"] == "nginx"
    assert first["level"] == "INFO" and first["logger"] == "sprout.test"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["time"])
    assert all(entry["request_id"] == "req-abcdefgh" for entry in entries)
    assert "RuntimeError" in entries[-1]["exception"]  # the traceback stays in the log


def test_a_client_request_id_that_is_not_an_id_is_replaced(make_context) -> None:
    client = function_app(make_context(), Routes(Route("GET", "/boom", boom))).test_client()
    response = client.get("/boom", headers={"X-Request-Id": "<script>"})
    assert response.headers["X-Request-Id"] != "<script>"
    assert len(response.headers["X-Request-Id"]) == 16


def test_missing_configuration_is_named_and_answered_503(monkeypatch) -> None:
    monkeypatch.delenv("SPROUT_REDIS_URL", raising=False)
    monkeypatch.delenv("SPROUT_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SPROUT_REDIS_URL is missing; SPROUT_SECRET_KEY"):
        load(ApiSettings)
    monkeypatch.setenv("SPROUT_TEMPLATES", '[{"name": "x"}]')
    with pytest.raises(ConfigError, match=r"SPROUT_TEMPLATES\[0\].image is missing"):
        load(TemplateSettings)

    def unconfigured() -> Context:
        raise ConfigError("Sprout cannot start: SPROUT_REDIS_URL is missing")

    app = flask.Flask("t")
    with app.test_request_context("/rate-limit"):
        response = serve(
            flask.request,
            LazyContext(unconfigured),
            Routes(Route("GET", "/rate-limit", boom)),
            function="test",
        )
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "misconfigured"


def test_a_misspelt_or_retired_setting_stops_the_start_with_its_name(monkeypatch) -> None:
    # Ignored, it would leave the deployment on the default its operator meant to change.
    monkeypatch.setenv("SPROUT_LIMIT_NETWORK_SHARE", "100")
    monkeypatch.setenv("SPROUT_LIMIT_CAPACITY", "7")
    with pytest.raises(ConfigError, match=(
        r"SPROUT_LIMIT_NETWORK_SHARE is not a setting "
        r"\(did you mean SPROUT_LIMIT_NETWORK_SHARE_PERCENT\?\)$"
    )):  # fmt: skip
        load(LimitSettings)
    monkeypatch.delenv("SPROUT_LIMIT_NETWORK_SHARE")
    assert load(LimitSettings).capacity == 7
    # The bare prefix is shared by several classes: none of them can tell its own variables.
    monkeypatch.setenv("SPROUT_SOMETHING_ELSE", "1")
    load(LimitSettings)


def environ(path: str, method: str = "GET") -> dict[str, Any]:
    built = EnvironBuilder(method=method).get_environ()
    built["PATH_INFO"] = path  # as the server decoded it, newlines and all
    return built


@pytest.mark.parametrize("function", ["captcha", "containers", "ratelimit"])
def test_a_literal_path_is_never_taken_for_a_path_parameter(function: str) -> None:
    # Found by tests/fuzz_api.py: DELETE /containers/templates once reached the container
    # route (a 404), and a 405 there advertised DELETE.
    routes: Routes = importlib.import_module(f"functions.{function}.main").ROUTES
    methods = {r.method for r in routes} | {"HEAD", "PUT", "PATCH", "OPTIONS"}
    for literal in (r.path for r in routes if "{" not in r.path):
        served = {r.method for r in routes if r.path == literal}
        served |= {"HEAD"} if "GET" in served else set()  # werkzeug serves HEAD with GET
        for method in sorted(methods):
            matched = routes.match(environ(literal, method))
            assert matched.template == literal, (literal, method)
            if method in served:
                assert matched.route is not None and matched.route.path == literal
            else:
                assert matched.route is None and matched.allowed == sorted(served)


def test_path_parameters_have_the_shape_the_table_declares() -> None:
    routes = Routes(Route("GET", "/things/{thing_id}", boom), patterns={"thing_id": r"^[a-z]{3}$"})
    assert routes.match(environ("/things/abc")).params == {"thing_id": "abc"}
    assert routes.match(environ("/things/abcd")).template == metrics.UNMATCHED
    assert routes.match(environ("/things/ab1")).template == metrics.UNMATCHED


def test_a_route_matches_its_whole_path_with_or_without_a_trailing_slash() -> None:
    listing = Routes(Route("GET", "/containers", boom))
    assert listing.match(environ("/containers")).route is not None
    assert listing.match(environ("/containers/")).route is not None
    assert listing.match(environ("/containers\n")).route is None  # `$` would have matched
    assert listing.match(environ("/containers/x")).route is None


@pytest.mark.parametrize("path", ["/containers/%C3%AD%0AI", "/robots.txt", "/favicon.ico"])
def test_what_the_framework_refuses_itself_is_a_json_404_and_counted(make_context, path):
    # Found by tests/fuzz_api.py: functions-framework's catch-all rule does not match a path
    # holding a newline, and Flask answered with its HTML 404 page.
    before = metrics.REGISTRY.get_sample_value(
        "sprout_http_requests_total",
        {"function": "framework", "route": metrics.UNMATCHED, "method": "GET", "status": "404"},
    )
    client = function_app(
        make_context(), Routes(Route("GET", "/boom", boom)), "framework"
    ).test_client()
    response = client.get(path, headers={"X-Request-Id": "req-framework"})
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert response.get_json()["error"]["code"] == "not_found"
    assert response.headers["X-Request-Id"] == "req-framework"
    after = metrics.REGISTRY.get_sample_value(
        "sprout_http_requests_total",
        {"function": "framework", "route": metrics.UNMATCHED, "method": "GET", "status": "404"},
    )
    assert (after or 0) == (before or 0) + 1
