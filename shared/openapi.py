"""The OpenAPI 3.1 document, generated from the functions' route declarations.

Each function's `main.py` declares its route table (`shared.http.Routes`), and each public
route its `Operation`: summary, request body, answers (status, model, headers) and errors.
`document` renders the tables with the pydantic models' JSON schemas. `make openapi`
(`python -m shared.openapi > shared/openapi.json`) writes the shipped copy, and a test fails
when that copy differs from a fresh one.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shared import models

if TYPE_CHECKING:
    from shared.http import Routes

REF = "#/components/schemas/{model}"
FUNCTIONS_DIR = Path(__file__).resolve().parents[1] / "functions"


@dataclass(frozen=True)
class Header:
    name: str
    description: str = ""
    type: str = "string"


RATE_HEADERS = (
    Header("RateLimit-Policy", "The quota policies (draft-ietf-httpapi-ratelimit-headers)"),
    Header("RateLimit", "What each policy has left and when it resets"),
)
RETRY_AFTER = Header("Retry-After", "Seconds to wait", "integer")
ALLOW = Header("Allow", "The methods this path serves")
LOCATION = Header("Location")
ETAG = Header("ETag")
IF_NONE_MATCH = Header("If-None-Match")
OWNER_TOKEN = Header(
    "Sprout-Owner-Token",
    "The owner secret, when this call issued one (also set as the httpOnly cookie sprout_owner)",
)


@dataclass(frozen=True)
class Answer:
    """A successful answer: what it means, its body's model, the headers it carries."""

    description: str
    model: type[BaseModel] | None = None
    headers: tuple[Header, ...] = ()


# Every error an operation may answer, in the one error shape (`models.ErrorBody`).
ERRORS = {
    400: "Malformed request: the body is not JSON or not an object",
    403: "CAPTCHA failed, or the pass token is missing, used or expired",
    404: "No such container, or not yours",
    405: "Method not allowed on this path",
    413: "Body too large",
    415: "Body is not application/json",
    422: "A field is invalid; details name it",
    429: "A rate limit or quota is reached; see Retry-After",
    503: "Full, or storage unavailable; see Retry-After",
}
ERROR_HEADERS = {405: (ALLOW,), 429: (RETRY_AFTER, *RATE_HEADERS), 503: (RETRY_AFTER,)}
BODY_ERRORS = (400, 413, 415, 422)  # what a request with a JSON body may be refused with
ALWAYS = (405, 503)  # what any operation may answer


@dataclass(frozen=True)
class Operation:
    """What the document says of one route."""

    id: str
    summary: str
    answers: Mapping[int, Answer]
    body: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()  # beyond `ALWAYS`
    request_headers: tuple[Header, ...] = field(default=())


def document(tables: Iterable[Routes]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    used: list[type[BaseModel]] = [models.ErrorBody]
    for table in tables:
        for route in table:
            if not route.public:
                continue
            if route.operation is None:
                raise ValueError(f"{route.method} {route.path} is public but declares no Operation")
            operation = route.operation
            used += [a.model for a in operation.answers.values() if a.model]
            used += [operation.body] if operation.body else []
            parameters = [
                {"name": name, "in": "path", "required": True,
                 "schema": _string(table.patterns.get(name))}
                for name in re.findall(r"\{(\w+)\}", route.path)
            ] + [
                {"name": header.name, "in": "header", "required": False, "schema": _string()}
                for header in operation.request_headers
            ]  # fmt: skip
            paths.setdefault(route.path, {})[route.method.lower()] = _operation(
                operation, parameters
            )
    _, definitions = models_json_schema(
        [(model, "validation") for model in dict.fromkeys(used)], ref_template=REF
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Sprout",
            "version": "1.0.0",
            "description": "A public playground that hands anyone a short-lived container.",
        },
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {
                "ownerCookie": {"type": "apiKey", "in": "cookie", "name": "sprout_owner"},
                "ownerBearer": {"type": "http", "scheme": "bearer"},
            },
        },
        "security": [{}, {"ownerCookie": []}, {"ownerBearer": []}],
    }


def _operation(operation: Operation, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    responses = {str(status): _answer(a) for status, a in operation.answers.items()}
    for status in (*operation.errors, *ALWAYS):
        error = Answer(ERRORS[status], models.ErrorBody, ERROR_HEADERS.get(status, ()))
        responses[str(status)] = _answer(error)
    rendered: dict[str, Any] = {
        "operationId": operation.id,
        "summary": operation.summary,
        "responses": responses,
    }
    if operation.body is not None:
        rendered["requestBody"] = {"required": True, "content": _json(operation.body)}
    if parameters:
        rendered["parameters"] = parameters
    return rendered


def _answer(answer: Answer) -> dict[str, Any]:
    rendered: dict[str, Any] = {"description": answer.description}
    if answer.model is not None:
        rendered["content"] = _json(answer.model)
    if answer.headers:
        rendered["headers"] = {header.name: _header(header) for header in answer.headers}
    return rendered


def _header(header: Header) -> dict[str, Any]:
    rendered: dict[str, Any] = {"schema": {"type": header.type}}
    if header.description:
        rendered["description"] = header.description
    return rendered


def _json(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}}


def _string(pattern: str | None = None) -> dict[str, str]:
    return {"type": "string", **({"pattern": pattern} if pattern else {})}


def function_tables() -> list[Routes]:
    """Every function's route table: `ROUTES` in each functions/<name>/main.py."""
    return [
        importlib.import_module(f"functions.{main.parent.name}.main").ROUTES
        for main in sorted(FUNCTIONS_DIR.glob("*/main.py"))
    ]


def render() -> str:
    return json.dumps(document(function_tables()), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render(), end="")
