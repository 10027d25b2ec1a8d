"""The HTTP seam: parse requests, route them, render answers and errors in one shape.

Every function's `main.py` declares its routes (`Routes`, matched by werkzeug's `Map`, each
public route with its `openapi.Operation`) and hands each request to `serve`; handlers get a
`Call` (who is asking, with what) and return a `flask.Response`. Only this module turns
errors into responses: `SproutError`s become their status and JSON body (a path no route
serves is a 404, a method a path does not serve a 405 with `Allow`); Redis being down
becomes a 503; anything else is logged with its traceback and answered with a bare 500.
`serve` also counts every answer and its latency (`shared.metrics`), by route template;
`handle_framework_errors` does the same for what Flask refuses before a function runs.

Internal routes (`public=False`, such as `GET /metrics`) are left out of the OpenAPI
document and their handlers get the bare `flask.Request`: no context and no identity, so
they answer even when the function is misconfigured or Redis is down.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

import flask
import functions_framework
import redis
from pydantic import BaseModel, ValidationError
from werkzeug import exceptions as werkzeug_errors
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter, Map, Rule

from shared import identity, logs, metrics
from shared.context import Context, LazyContext
from shared.errors import (
    BadRequest,
    ConfigError,
    InvalidField,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    SproutError,
    Unavailable,
    UnsupportedMedia,
)
from shared.openapi import Operation

log = logging.getLogger("sprout.http")

REQUEST_ID_HEADER = "X-Request-Id"
OWNER_COOKIE_MAX_AGE = 30 * 24 * 3600
_REQUEST_ID_SHAPE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass
class Call:
    """One request as the handlers see it."""

    request: flask.Request
    ctx: Context
    request_id: str
    client: str  # keyed hash of the client address
    owner: str | None  # keyed hash of the owner secret, if the caller sent one
    network: str  # keyed hash of the network around the client address
    new_owner_secret: str | None = None  # set when this call issues an identity

    def ensure_owner(self) -> str:
        """The caller's owner hash, issuing a fresh secret (cookie) if they have none."""
        if self.owner is None:
            self.new_owner_secret = identity.new_owner_secret()
            self.owner = identity.owner_hash(self.ctx.api.secret_key, self.new_owner_secret)
        return self.owner

    def json_body(self, model: type[ModelT]) -> ModelT:
        return parse_json(self.request, model, self.ctx.api.max_body_bytes)


Handler = Callable[..., flask.Response]


@dataclass(frozen=True, eq=False)  # eq=False: hashed by identity, as werkzeug's endpoint
class Route:
    """One method on one path. `path` is a template (`/containers/{container_id}`, each
    `{name}` one segment, passed to the handler as `name`): the document's path, and the
    metrics' route label."""

    method: str
    path: str
    handler: Handler
    operation: Operation | None = None  # what the OpenAPI document says of it
    public: bool = True  # False: internal (not in the document, the handler gets the request)


class Match(NamedTuple):
    template: str  # the matched path's route template, or `metrics.UNMATCHED`
    route: Route | None  # None: no route serves this method (see `allowed`) or path
    params: Mapping[str, Any]
    allowed: list[str]  # the methods the path serves, when `route` is None


class Routes:
    """A function's route table, matched by werkzeug's `Map`.

    `patterns` shapes path parameters (a regular expression per name, as in the document):
    a segment that does not fit is no match, so `/containers/templates` is never taken for a
    container id, and another method on it is a 405 (werkzeug adds HEAD wherever GET is).
    """

    def __init__(self, *routes: Route, patterns: Mapping[str, str] | None = None) -> None:
        self.routes = routes
        self.patterns = dict(patterns or {})
        converters = {name: _shaped(pattern) for name, pattern in self.patterns.items()}
        self.map = Map(
            [Rule(_rule(r.path, converters), methods=[r.method], endpoint=r) for r in routes],
            converters=converters,
            strict_slashes=False,  # /containers/ is /containers
            merge_slashes=False,
        )  # fmt: skip

    def __iter__(self) -> Iterator[Route]:
        return iter(self.routes)

    def match(self, environ: dict[str, Any]) -> Match:
        adapter = self.map.bind_to_environ(environ)
        try:
            found, params = adapter.match()
        except werkzeug_errors.MethodNotAllowed as error:
            allowed = sorted(error.valid_methods or ())
            other, _ = adapter.match(method=allowed[0])  # the path's template, for metrics
            return Match(other.path, None, {}, allowed)
        except werkzeug_errors.NotFound:
            return Match(metrics.UNMATCHED, None, {}, [])
        return Match(found.path, found, params, [])


def _rule(path: str, converters: Mapping[str, type[BaseConverter]]) -> str:
    """`/containers/{container_id}` in werkzeug's words: `/containers/<container_id:...>`."""
    return re.sub(
        r"\{(\w+)\}",
        lambda m: f"<{m[1]}:{m[1]}>" if m[1] in converters else f"<{m[1]}>",
        path,
    )


def _shaped(pattern: str) -> type[BaseConverter]:
    class Shaped(BaseConverter):
        regex = pattern.removeprefix("^").removesuffix("$")

    return Shaped


def serve(
    request: flask.Request, context: LazyContext, routes: Routes, *, function: str
) -> flask.Response:
    """Answer one request of `function` (its name labels the metrics) from `routes`."""
    started = time.perf_counter()
    request_id = _request_id(request)
    token = logs.request_id.set(request_id)
    call: Call | None = None
    matched = routes.match(request.environ)
    try:
        if matched.route is None:
            if matched.allowed:
                raise MethodNotAllowed(matched.allowed)
            raise NotFound(f"No such path: {request.path}")
        if matched.route.public:
            call = _make_call(request, context(), request_id)
            response = matched.route.handler(call, **matched.params)
        else:
            response = matched.route.handler(request)
    except SproutError as error:
        response = error_response(error)
    except ConfigError as error:
        log.error("configuration: %s", error)
        response = error_response(
            Unavailable("The service is not configured yet.", code="misconfigured")
        )
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as error:
        log.warning("redis unavailable: %s", error)
        response = error_response(Unavailable("Storage is unavailable; try again shortly."))
    except Exception:
        log.exception("unhandled error in request %s", request_id)
        response = error_response(
            SproutError("Something went wrong on our side.", details={"request_id": request_id})
        )
    finally:
        logs.request_id.reset(token)
    response = _finish(response, call, request_id)
    metrics.observe_request(
        function, matched.template, request.method, response.status_code,
        time.perf_counter() - started,
    )  # fmt: skip
    return response


def handle_framework_errors(function: str) -> None:
    """Answer, in our error shape, what functions-framework's Flask app refuses itself.

    Its catch-all rule (`/<path:path>`) does not match every path, for one a path holding a
    newline, and it keeps /robots.txt and /favicon.ico for itself: Flask answers those 404s
    with an HTML page before any function runs. Each `main.py` calls this at import, which
    functions-framework runs inside its app (its `errorhandler` registers on that app there;
    anywhere else it does nothing).
    """
    functions_framework.errorhandler(HTTPException)(
        lambda error: framework_error(error, function=function)
    )


def framework_error(error: HTTPException, *, function: str) -> flask.Response:
    """The JSON error for an `HTTPException` the framework raised, counted as UNMATCHED."""
    status = error.code or 500
    known: dict[int, SproutError] = {
        400: BadRequest("The request is malformed."),
        404: NotFound(f"No such path: {flask.request.path}"),
        413: PayloadTooLarge("The request is too large."),
    }
    sprout = known.get(status)
    if sprout is None:
        sprout = SproutError(error.description or "Request refused.", code="http_error")
        sprout.status = status
    response = _finish(error_response(sprout), None, _request_id(flask.request))
    metrics.observe_request(function, metrics.UNMATCHED, flask.request.method, status, 0.0)
    return response


def _make_call(request: flask.Request, ctx: Context, request_id: str) -> Call:
    address = identity.client_address(
        request.remote_addr, request.headers.get("X-Real-Ip"), ctx.api.proxy_networks
    )
    secret = _owner_secret(request)
    network = identity.network_of(
        address, ctx.limits.network_prefix_v4, ctx.limits.network_prefix_v6
    )
    return Call(
        request=request,
        ctx=ctx,
        request_id=request_id,
        client=identity.client_hash(ctx.api.secret_key, address),
        owner=identity.owner_hash(ctx.api.secret_key, secret) if secret else None,
        network=identity.network_hash(ctx.api.secret_key, network),
    )


def _owner_secret(request: flask.Request) -> str | None:
    authorization = request.headers.get("Authorization", "")
    if authorization[:7].lower() == "bearer ":
        candidate = authorization[7:].strip()
    else:
        candidate = request.cookies.get(identity.OWNER_COOKIE, "")
    return candidate if identity.is_owner_secret(candidate) else None


def _request_id(request: flask.Request) -> str:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    return incoming if _REQUEST_ID_SHAPE.match(incoming) else secrets.token_hex(8)


def _finish(response: flask.Response, call: Call | None, request_id: str) -> flask.Response:
    response.headers.add(REQUEST_ID_HEADER, request_id)  # no handler sets these
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.add("X-Content-Type-Options", "nosniff")
    if call is not None and call.new_owner_secret:
        response.headers.add(
            "Set-Cookie", _owner_cookie(call.new_owner_secret, call.ctx.api.cookie_secure)
        )
        response.headers.add(identity.OWNER_TOKEN_HEADER, call.new_owner_secret)
    return response


def _owner_cookie(secret: str, secure: bool) -> str:
    """The owner cookie's `Set-Cookie` value. The secret is URL-safe base64 (checked by
    `identity.is_owner_secret`), so nothing needs quoting; `Max-Age` alone sets the expiry
    (every browser in use honours it)."""
    cookie = (
        f"{identity.OWNER_COOKIE}={secret}; Max-Age={OWNER_COOKIE_MAX_AGE}; HttpOnly; "
        "Path=/; SameSite=Strict"
    )
    return cookie + "; Secure" if secure else cookie


# Parsing -------------------------------------------------------------------------------------


def parse_json(request: flask.Request, model: type[ModelT], max_bytes: int) -> ModelT:
    if request.mimetype != "application/json":
        raise UnsupportedMedia("Send the body as JSON (Content-Type: application/json).")
    if request.content_length is not None and request.content_length > max_bytes:
        raise PayloadTooLarge(f"The body may be at most {max_bytes} bytes.")
    raw = request.stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"The body may be at most {max_bytes} bytes.")
    try:
        return model.model_validate_json(raw)  # parsed and validated in one pass
    except ValidationError as exc:
        whole = [e["type"] for e in exc.errors() if not e["loc"]]  # about the body itself
        if "json_invalid" in whole:
            raise BadRequest("The body is not valid JSON.") from None
        if whole:
            raise BadRequest("The body must be a JSON object.") from None
        raise InvalidField(_describe(exc), details=_field_errors(exc)) from None


def _field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(part) for part in error["loc"]) or "body", "message": error["msg"]}
        for error in exc.errors(include_url=False, include_input=False)
    ]


def _describe(exc: ValidationError) -> str:
    fields = sorted({".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors()})
    return f"Invalid field{'s' if len(fields) > 1 else ''}: {', '.join(fields)}."


# Rendering -----------------------------------------------------------------------------------


def json_response(
    payload: BaseModel | dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> flask.Response:
    body = payload.model_dump_json() if isinstance(payload, BaseModel) else json.dumps(payload)
    return flask.Response(body, status=status, headers=headers, mimetype="application/json")


def error_response(error: SproutError) -> flask.Response:
    return json_response(error.body(), error.status, error.headers)


def conditional_json(call: Call, payload: BaseModel) -> flask.Response:
    """200 with a strong ETag of the body, or 304 when the client already has it."""
    body = payload.model_dump_json()
    etag = hashlib.sha256(body.encode()).hexdigest()[:32]
    if etag in call.request.if_none_match:
        response = flask.Response(status=304)
    else:
        response = flask.Response(body, status=200, mimetype="application/json")
    response.set_etag(etag)
    response.headers["Cache-Control"] = "private, no-cache"
    return response
