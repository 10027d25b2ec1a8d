"""Rate limits and quotas: the policies, what each has left, and the RateLimit headers.

Counting happens in Redis (sliding-window logs and live sets, in `scripts`), atomically with
the work it limits. This module names the policies, reads their state in one round trip,
and renders the IETF httpapi RateLimit-Policy / RateLimit headers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from shared import keys
from shared.models import Policy, RateLimitStatus
from shared.redis_client import Scripts
from shared.settings import LimitSettings

DESCRIPTIONS = {
    "creates_per_address": "Containers created from your address in the last hour",
    "pow_creates_per_address": "Containers created without the puzzle in the last hour",
    "live_per_address": "Containers running at once from your address",
    "live_per_owner": "Containers running at once for you",
    "challenges_per_address": "CAPTCHA challenges from your address in the last minute",
    "capacity": "Containers running at once on the whole service",
}
SCOPES = {
    "creates_per_address": "address",
    "pow_creates_per_address": "address",
    "live_per_address": "address",
    "live_per_owner": "owner",
    "challenges_per_address": "address",
    "capacity": "global",
}


def limit_of(name: str, limits: LimitSettings) -> int:
    return {
        "creates_per_address": limits.creates_per_hour,
        "pow_creates_per_address": limits.pow_creates_per_hour,
        "live_per_address": limits.live_per_address,
        "live_per_owner": limits.live_per_owner,
        "challenges_per_address": limits.challenges_per_minute,
        "capacity": limits.capacity,
    }[name]


def policy(name: str, limit: int, used: int, reset: float, window: int | None = None) -> Policy:
    return Policy(
        name=name,
        scope=SCOPES[name],  # type: ignore[arg-type]
        description=DESCRIPTIONS[name],
        limit=limit,
        remaining=max(0, limit - used),
        reset=max(0, math.ceil(reset)),
        window=window,
    )


def window_policy(
    name: str, limit: int, window: int, count: int, oldest: float, now: float
) -> Policy:
    # Never beyond the window: `oldest` may come back from a script a hair later than `now`
    # (cjson keeps 14 significant digits of an epoch time).
    reset = min(window, oldest + window - now) if count else 0
    return policy(name, limit, count, reset, window)


def status(
    scripts: Scripts, limits: LimitSettings, client: str, owner: str | None, now: float
) -> RateLimitStatus:
    """Every policy for this caller, in one round trip."""
    answer = scripts.run(
        scripts.limits,
        [
            keys.creates_by_client(client),
            keys.pow_creates_by_client(client),
            keys.challenges_by_client(client),
            keys.live_by_client(client),
            keys.live_by_owner(owner or "-"),
        ],
        [repr(now), limits.create_window, limits.challenge_window],
        idempotent=True,
    )
    live_owner = answer["live_owner"] if owner else [0, 0]

    def windowed(name: str, limit: int, window: int, counted: list[float]) -> Policy:
        return window_policy(name, limit, window, int(counted[0]), float(counted[1]), now)

    return RateLimitStatus(
        policies=[
            windowed(
                "creates_per_address",
                limits.creates_per_hour,
                limits.create_window,
                answer["creates"],
            ),
            windowed(
                "pow_creates_per_address",
                limits.pow_creates_per_hour,
                limits.create_window,
                answer["pow_creates"],
            ),
            policy("live_per_address", limits.live_per_address, *answer["live_client"]),
            policy("live_per_owner", limits.live_per_owner, *live_owner),
            windowed(
                "challenges_per_address",
                limits.challenges_per_minute,
                limits.challenge_window,
                answer["challenges"],
            ),
            policy("capacity", limits.capacity, answer["live_total"], 0),
        ]
    )


def headers(policies: Iterable[Policy]) -> dict[str, str]:
    """`RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers)."""
    listed = list(policies)
    if not listed:
        return {}
    return {
        "RateLimit-Policy": ", ".join(
            f'"{p.name}";q={p.limit}' + (f";w={p.window}" if p.window else "") for p in listed
        ),
        "RateLimit": ", ".join(f'"{p.name}";r={p.remaining};t={p.reset}' for p in listed),
    }
