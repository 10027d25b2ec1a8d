"""The one seam that turns Kubernetes client errors into Temporary/Permanent errors."""

from __future__ import annotations

import json

import pytest
import urllib3
from kubernetes.client.exceptions import ApiException

from functions.worker.errors import (
    AlreadyExists,
    NotFound,
    PermanentError,
    TemporaryError,
    backoff_delay,
    retry_after,
    retrying,
    translated,
)


def api_error(
    status: int, message: str = "", headers: dict[str, str] | None = None
) -> ApiException:
    exc = ApiException(status=status, reason="Reason")
    exc.body = json.dumps(
        {"kind": "Status", "status": "Failure", "message": message, "code": status}
    )
    exc.headers = headers or {}
    return exc


def raised(error: BaseException) -> BaseException:
    with pytest.raises(Exception) as info, translated("create the pod"):
        raise error
    return info.value


@pytest.mark.parametrize("status", [500, 502, 503, 504, 0])
def test_server_errors_are_temporary(status: int) -> None:
    original = api_error(status, "etcdserver: leader changed")
    error = raised(original)
    assert isinstance(error, TemporaryError) and error.delay is None
    assert error.__cause__ is original


def test_429_is_temporary_with_its_retry_after() -> None:
    error = raised(api_error(429, "too many requests", {"Retry-After": "3"}))
    assert isinstance(error, TemporaryError) and error.delay == 3.0


@pytest.mark.parametrize(
    ("status", "cls", "words"),
    [
        (400, PermanentError, "refused"),
        (401, PermanentError, "credentials"),
        (403, PermanentError, 'violates PodSecurity "restricted:latest"'),
        (422, PermanentError, "invalid"),
        (404, NotFound, "not found"),
        (409, AlreadyExists, "already exists"),
    ],
)
def test_client_errors_are_permanent_with_a_reason(status: int, cls: type, words: str) -> None:
    message = (
        'pods "x" is forbidden: violates PodSecurity "restricted:latest"'
        if status == 403
        else "bad"
    )
    original = api_error(status, message)
    error = raised(original)
    assert type(error) is cls and isinstance(error, PermanentError)
    assert words in error.reason and error.status == status
    assert error.__cause__ is original


def test_quota_refusal_reads_as_no_room() -> None:
    error = raised(api_error(403, 'pods "x" is forbidden: exceeded quota: sprout, requested: cpu'))
    assert isinstance(error, PermanentError) and "no room" in error.reason


@pytest.mark.parametrize(
    "original",
    [
        urllib3.exceptions.ReadTimeoutError(None, "/api", "read timed out"),  # type: ignore[arg-type]
        urllib3.exceptions.ConnectTimeoutError("connect timed out"),
        urllib3.exceptions.NewConnectionError(None, "refused"),  # type: ignore[arg-type]
        urllib3.exceptions.ProtocolError("Connection aborted."),
        urllib3.exceptions.MaxRetryError(None, "/api"),  # type: ignore[arg-type]
    ],
)
def test_network_errors_are_temporary(original: Exception) -> None:
    error = raised(original)
    assert isinstance(error, TemporaryError) and error.__cause__ is original


def test_other_exceptions_pass_through_untouched() -> None:
    error = raised(KeyError("bug"))
    assert isinstance(error, KeyError)


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after({"Retry-After": "7"}) == 7.0
    assert retry_after({"Retry-After": "Thu, 01 Jan 2026 00:00:10 GMT"}, now=1767225600.0) == 10.0
    assert retry_after({"Retry-After": "soon"}) is None
    assert retry_after({}) is None and retry_after(None) is None


def test_retrying_backs_off_then_succeeds_or_gives_up() -> None:
    slept: list[float] = []
    failures = iter([TemporaryError("busy", delay=2.0), TemporaryError("boom")])

    def call() -> str:
        for failure in failures:
            raise failure
        return "ok"

    assert retrying(call, attempts=3, base=0.5, cap=10, sleep=slept.append) == "ok"
    assert slept[0] == 2.0 and 0.5 <= slept[1] <= 1.0  # second try: up to 2 x base

    def always() -> str:
        raise TemporaryError("down")

    with pytest.raises(TemporaryError):
        retrying(always, attempts=2, base=0.1, cap=1, sleep=slept.append)


def test_retrying_does_not_retry_permanent_errors() -> None:
    calls = []

    def refused() -> None:
        calls.append(1)
        raise PermanentError("no")

    with pytest.raises(PermanentError):
        retrying(refused, attempts=5, base=0.1, cap=1, sleep=lambda _: None)
    assert calls == [1]


def test_backoff_grows_and_is_capped() -> None:
    assert 0.5 <= backoff_delay(1, 1.0, 30) <= 1.0
    assert 4.0 <= backoff_delay(4, 1.0, 30) <= 8.0
    assert 5.0 <= backoff_delay(20, 1.0, 10) <= 10.0
