"""The two CAPTCHA use cases: hand out a challenge, and turn a solution into a pass.

`request` = `open_challenge` (plan the puzzle, charge the address, price the proof of work by
load and recent failures, store the answer: one round trip) + `render` (draw the pictures;
only once the address was allowed a challenge).

`verify` takes the challenge out of Redis (one round trip, so exactly one attempt), then
checks, in this order: binding (address, action), timing (not expired, not impossibly fast),
proof of work, offset (slider), track (slider). A pass is written in a second round trip
(a failure is logged in one instead); the two cannot be one script because the checks need
the stored answer first and run here, not in Redis. Every failure raises the same
`CaptchaFailed`; the reason is counted (`shared.metrics`) and logged.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import random
from dataclasses import dataclass

import redis

from shared import limits, metrics, passes
from shared.captcha import pow, puzzle, store, track
from shared.captcha.failures import Rejected
from shared.context import Context
from shared.errors import CaptchaFailed
from shared.models import CaptchaChallenge, CaptchaPass, CaptchaVerifyRequest, Policy, PowChallenge
from shared.settings import CaptchaSettings

log = logging.getLogger("sprout.captcha")

FAILED_MESSAGE = "The CAPTCHA was not solved. Please try a new one."
POLICY = "challenges_per_address"


@dataclass(frozen=True)
class Opened:
    challenge: store.Challenge
    layout: puzzle.Layout | None  # None in proof-of-work-only mode
    policies: list[Policy]
    min_solve_seconds: float = 0.0


@dataclass(frozen=True)
class Issued:
    challenge: CaptchaChallenge
    policies: list[Policy]


def request(
    ctx: Context, *, client: str, action: str, mode: str, network: str | None = None
) -> Issued:
    return render(open_challenge(ctx, client=client, action=action, mode=mode, network=network))


def open_challenge(
    ctx: Context, *, client: str, action: str, mode: str, network: str | None = None
) -> Opened:
    """Plan a challenge and store it, charged to `client`; `RateLimited` when over the limit.

    `network` (keyed hash) is the network around the client's address: its recent failures
    raise the price. None: the address stands alone (callers that know no network)."""
    now = ctx.clock()
    settings, limit = ctx.captcha, ctx.limits
    layout = puzzle.plan(ctx.rng) if mode == "slider" else None
    challenge = store.Challenge(
        id=_token(ctx.rng, 18),
        client=client,
        action=action,
        mode=mode,
        salt=_token(ctx.rng, 16),
        issued_at=now,
        expires_at=now + settings.challenge_ttl,
        x=layout.x if layout else -1,
        size=layout.size if layout else 0,
    )
    opened = store.open_challenge(
        ctx.scripts.client,
        challenge,
        network=network or client,
        ttl=settings.challenge_ttl,
        limit=limit.challenges_per_minute,
        window=limit.challenge_window,
        failure_window=settings.failure_window,
        price=store.price_of(settings, mode, limit.capacity),
    )
    policy = limits.window_policy(
        POLICY,
        limit.challenges_per_minute,
        limit.challenge_window,
        opened.count,
        opened.oldest,
        now,
    )
    if not opened.ok:
        error = limits.refused(POLICY, limit, opened.retry_after)
        error.headers.update(limits.headers([policy]))
        raise error
    challenge = dataclasses.replace(challenge, difficulty=opened.difficulty)
    metrics.challenge_issued(mode)
    return Opened(challenge, layout, [policy], settings.min_solve_seconds)


def render(opened: Opened) -> Issued:
    challenge, layout = opened.challenge, opened.layout
    drawn = puzzle.draw(layout) if layout else None
    return Issued(
        CaptchaChallenge(
            challenge_id=challenge.id,
            mode=challenge.mode,  # type: ignore[arg-type]
            width=puzzle.WIDTH,
            height=puzzle.HEIGHT,
            background=drawn.background_url() if drawn else None,
            piece=drawn.piece_url() if drawn else None,
            piece_size=layout.size if layout else None,
            piece_y=layout.y if layout else None,
            pow=PowChallenge(salt=challenge.salt, difficulty=challenge.difficulty),
            expires_at=challenge.expires_at,
            min_solve_seconds=opened.min_solve_seconds,
        ),
        opened.policies,
    )


def verify(
    ctx: Context,
    *,
    client: str,
    body: CaptchaVerifyRequest,
    action: str = "create",
    network: str | None = None,
) -> CaptchaPass:
    """A pass for the action the challenge was issued for, or `CaptchaFailed`; a failure
    counts against the address and its `network` (None: the address stands alone)."""
    now = ctx.clock()
    redis_client: redis.Redis = ctx.scripts.client
    challenge = store.take(redis_client, body.challenge_id)
    try:
        check(ctx.captcha, challenge, client=client, action=action, body=body, now=now)
    except Rejected as rejection:
        metrics.captcha_failed(rejection.reason)
        log.info("captcha_failed reason=%s", rejection.reason)
        store.failed(
            redis_client, client, network or client, now=now, window=ctx.captcha.failure_window
        )
        raise CaptchaFailed(FAILED_MESSAGE) from None
    assert challenge is not None  # check() rejects a missing one
    token = passes.issue(
        redis_client,
        client_hash=client,
        action=challenge.action,
        mode=challenge.mode,
        ttl=ctx.captcha.pass_ttl,
    )
    metrics.captcha_passed(challenge.mode)
    return CaptchaPass(token=token, expires_at=now + ctx.captcha.pass_ttl)


def check(
    settings: CaptchaSettings,
    challenge: store.Challenge | None,
    *,
    client: str,
    action: str,
    body: CaptchaVerifyRequest,
    now: float,
) -> None:
    """Every rule, in order; raises `Rejected` with the first that fails."""
    if challenge is None:
        raise Rejected("missing")
    if challenge.client != client or challenge.action != action:
        raise Rejected("binding")
    if now > challenge.expires_at:
        raise Rejected("expired")
    if now - challenge.issued_at < settings.min_solve_seconds:
        raise Rejected("too_fast")
    if not pow.is_valid(challenge.salt, body.pow_nonce, challenge.difficulty):
        raise Rejected("pow")
    if challenge.mode == "pow":
        return  # no puzzle: the proof of work (and a stricter create quota) is the price
    if abs(body.x - challenge.x) > settings.tolerance:
        raise Rejected("offset")
    track.check(
        body.track,
        x=body.x,
        max_offset=puzzle.max_offset(challenge.size),
        keyboard=body.input == "keyboard",
        elapsed_ms=(now - challenge.issued_at) * 1000,
    )


def _token(rng: random.Random, size: int) -> str:
    raw = rng.getrandbits(8 * size).to_bytes(size, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")
