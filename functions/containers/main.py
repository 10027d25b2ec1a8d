"""Function `containers`: create, list, read and delete the caller's containers."""

from __future__ import annotations

import flask

from shared import containers as service
from shared import limits, metrics, transfer
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
    RedeemTransferRequest,
    TemplateList,
    TransferCode,
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


def make_transfer(call: Call) -> flask.Response:
    made = transfer.make(call.ctx, owner_secret=call.owner_secret, client=call.client)
    return json_response(made.code, 201, limits.headers(made.policies))


def redeem_transfer(call: Call) -> flask.Response:
    body = call.json_body(RedeemTransferRequest)
    redeemed = transfer.redeem(call.ctx, code=body.code, client=call.client, network=call.network)
    call.adopt_owner(redeemed.owner_secret)  # the answer sets the owner cookie
    listed = service.list_for(call.ctx, call.owner)
    return json_response(listed, headers=limits.headers(redeemed.policies))


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
    Route("POST", "/containers/transfer", make_transfer, Operation(
        "makeTransferCode",
        "A one-time code (and link) that carries the caller's containers to another browser",
        {201: Answer("The code, good once until expires_at", TransferCode, RATE_HEADERS)},
        errors=(404, 429),
    )),
    Route("POST", "/containers/transfer/redeem", redeem_transfer, Operation(
        "redeemTransferCode",
        "Exchange a transfer code for its owner: this browser gets the owner cookie",
        {200: Answer("The containers now this browser's, newest first", ContainerList,
                     (OWNER_TOKEN, *RATE_HEADERS))},
        body=RedeemTransferRequest,
        errors=(*BODY_ERRORS, 404, 429),
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
