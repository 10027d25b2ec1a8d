"""Kubernetes errors, translated at one seam into what the worker does about them.

    KubeError
    ├── TemporaryError(delay)    5xx, 429 (its Retry-After), timeouts, connection errors:
    │                            the entry is delivered again after a backoff (or `delay`),
    │                            and dead-lettered after N deliveries
    └── PermanentError(reason)   400, 401, 403, 422 and other 4xx: retrying will not help;
        │                        the container fails with `reason`, which a person can read
        ├── NotFound             404: on delete it means "already done"
        └── AlreadyExists        409: on create it means "already done" (read the object)

`translated()` is the only place that looks at `ApiException` and urllib3 errors; it raises
these classes chained `from` the original, so logs keep the whole story.
"""

from __future__ import annotations

import email.utils
import json
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import urllib3
from kubernetes.client.exceptions import ApiException

RETRY_AFTER_MAX = 60.0  # a longer Retry-After is taken as this (the entry stays held)


class KubeError(Exception):
    """A Kubernetes API call did not succeed."""


class TemporaryError(KubeError):
    def __init__(self, message: str, *, delay: float | None = None) -> None:
        super().__init__(message)
        self.delay = delay  # seconds the server asked us to wait, if it said


class PermanentError(KubeError):
    def __init__(self, reason: str, *, status: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class NotFound(PermanentError):
    pass


class AlreadyExists(PermanentError):
    pass


def _status_message(exc: ApiException) -> str:
    """The `message` of the Status body the API server sent, else the HTTP reason."""
    try:
        body = json.loads(exc.body or "")
    except (TypeError, ValueError):
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
        return str(body["message"])
    return str(exc.reason or f"HTTP {exc.status}")


def retry_after(headers: Any, *, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), if there is one."""
    if not headers:
        return None
    value = headers.get("Retry-After")
    if value is None:
        return None
    value = str(value).strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def classify(exc: ApiException, action: str) -> KubeError:
    """What an API error means for the worker. `action` says what was tried, for the reason."""
    status = int(exc.status or 0)
    message = _status_message(exc)
    if status == 0 or status >= 500:
        # 0: the client could not even talk to the server (TLS failure, bad request setup).
        return TemporaryError(f"{action}: the Kubernetes API failed ({status}: {message})")
    if status == 429:
        return TemporaryError(
            f"{action}: the Kubernetes API is busy (429)", delay=retry_after(exc.headers)
        )
    if status == 404:
        return NotFound(f"{action}: not found ({message})", status=status)
    if status == 409:
        return AlreadyExists(f"{action}: already exists ({message})", status=status)
    if status == 403 and "exceeded quota" in message:
        return PermanentError("There is no room on the cluster right now (quota).", status=403)
    if status == 403:
        return PermanentError(f"The cluster refused to {action}: {message}", status=status)
    if status == 422:
        return PermanentError(f"The cluster found the request invalid: {message}", status=status)
    if status == 401:
        return PermanentError("Sprout's cluster credentials were rejected.", status=status)
    return PermanentError(f"The cluster refused to {action} ({status}: {message})", status=status)


@contextmanager
def translated(action: str) -> Iterator[None]:
    """Run Kubernetes client calls; raise `KubeError`s instead of the client's exceptions."""
    try:
        yield
    except ApiException as exc:
        raise classify(exc, action) from exc
    except urllib3.exceptions.TimeoutError as exc:
        raise TemporaryError(f"{action}: the Kubernetes API timed out") from exc
    except urllib3.exceptions.HTTPError as exc:
        # Connection refused or reset, protocol errors, exhausted connection retries.
        raise TemporaryError(f"{action}: could not reach the Kubernetes API ({exc})") from exc


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: attempt 1 waits up to `base`, then doubling."""
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    return (rng or random).uniform(ceiling / 2, ceiling)


def retry_delay(error: BaseException, attempt: int, base: float, cap: float) -> float:
    """Seconds before an entry that failed with `error` is delivered again: the server's
    Retry-After (up to `RETRY_AFTER_MAX`), else backoff."""
    delay = getattr(error, "delay", None)
    return backoff_delay(attempt, base, cap) if delay is None else min(RETRY_AFTER_MAX, delay)
