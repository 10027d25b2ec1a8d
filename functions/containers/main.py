"""Function `containers`: create, list, read and delete the caller's containers."""

from __future__ import annotations

import flask

from shared import containers as service
from shared import limits, metrics
from shared.context import LazyContext
from shared.http import (
    Call,
    Route,
    Routes,
    conditional_json,
    handle_framework_errors,
    json_response,
    serve,
)
from shared.models import (
    CONTAINER_ID_PATTERN,
    Container,
    ContainerList,
    CreateContainerRequest,
    TemplateList,
)
from shared.openapi import (
    BODY_ERRORS,
    ETAG,
    IF_NONE_MATCH,
    LOCATION,
    OWNER_TOKEN,
    RATE_HEADERS,
    Answer,
    Operation,
)

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


ROUTES = Routes(
    Route("POST", "/containers", create, Operation(
        "createContainer",
        "Ask for a new container (consumes a CAPTCHA pass token)",
        {202: Answer("Accepted: the record, pending", Container,
                     (LOCATION, OWNER_TOKEN, *RATE_HEADERS))},
        body=CreateContainerRequest,
        errors=(*BODY_ERRORS, 403, 429),
    )),
    Route("GET", "/containers", list_own, Operation(
        "listContainers",
        "The caller's own containers (send If-None-Match for a cheap 304)",
        {200: Answer("The caller's containers, newest first", ContainerList, (ETAG,)),
         304: Answer("Not modified")},
        request_headers=(IF_NONE_MATCH,),
    )),
    Route("GET", "/containers/templates", templates, Operation(
        "listTemplates",
        "The templates a visitor may start",
        {200: Answer("Templates", TemplateList)},
    )),
    Route("GET", "/containers/{container_id}", read, Operation(
        "getContainer",
        "One of the caller's containers",
        {200: Answer("The record", Container)},
        errors=(404,),
    )),
    Route("DELETE", "/containers/{container_id}", delete, Operation(
        "deleteContainer",
        "Ask for deletion (idempotent)",
        {202: Answer("Accepted: the record, deleting", Container)},
        errors=(404,),
    )),
    Route("GET", "/metrics", metrics.endpoint, public=False),  # in-cluster only: shared.metrics
    patterns={"container_id": CONTAINER_ID_PATTERN},
)  # fmt: skip


handle_framework_errors("containers")  # Flask's own 404s (e.g. a path with a newline), as JSON


def containers(request: flask.Request) -> flask.Response:
    return serve(request, context, ROUTES, function="containers")
