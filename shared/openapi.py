"""The OpenAPI 3.1 document for the whole API, generated from the pydantic models.

`python -m shared.openapi > shared/openapi.json` writes the shipped copy; a test checks that
the copy equals what this module generates and that it lists exactly the functions' routes.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shared import models

REF = "#/components/schemas/{model}"
SCHEMA_MODELS: list[type[BaseModel]] = [
    models.CreateContainerRequest,
    models.CaptchaRequest,
    models.CaptchaVerifyRequest,
    models.Container,
    models.ContainerList,
    models.TemplateList,
    models.RateLimitStatus,
    models.CaptchaChallenge,
    models.CaptchaPass,
    models.ErrorBody,
]

ERRORS = {
    "400": "Malformed request: the body is not JSON or not an object",
    "403": "CAPTCHA failed, or the pass token is missing, used or expired",
    "404": "No such container, or not yours",
    "405": "Method not allowed on this path",
    "413": "Body too large",
    "415": "Body is not application/json",
    "422": "A field is invalid; details name it",
    "429": "A rate limit or quota is reached; see Retry-After",
    "503": "Full, or storage unavailable; see Retry-After",
}

RATE_HEADERS = {
    "RateLimit-Policy": {
        "description": "The quota policies (draft-ietf-httpapi-ratelimit-headers)",
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": "What each policy has left and when it resets",
        "schema": {"type": "string"},
    },
}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}
ALLOW = {"Allow": {"description": "The methods this path serves", "schema": {"type": "string"}}}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _json(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": _ref(model)}}


def _errors(*statuses: str) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for status in statuses:
        answer: dict[str, Any] = {"description": ERRORS[status], "content": _json(models.ErrorBody)}
        if status in ("429", "503"):
            answer["headers"] = {**RETRY_AFTER, **(RATE_HEADERS if status == "429" else {})}
        if status == "405":
            answer["headers"] = ALLOW
        answers[status] = answer
    return answers


def _operation(
    operation_id: str,
    summary: str,
    responses: dict[str, Any],
    *,
    body: type[BaseModel] | None = None,
    parameters: list[dict[str, Any]] | None = None,
    errors: tuple[str, ...] = (),
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "responses": {**responses, **_errors(*errors, "405", "503")},
    }
    if body is not None:
        operation["requestBody"] = {"required": True, "content": _json(body)}
    if parameters:
        operation["parameters"] = parameters
    return operation


CONTAINER_ID = {
    "name": "container_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": models.CONTAINER_ID_PATTERN},
}
BODY_ERRORS = ("400", "413", "415", "422")


def document() -> dict[str, Any]:
    _, definitions = models_json_schema(
        [(m, "validation") for m in SCHEMA_MODELS], ref_template=REF
    )
    schemas = definitions.get("$defs", {})
    paths: dict[str, Any] = {
        "/captcha/request": {
            "post": _operation(
                "requestCaptcha",
                "Issue a slider (or proof-of-work only) challenge",
                {"200": {"description": "A challenge", "content": _json(models.CaptchaChallenge),
                         "headers": RATE_HEADERS}},
                body=models.CaptchaRequest,
                errors=(*BODY_ERRORS, "429"),
            )
        },
        "/captcha/verify": {
            "post": _operation(
                "verifyCaptcha",
                "Check a solution (one attempt per challenge); a pass gives a single-use token",
                {"200": {"description": "Passed", "content": _json(models.CaptchaPass)}},
                body=models.CaptchaVerifyRequest,
                errors=(*BODY_ERRORS, "403"),
            )
        },
        "/containers": {
            "post": _operation(
                "createContainer",
                "Ask for a new container (consumes a CAPTCHA pass token)",
                {
                    "202": {
                        "description": "Accepted: the record, pending",
                        "content": _json(models.Container),
                        "headers": {
                            "Location": {"schema": {"type": "string"}},
                            "Sprout-Owner-Token": {
                                "description": "The owner secret, when this call issued one "
                                "(also set as the httpOnly cookie sprout_owner)",
                                "schema": {"type": "string"},
                            },
                            **RATE_HEADERS,
                        },
                    }
                },
                body=models.CreateContainerRequest,
                errors=(*BODY_ERRORS, "403", "429"),
            ),
            "get": _operation(
                "listContainers",
                "The caller's own containers (send If-None-Match for a cheap 304)",
                {
                    "200": {
                        "description": "The caller's containers, newest first",
                        "content": _json(models.ContainerList),
                        "headers": {"ETag": {"schema": {"type": "string"}}},
                    },
                    "304": {"description": "Not modified"},
                },
                parameters=[
                    {"name": "If-None-Match", "in": "header", "required": False,
                     "schema": {"type": "string"}}
                ],
            ),
        },
        "/containers/templates": {
            "get": _operation(
                "listTemplates",
                "The templates a visitor may start",
                {"200": {"description": "Templates", "content": _json(models.TemplateList)}},
            )
        },
        "/containers/{container_id}": {
            "get": _operation(
                "getContainer",
                "One of the caller's containers",
                {"200": {"description": "The record", "content": _json(models.Container)}},
                parameters=[CONTAINER_ID],
                errors=("404",),
            ),
            "delete": _operation(
                "deleteContainer",
                "Ask for deletion (idempotent)",
                {"202": {"description": "Accepted: the record, deleting",
                         "content": _json(models.Container)}},
                parameters=[CONTAINER_ID],
                errors=("404",),
            ),
        },
        "/rate-limit": {
            "get": _operation(
                "getRateLimit",
                "Every quota of the caller: limit, remaining, reset",
                {"200": {"description": "Policies", "content": _json(models.RateLimitStatus),
                         "headers": RATE_HEADERS}},
            )
        },
    }  # fmt: skip
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Sprout",
            "version": "1.0.0",
            "description": "A public playground that hands anyone a short-lived container.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "ownerCookie": {"type": "apiKey", "in": "cookie", "name": "sprout_owner"},
                "ownerBearer": {"type": "http", "scheme": "bearer"},
            },
        },
        "security": [{}, {"ownerCookie": []}, {"ownerBearer": []}],
    }


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render(), end="")
