"""API errors as the Kubernetes API server reports them: a ``Status`` body plus an HTTP code.

Mirrors ``k8s.io/apimachinery/pkg/api/errors`` and ``pkg/util/validation/field``: the same
reasons (NotFound, AlreadyExists, Invalid, Forbidden, ...), the same message formats
(``pods "x" not found``, ``Pod "x" is invalid: metadata.name: Invalid value: ...``) and the same
``details`` (name, group, kind, causes), so a client's error handling sees what a cluster sends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from .resources import ResourceType

FieldErrorType = Literal["Required", "Invalid", "NotSupported", "Duplicate"]


def go_repr(value: object) -> str:
    """A value the way Go's ``%#v``/``%q`` prints it inside field error messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"))  # strings quoted, None as null


@dataclass(frozen=True)
class FieldError:
    """One validation problem at a field path, like ``field.Error`` in apimachinery."""

    type: FieldErrorType
    field: str
    value: object = None
    detail: str = ""
    supported: tuple[str, ...] = ()

    def body(self) -> str:
        if self.type == "Required":
            text = "Required value"
        elif self.type == "Duplicate":
            text = f"Duplicate value: {go_repr(self.value)}"
        elif self.type == "NotSupported":
            text = f"Unsupported value: {go_repr(self.value)}"
            if self.supported:
                text += ": supported values: " + ", ".join(map(json.dumps, self.supported))
        else:
            text = f"Invalid value: {go_repr(self.value)}"
        return f"{text}: {self.detail}" if self.detail else text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"

    def cause(self) -> dict[str, str]:
        return {"reason": f"FieldValue{self.type}", "message": self.body(), "field": self.field}


@dataclass
class ApiError(Exception):
    """An error answer of the API: HTTP ``code`` and a ``Status`` body."""

    code: int
    reason: str
    message: str
    details: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details:
            body["details"] = self.details
        body["code"] = self.code
        return body


def _details(resource: ResourceType, name: str, kind: str | None = None) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name}
    if resource.group:
        details["group"] = resource.group
    details["kind"] = kind or resource.plural
    return details


def not_found(resource: ResourceType, name: str) -> ApiError:
    message = f'{resource.qualified_plural} "{name}" not found'
    return ApiError(404, "NotFound", message, _details(resource, name))


def namespace_not_found(name: str) -> ApiError:
    details = {"name": name, "kind": "namespaces"}
    return ApiError(404, "NotFound", f'namespaces "{name}" not found', details)


def already_exists(resource: ResourceType, name: str) -> ApiError:
    message = f'{resource.qualified_plural} "{name}" already exists'
    return ApiError(409, "AlreadyExists", message, _details(resource, name))


def invalid(resource: ResourceType, name: str, errors: list[FieldError]) -> ApiError:
    joined = str(errors[0]) if len(errors) == 1 else "[" + ", ".join(map(str, errors)) + "]"
    details = _details(resource, name, kind=resource.kind)
    details["causes"] = [error.cause() for error in errors]
    message = f'{resource.qualified_kind} "{name}" is invalid: {joined}'
    return ApiError(422, "Invalid", message, details)


def forbidden(resource: ResourceType, name: str, why: str) -> ApiError:
    message = f'{resource.qualified_plural} "{name}" is forbidden: {why}'
    return ApiError(403, "Forbidden", message, _details(resource, name))


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def method_not_allowed() -> ApiError:
    return ApiError(
        405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
    )


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def resource_not_found() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource")


def too_old_resource_version(requested: int, oldest: int) -> ApiError:
    return ApiError(410, "Expired", f"too old resource version: {requested} ({oldest})")


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(
        429,
        "TooManyRequests",
        "Too many requests, please try again later.",
        {"retryAfterSeconds": retry_after},
        {"Retry-After": str(retry_after)},
    )


def internal_error(detail: str) -> ApiError:
    message = f"Internal error occurred: {detail}"
    return ApiError(500, "InternalError", message, {"causes": [{"message": detail}]})


def service_unavailable() -> ApiError:
    return ApiError(
        503, "ServiceUnavailable", "the server is currently unable to handle the request"
    )


def timeout(verb: str, resource: ResourceType) -> ApiError:
    return ApiError(
        504,
        "Timeout",
        f"The {verb} operation against {resource.kind} could not be completed at this time, "
        "please try again.",
        {"retryAfterSeconds": 1},
    )
