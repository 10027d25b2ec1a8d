"""Serve a function's routes with a given Context, the way functions-framework serves them.

functions-framework hands every path and every method of its port to the one target (its
catch-all rules name no methods, so even OPTIONS reaches the function); this does the same,
so tests can feed a Context built from values.
"""

from __future__ import annotations

from collections.abc import Sequence

import flask
import werkzeug.routing

from shared.context import Context, LazyContext
from shared.http import Route, serve


def function_app(ctx: Context, routes: Sequence[Route], function: str = "test") -> flask.Flask:
    app = flask.Flask("sprout-test")
    context = LazyContext(lambda: ctx)

    def entry(path: str) -> flask.Response:
        return serve(flask.request, context, routes, function=function)

    app.url_map.add(werkzeug.routing.Rule("/", defaults={"path": ""}, endpoint="run"))
    app.url_map.add(werkzeug.routing.Rule("/<path:path>", endpoint="run"))
    app.view_functions["run"] = entry
    return app
