"""Serve a function's routes with a given Context, the way functions-framework serves them.

functions-framework hands every path and every method of its port to the one target (its
catch-all rules name no methods, so even OPTIONS reaches the function), and Flask answers
the paths those rules do not match; this does the same, with the error handler each
`main.py` registers, so tests can feed a Context built from values.
"""

from __future__ import annotations

import flask
import redis
import werkzeug.routing
from flask.testing import FlaskClient
from werkzeug.exceptions import HTTPException

from shared import passes
from shared.context import Context, LazyContext
from shared.http import Routes, framework_error, serve
from shared.identity import client_hash
from tests.conftest import SECRET


def function_app(ctx: Context, routes: Routes, function: str = "test") -> flask.Flask:
    app = flask.Flask("sprout-test")
    context = LazyContext(lambda: ctx)

    def entry(path: str) -> flask.Response:
        return serve(flask.request, context, routes, function=function)

    app.url_map.add(werkzeug.routing.Rule("/", defaults={"path": ""}, endpoint="run"))
    app.url_map.add(werkzeug.routing.Rule("/<path:path>", endpoint="run"))
    app.view_functions["run"] = entry
    app.register_error_handler(HTTPException, lambda e: framework_error(e, function=function))
    return app


# Calling a function as a client at PEER, with passes issued straight into Redis.

PEER = "203.0.113.7"


def client_for(ctx, routes: Routes, peer: str = PEER) -> FlaskClient:
    client = function_app(ctx, routes).test_client()
    client.environ_base["REMOTE_ADDR"] = peer
    return client


def pass_token(r: redis.Redis, peer: str = PEER, mode: str = "slider") -> str:
    return passes.issue(r, client_hash=client_hash(SECRET, peer), action="create", mode=mode)


def create(api: FlaskClient, r: redis.Redis, template: str = "nginx", **kw):
    token = pass_token(r, kw.pop("peer", PEER), kw.pop("mode", "slider"))
    return api.post("/containers", json={"template": template, "captcha_token": token}, **kw)
