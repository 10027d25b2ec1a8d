"""Function `containers`: create, list, read and delete the caller's containers."""

from __future__ import annotations

import flask

from shared import containers as service
from shared import limits, metrics
from shared.context import LazyContext
from shared.http import Call, conditional_json, handle_framework_errors, json_response, route, serve
from shared.models import CreateContainerRequest

context = LazyContext()


def create(call: Call) -> flask.Response:
    body = call.json_body(CreateContainerRequest)
    created = service.create(
        call.ctx,
        owner=call.ensure_owner(),
        client=call.client,
        network=call.network,
        template=body.template,
        captcha_token=body.captcha_token,
        request_id=call.request_id,
    )
    headers = {
        "Location": f"/containers/{created.container.id}",
        **limits.headers(created.policies),
    }
    return json_response(created.container, 202, headers)


def list_own(call: Call) -> flask.Response:
    response = conditional_json(call, service.list_for(call.ctx, call.owner))
    response.headers["Vary"] = "Cookie, Authorization"
    return response


def templates(call: Call) -> flask.Response:
    return json_response(
        service.templates(call.ctx), headers={"Cache-Control": "public, max-age=60"}
    )


def read(call: Call, container_id: str) -> flask.Response:
    return json_response(service.get(call.ctx, call.owner, container_id))


def delete(call: Call, container_id: str) -> flask.Response:
    return json_response(service.delete(call.ctx, call.owner, container_id, call.request_id), 202)


ROUTES = [
    route("POST", "/containers", create),
    route("GET", "/containers", list_own),
    route("GET", "/containers/templates", templates),
    route("GET", "/containers/{container_id}", read),
    route("DELETE", "/containers/{container_id}", delete),
    route("GET", "/metrics", metrics.endpoint, public=False),  # in-cluster only: shared.metrics
]


handle_framework_errors("containers")  # Flask's own 404s (e.g. a path with a newline), as JSON


def containers(request: flask.Request) -> flask.Response:
    return serve(request, context, ROUTES, function="containers")
