"""Function `captcha`: hand out a slider (or proof-of-work-only) challenge, and verify it."""

from __future__ import annotations

import flask

from shared import limits, metrics
from shared.captcha import service
from shared.context import LazyContext
from shared.http import Call, handle_framework_errors, json_response, route, serve
from shared.models import CaptchaRequest, CaptchaVerifyRequest

context = LazyContext()


def request_challenge(call: Call) -> flask.Response:
    body = call.json_body(CaptchaRequest)
    issued = service.request(call.ctx, client=call.client, action=body.action, mode=body.mode)
    return json_response(issued.challenge, headers=limits.headers(issued.policies))


def verify(call: Call) -> flask.Response:
    body = call.json_body(CaptchaVerifyRequest)
    return json_response(service.verify(call.ctx, client=call.client, body=body))


ROUTES = [
    route("POST", "/captcha/request", request_challenge),
    route("POST", "/captcha/verify", verify),
    route("GET", "/metrics", metrics.endpoint, public=False),  # in-cluster only: shared.metrics
]


handle_framework_errors("captcha")  # Flask's own 404s (e.g. a path with a newline), as JSON


def captcha(request: flask.Request) -> flask.Response:
    return serve(request, context, ROUTES, function="captcha")
