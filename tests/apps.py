"""Serve a function's routes with a given Context, the way functions-framework serves them.

functions-framework hands every path and every method of its port to the one target (its
catch-all rules name no methods, so even OPTIONS reaches the function), and Flask answers
the paths those rules do not match; this does the same, with the error handler each
`main.py` registers, so tests can feed a Context built from values.
"""

from __future__ import annotations

from collections.abc import Sequence

import flask
import werkzeug.routing
from werkzeug.exceptions import HTTPException

from shared.context import Context, LazyContext
from shared.http import Route, framework_error, serve


def function_app(ctx: Context, routes: Sequence[Route], function: str = "test") -> flask.Flask:
    app = flask.Flask("sprout-test")
    context = LazyContext(lambda: ctx)

    def entry(path: str) -> flask.Response:
        return serve(flask.request, context, routes, function=function)

    app.url_map.add(werkzeug.routing.Rule("/", defaults={"path": ""}, endpoint="run"))
    app.url_map.add(werkzeug.routing.Rule("/<path:path>", endpoint="run"))
    app.view_functions["run"] = entry
    app.register_error_handler(HTTPException, lambda e: framework_error(e, function=function))
    return app
