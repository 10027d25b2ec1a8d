"""CAPTCHA pass tokens: what a solved CAPTCHA is worth, and what a create consumes.

The token goes to the client; Redis keeps only its SHA-256, bound to the client address
hash, the action and the mode (slider or proof-of-work only), with a short TTL.
`lifecycle.CREATE` takes it out atomically, so a token buys exactly one container.
"""

from __future__ import annotations

import hashlib
import secrets

import redis

from shared import keys

PASS_TTL_SECONDS = 120


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(
    client: redis.Redis,
    *,
    client_hash: str,
    action: str,
    mode: str,
    ttl: int = PASS_TTL_SECONDS,
    pipeline: redis.client.Pipeline | None = None,
) -> str:
    """Store a new pass and return its token (written on `pipeline` when one is given)."""
    token = secrets.token_urlsafe(24)
    key = keys.captcha_pass(token_hash(token))
    target = pipeline if pipeline is not None else client.pipeline(transaction=True)
    target.hset(key, mapping={"client": client_hash, "action": action, "mode": mode})
    target.expire(key, ttl)
    if pipeline is None:
        target.execute()
    return token
