"""Fault injection and request statistics.

Mirrors how a busy or flaky control plane looks to a client: added latency (fixed plus uniform
jitter), and a share of requests answered with the errors real API servers send under
pressure — 429 TooManyRequests with ``Retry-After`` (API Priority and Fairness), 500
InternalError, 503 ServiceUnavailable, 504 Timeout — optionally after the write was applied (a
lost response). Decisions come from one seeded random generator, so a seeded run injects the
same number of faults in the same order of requests.
"""

from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from . import errors
from .config import SimConfig
from .errors import ApiError
from .resources import BY_PLURAL

MUTATING_VERBS = frozenset({"create", "delete"})


@dataclass(frozen=True)
class FaultDecision:
    delay_seconds: float
    error: ApiError | None
    after_commit: bool


def _error_for(code: int, verb: str, resource: str, retry_after: int) -> ApiError:
    if code == 429:
        return errors.too_many_requests(retry_after)
    if code == 503:
        return errors.service_unavailable()
    if code == 504:
        resource_type = BY_PLURAL.get(resource.split("/")[0])
        if resource_type is not None:
            return errors.timeout(verb.upper() if verb != "list" else "LIST", resource_type)
        return ApiError(504, "Timeout", "the request timed out")
    return errors.internal_error("injected fault (kubesim)")


class FaultInjector:
    """Decides, per API request, the injected delay and whether it fails."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._random = random.Random()
        self._pending_failures = 0
        self._cycle = 0

    def configure(self, config: SimConfig, changed: set[str] | None = None) -> None:
        """Applies settings; ``changed=None`` means all of them (start-up or reset).

        Giving ``seed`` restarts the dice from that seed; giving ``fail_next`` arms that many
        failures (counting down from now).
        """
        with self._lock:
            if changed is None or "seed" in changed:
                self._random.seed(config.seed)
            if changed is None or "fail_next" in changed:
                self._pending_failures = config.fail_next
                self._cycle = 0

    def decide(self, config: SimConfig, verb: str, resource: str) -> FaultDecision:
        applies = (config.fault_verbs is None or verb in config.fault_verbs) and (
            config.fault_resources is None or resource.split("/")[0] in config.fault_resources
        )
        with self._lock:
            delay = config.latency_ms / 1000.0
            if config.jitter_ms:
                delay += self._random.uniform(0, config.jitter_ms) / 1000.0
            if not applies:
                return FaultDecision(delay, None, False)
            code: int | None = None
            if self._pending_failures > 0:
                self._pending_failures -= 1
                code = config.error_codes[self._cycle % len(config.error_codes)]
                self._cycle += 1
            elif config.error_rate and self._random.random() < config.error_rate:
                code = self._random.choice(config.error_codes)
            if code is None:
                return FaultDecision(delay, None, False)
            after = (
                verb in MUTATING_VERBS
                and config.error_after_commit > 0
                and self._random.random() < config.error_after_commit
            )
            return FaultDecision(
                delay, _error_for(code, verb, resource, config.retry_after_seconds), after
            )


class RequestStats:
    """Counts of API requests by verb and resource, responses by code, and injected faults."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._requests: defaultdict[str, Counter[str]] = defaultdict(Counter)
            self._responses: Counter[str] = Counter()
            self._faults: Counter[str] = Counter()
            self._delayed = 0

    def request(self, verb: str, resource: str) -> None:
        with self._lock:
            self._requests[verb][resource] += 1

    def response(self, code: int) -> None:
        with self._lock:
            self._responses[str(code)] += 1

    def fault(self, code: int, after_commit: bool) -> None:
        with self._lock:
            self._faults[f"{code}{' after commit' if after_commit else ''}"] += 1

    def delayed(self) -> None:
        with self._lock:
            self._delayed += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": {verb: dict(counts) for verb, counts in sorted(self._requests.items())},
                "responses": dict(sorted(self._responses.items())),
                "faults": dict(sorted(self._faults.items())),
                "delayed_requests": self._delayed,
            }
