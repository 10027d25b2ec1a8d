"""The baseline: a bare functions-framework target that does nothing."""

import flask


def hello(request: flask.Request) -> str:
    return "hello"
