"""One error family for everything a client can cause, rendered in one JSON shape.

    SproutError                     status, code, message, details, headers
    ├── BadRequest          400     malformed request (not JSON, wrong shape)
    ├── CaptchaFailed       403     a CAPTCHA answer or pass token did not hold
    ├── NotFound            404     no such thing, or not yours (never says which)
    ├── MethodNotAllowed    405     with Allow
    ├── Conflict            409
    ├── PayloadTooLarge     413
    ├── UnsupportedMedia    415     body is not application/json
    ├── InvalidField        422     names the field(s) in details
    ├── RateLimited         429     with Retry-After
    └── Unavailable         503     full, Redis down, misconfigured; with Retry-After

Library code raises these; only the HTTP layer (`shared.http`) turns them into responses.
Anything else that escapes is a bug: it is logged with its traceback and the client gets a
plain 500 with a request id, never the traceback.
"""

from __future__ import annotations

from typing import Any


class SproutError(Exception):
    status = 500
    code = "internal"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


class BadRequest(SproutError):
    status = 400
    code = "bad_request"


class CaptchaFailed(SproutError):
    status = 403
    code = "captcha_failed"


class NotFound(SproutError):
    status = 404
    code = "not_found"


class MethodNotAllowed(SproutError):
    status = 405
    code = "method_not_allowed"

    def __init__(self, allowed: list[str]) -> None:
        super().__init__(
            f"Method not allowed here; use {', '.join(allowed)}.",
            headers={"Allow": ", ".join(allowed)},
            details={"allowed": allowed},
        )


class Conflict(SproutError):
    status = 409
    code = "conflict"


class PayloadTooLarge(SproutError):
    status = 413
    code = "payload_too_large"


class UnsupportedMedia(SproutError):
    status = 415
    code = "unsupported_media_type"


class InvalidField(SproutError):
    status = 422
    code = "invalid_field"


class RateLimited(SproutError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, policy: str, retry_after: int) -> None:
        retry_after = max(1, int(retry_after))
        super().__init__(
            message,
            details={"policy": policy, "retry_after": retry_after},
            headers={"Retry-After": str(retry_after)},
        )


class Unavailable(SproutError):
    status = 503
    code = "unavailable"

    def __init__(self, message: str, *, code: str = "unavailable", retry_after: int = 5) -> None:
        retry_after = max(1, int(retry_after))
        super().__init__(
            message,
            code=code,
            details={"retry_after": retry_after},
            headers={"Retry-After": str(retry_after)},
        )


class ConfigError(Exception):
    """The process's configuration is missing or invalid; the message names what to set."""
