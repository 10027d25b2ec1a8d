"""Serve a function's routes with a given Context, the way functions-framework serves them.

functions-framework hands every path and method of its port to the one target; this does
the same with a catch-all Flask route, so tests can feed a Context built from values.
"""

from __future__ import annotations

from collections.abc import Sequence

import flask

from shared.context import Context, LazyContext
from shared.http import Route, serve


def function_app(ctx: Context, routes: Sequence[Route], function: str = "test") -> flask.Flask:
    app = flask.Flask("sprout-test")
    context = LazyContext(lambda: ctx)

    @app.route("/", defaults={"path": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    @app.route("/<path:path>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def entry(path: str) -> flask.Response:
        return serve(flask.request, context, routes, function=function)

    return app
