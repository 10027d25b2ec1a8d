"""The one seam that turns Kubernetes client errors into Temporary/Permanent errors."""

from __future__ import annotations

import json

import pytest
import urllib3
from kubernetes.client.exceptions import ApiException

from functions.worker.errors import (
    RETRY_AFTER_MAX,
    AlreadyExists,
    NotFound,
    PermanentError,
    TemporaryError,
    backoff_delay,
    retry_after,
    retry_delay,
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


def test_an_entry_waits_the_servers_retry_after_else_backs_off() -> None:
    busy = TemporaryError("busy", delay=3.0)
    assert retry_delay(busy, 1, base=0.5, cap=10) == 3.0  # the server said so
    assert retry_delay(TemporaryError("busy", delay=600), 1, base=0.5, cap=10) == RETRY_AFTER_MAX
    for attempt, (low, high) in {1: (0.25, 0.5), 2: (0.5, 1.0), 9: (5.0, 10.0)}.items():
        assert low <= retry_delay(TemporaryError("down"), attempt, base=0.5, cap=10) <= high
    assert 0.25 <= retry_delay(ConnectionError("redis"), 1, base=0.5, cap=10) <= 0.5


def test_backoff_grows_and_is_capped() -> None:
    assert 0.5 <= backoff_delay(1, 1.0, 30) <= 1.0
    assert 4.0 <= backoff_delay(4, 1.0, 30) <= 8.0
    assert 5.0 <= backoff_delay(20, 1.0, 10) <= 10.0
