"""Function `captcha`: hand out a slider (or proof-of-work-only) challenge, and verify it."""

from __future__ import annotations

import flask

from shared import limits, metrics
from shared.captcha import service
from shared.context import LazyContext
from shared.http import Call, Route, Routes, handle_framework_errors, json_response, serve
from shared.models import CaptchaChallenge, CaptchaPass, CaptchaRequest, CaptchaVerifyRequest
from shared.openapi import BODY_ERRORS, RATE_HEADERS, Answer, Operation

context = LazyContext()


def request_challenge(call: Call) -> flask.Response:
    body = call.json_body(CaptchaRequest)
    issued = service.request(
        call.ctx, client=call.client, network=call.network, action=body.action, mode=body.mode
    )
    return json_response(issued.challenge, headers=limits.headers(issued.policies))


def verify(call: Call) -> flask.Response:
    body = call.json_body(CaptchaVerifyRequest)
    return json_response(
        service.verify(call.ctx, client=call.client, network=call.network, body=body)
    )


ROUTES = Routes(
    Route("POST", "/captcha/request", request_challenge, Operation(
        "requestCaptcha",
        "Issue a slider (or proof-of-work only) challenge",
        {200: Answer("A challenge", CaptchaChallenge, RATE_HEADERS)},
        body=CaptchaRequest,
        errors=(*BODY_ERRORS, 429),
    )),
    Route("POST", "/captcha/verify", verify, Operation(
        "verifyCaptcha",
        "Check a solution (one attempt per challenge); a pass gives a single-use token",
        {200: Answer("Passed", CaptchaPass)},
        body=CaptchaVerifyRequest,
        errors=(*BODY_ERRORS, 403),
    )),
    Route("GET", "/metrics", metrics.endpoint, public=False),  # in-cluster only: shared.metrics
)  # fmt: skip


handle_framework_errors("captcha")  # Flask's own 404s (e.g. a path with a newline), as JSON


def captcha(request: flask.Request) -> flask.Response:
    return serve(request, context, ROUTES, function="captcha")
