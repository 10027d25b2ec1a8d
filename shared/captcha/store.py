"""The CAPTCHA's Redis side: open a challenge, take it back once, remember failures.

    open     one round trip (Lua): charge the address's challenge window (a sliding-window log,
             the same shape `GET /rate-limit` reads); refuse when a create from this caller
             would be refused anyway (a quota used up, or every slot and the waiting line
             full: `create_verdict` of `shared.lifecycle`), so nobody solves a puzzle for
             nothing; look up its recent failures to pick the proof-of-work difficulty, and
             store the challenge with its TTL. All or nothing.
    take     one round trip (MULTI: HGETALL + DEL): the challenge leaves Redis as it is read,
             so each one gets exactly one attempt, whatever the outcome.
    failed   one round trip (MULTI): log a failure for the address (sliding window, capped).

Keys: `keys.challenges_by_client` (zset), `keys.captcha_failures` (zset), and
`keys.captcha_challenge` (hash); every one carries a TTL.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from shared import keys, lifecycle, limits

MAX_FAILURES_KEPT = 32  # per address; more than enough to reach the difficulty cap

# OPEN: charge the challenge limit, pick the difficulty, store the challenge.
# KEYS[1] challenge log of the address (zset of stamps)   KEYS[2] failure log of the address
# KEYS[3] the challenge (hash)
# ARGV[1] now (epoch s)   ARGV[2] challenges allowed per window   ARGV[3] window s
# ARGV[4] failure window s   ARGV[5] difficulty after 0, 1, 2, ... recent failures,
#   comma-separated (the last one holds for any more failures)   ARGV[6] challenge TTL s
# ARGV[7] the log entry (unique)
# ARGV[8] what a create would be checked against, JSON (`limits.create_check`), or '': none
# ARGV[9..] the challenge's field/value pairs
# Answer: {"ok": true, "count": n, "oldest": "t", "difficulty": d}
#      or {"ok": false, "count": n, "oldest": "t", "retry_after": s}   (stamps as strings)
#      or {"ok": false, ..., "code": "rate_limited"|"capacity_full", "policy": name} when a
#         create would be refused (the challenge was charged, nothing stored)
OPEN = (
    lifecycle.LUA
    + r"""
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
-- Stamps travel as strings: cjson would round them to 14 digits.
local oldest = ARGV[1]
if count > 0 then
  oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]
end
if count >= tonumber(ARGV[2]) then
  return cjson.encode({ok = false, count = count, oldest = oldest,
                       retry_after = math.max(1, math.ceil(tonumber(oldest) + window - now))})
end
redis.call('ZADD', KEYS[1], now, ARGV[7])
redis.call('EXPIRE', KEYS[1], window)
if ARGV[8] ~= '' then
  local fields = {}
  for i = 9, #ARGV, 2 do fields[ARGV[i]] = ARGV[i + 1] end
  local refusal = create_verdict(cjson.decode(ARGV[8]), now, fields.mode)
  if refusal then
    refusal.ok, refusal.count, refusal.oldest = false, count + 1, oldest
    return cjson.encode(refusal)
  end
end

redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[4]))
local failures = redis.call('ZCARD', KEYS[2])
local ladder = {}
for bits in string.gmatch(ARGV[5], '[^,]+') do table.insert(ladder, bits) end
local difficulty = ladder[math.min(failures + 1, #ladder)]

redis.call('HSET', KEYS[3], 'difficulty', difficulty, unpack(ARGV, 9))
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[6]))
return cjson.encode({ok = true, count = count + 1, oldest = oldest,
                     difficulty = tonumber(difficulty)})
"""
)


@dataclass(frozen=True)
class Challenge:
    """What Redis keeps of one challenge (the answer never leaves the server)."""

    id: str
    client: str  # keyed hash of the address it was issued to
    action: str
    mode: str  # "slider" or "pow"
    salt: str
    issued_at: float
    expires_at: float
    x: int = -1  # the answer (slider only)
    size: int = 0  # the piece's size (slider only)
    difficulty: int = 0  # set by Redis when the challenge is opened

    def fields(self) -> dict[str, str]:
        return {
            "client": self.client,
            "action": self.action,
            "mode": self.mode,
            "salt": self.salt,
            "issued_at": repr(self.issued_at),
            "expires_at": repr(self.expires_at),
            "x": str(self.x),
            "size": str(self.size),
        }

    @classmethod
    def from_hash(cls, challenge_id: str, fields: dict[str, str]) -> Challenge:
        return cls(
            id=challenge_id,
            client=fields["client"],
            action=fields["action"],
            mode=fields["mode"],
            salt=fields["salt"],
            issued_at=float(fields["issued_at"]),
            expires_at=float(fields["expires_at"]),
            x=int(fields["x"]),
            size=int(fields["size"]),
            difficulty=int(fields["difficulty"]),
        )


@dataclass(frozen=True)
class Opened:
    ok: bool
    count: int  # challenges in the address's window, this one included when ok
    oldest: float  # the oldest of them
    difficulty: int = 0
    retry_after: int = 0
    # Not ok because a create would be refused: why ("rate_limited" or "capacity_full"), and
    # by which policy. Both None when the challenge limit itself refused.
    create_refused: str | None = None
    policy: str | None = None


def open_challenge(
    client: redis.Redis,
    challenge: Challenge,
    *,
    ttl: int,
    limit: int,
    window: int,
    failure_window: int,
    difficulties: Sequence[int],
    create_check: Mapping[str, Any] | None = None,
) -> Opened:
    """Open `challenge`; with `create_check` (`limits.create_check`), refused as well when a
    create from its caller would be."""
    script = client.register_script(OPEN)  # cheap: hashes the source; runs with EVALSHA
    flat = [item for pair in challenge.fields().items() for item in pair]
    args: list[Any] = [
        repr(challenge.issued_at),
        limit,
        window,
        failure_window,
        ",".join(str(d) for d in difficulties),
        ttl,
        f"{challenge.issued_at!r}:{challenge.id}",
        limits.as_json(create_check) if create_check is not None else "",
        *flat,
    ]
    answer = json.loads(
        script(
            keys=[
                keys.challenges_by_client(challenge.client),
                keys.captcha_failures(challenge.client),
                keys.captcha_challenge(challenge.id),
            ],
            args=[str(a) for a in args],
        )
    )
    return Opened(
        ok=bool(answer["ok"]),
        count=int(answer["count"]),
        oldest=float(answer["oldest"]),
        difficulty=int(answer.get("difficulty", 0)),
        retry_after=int(answer.get("retry_after", 0)),
        create_refused=answer.get("code"),
        policy=answer.get("policy"),
    )


def take(client: redis.Redis, challenge_id: str) -> Challenge | None:
    """The challenge, removed from Redis in the same breath; None if there is none."""
    key = keys.captcha_challenge(challenge_id)
    pipeline = client.pipeline(transaction=True)
    pipeline.hgetall(key)
    pipeline.delete(key)
    fields, _ = pipeline.execute()
    if not fields:
        return None
    try:
        return Challenge.from_hash(challenge_id, fields)
    except (KeyError, ValueError):
        return None  # not a challenge this code wrote


def failed(client: redis.Redis, address: str, *, now: float, window: int) -> None:
    """Log a failed attempt from `address` (it raises the next challenges' difficulty)."""
    key = keys.captcha_failures(address)
    pipeline = client.pipeline(transaction=True)
    pipeline.zadd(key, {f"{now!r}:{secrets.token_hex(4)}": now})
    pipeline.zremrangebyscore(key, "-inf", now - window)
    pipeline.zremrangebyrank(key, 0, -(MAX_FAILURES_KEPT + 1))
    pipeline.expire(key, window)
    pipeline.execute()
