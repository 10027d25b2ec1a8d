"""Function `ratelimit`: every quota of the caller, with what is left and when it resets."""

from __future__ import annotations

import flask

from shared import limits, metrics
from shared.context import LazyContext
from shared.http import Call, Route, Routes, handle_framework_errors, json_response, serve
from shared.models import RateLimitStatus
from shared.openapi import RATE_HEADERS, Answer, Operation

context = LazyContext()


def show(call: Call) -> flask.Response:
    status = limits.status(
        call.ctx.scripts,
        call.ctx.limits,
        client=call.client,
        network=call.network,
        owner=call.owner,
        now=call.ctx.clock(),
    )
    return json_response(status, headers=limits.headers(status.policies))


ROUTES = Routes(
    Route("GET", "/rate-limit", show, Operation(
        "getRateLimit",
        "Every quota of the caller: limit, remaining, reset",
        {200: Answer("Policies", RateLimitStatus, RATE_HEADERS)},
    )),
    Route("GET", "/metrics", metrics.endpoint, public=False),  # in-cluster only: shared.metrics
)  # fmt: skip


handle_framework_errors("ratelimit")  # Flask's own 404s (e.g. a path with a newline), as JSON


def ratelimit(request: flask.Request) -> flask.Response:
    return serve(request, context, ROUTES, function="ratelimit")
