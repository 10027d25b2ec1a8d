"""The CAPTCHA's Redis side: open a challenge, take it back once, remember failures.

    open     one round trip (Lua): charge the address's challenge window (a sliding-window log,
             the same shape `GET /rate-limit` reads), price the proof of work (`PRICE`: the
             capacity in use, the recent failures of the address and of its network), and
             store the challenge with its TTL. All or nothing.
    take     one round trip (MULTI: HGETALL + DEL): the challenge leaves Redis as it is read,
             so each one gets exactly one attempt, whatever the outcome.
    failed   one round trip (MULTI): log a failure for the address and for its network
             (sliding windows, capped).

Keys: `keys.challenges_by_client` (zset), `keys.captcha_failures` and
`keys.captcha_network_failures` (zsets), and `keys.captcha_challenge` (hash); every one carries
a TTL. The capacity in use is read from `keys.EXPIRY_INDEX` (the slots held).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import redis

from shared import keys
from shared.settings import FAILURES_KEPT, CaptchaSettings

# PRICE: the proof-of-work bits for a new challenge, as `CaptchaSettings` describes them: the
# path's base, plus the load level's bits, plus the greater of the address's and the network's
# failure levels' bits, capped. `price` (JSON, `price_of`): {base, cap, capacity, load,
# failures, network_failures}, each table a rising list of {at, bits}; failures count for
# `window` s.
PRICE = r"""
local function level_bits(levels, value)
  local bits = 0
  for _, level in ipairs(levels) do
    if value >= level.at then bits = level.bits end
  end
  return bits
end

local function recent_failures(key, now, window)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  return redis.call('ZCARD', key)
end

local function difficulty(price, now, window, slots_key, failures_key, network_failures_key)
  local use = redis.call('ZCARD', slots_key) / price.capacity
  local failed = math.max(
    level_bits(price.failures, recent_failures(failures_key, now, window)),
    level_bits(price.network_failures, recent_failures(network_failures_key, now, window)))
  return math.min(price.cap, price.base + level_bits(price.load, use) + failed)
end
"""

# OPEN: charge the challenge limit, price the proof of work, store the challenge.
# KEYS[1] challenge log of the address (zset of stamps)   KEYS[2] failure log of the address
# KEYS[3] the challenge (hash)
# KEYS[4] failure log of the network   KEYS[5] the slots held (`keys.EXPIRY_INDEX`)
# ARGV[1] now (epoch s)   ARGV[2] challenges allowed per window   ARGV[3] window s
# ARGV[4] failure window s   ARGV[5] the price, JSON (`PRICE`)   ARGV[6] challenge TTL s
# ARGV[7] the log entry (unique)   ARGV[8..] the challenge's field/value pairs
# Answer: {"ok": true, "count": n, "oldest": "t", "difficulty": d}
#      or {"ok": false, "count": n, "oldest": "t", "retry_after": s}   (stamps as strings)
OPEN = (
    PRICE
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

local bits = difficulty(cjson.decode(ARGV[5]), now, tonumber(ARGV[4]), KEYS[5], KEYS[2], KEYS[4])

redis.call('HSET', KEYS[3], 'difficulty', bits, unpack(ARGV, 8))
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[6]))
return cjson.encode({ok = true, count = count + 1, oldest = oldest, difficulty = bits})
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


def price_of(settings: CaptchaSettings, mode: str, capacity: int) -> dict[str, Any]:
    """The price of a challenge on path `mode`, as `PRICE` reads it."""
    return {
        "base": settings.base(mode),
        "cap": settings.max_difficulty,
        "capacity": capacity,
        "load": [level.model_dump() for level in settings.load_levels],
        "failures": [level.model_dump() for level in settings.failure_levels],
        "network_failures": [level.model_dump() for level in settings.network_failure_levels],
    }


def open_challenge(
    client: redis.Redis,
    challenge: Challenge,
    *,
    network: str,
    ttl: int,
    limit: int,
    window: int,
    failure_window: int,
    price: dict[str, Any],
) -> Opened:
    """Charge the address, price the proof of work, store the challenge (one round trip).
    `network`: the keyed hash of the network around the challenge's address."""
    script = client.register_script(OPEN)  # cheap: hashes the source; runs with EVALSHA
    flat = [item for pair in challenge.fields().items() for item in pair]
    args: list[Any] = [
        repr(challenge.issued_at),
        limit,
        window,
        failure_window,
        json.dumps(price, separators=(",", ":")),
        ttl,
        f"{challenge.issued_at!r}:{challenge.id}",
        *flat,
    ]
    answer = json.loads(
        script(
            keys=[
                keys.challenges_by_client(challenge.client),
                keys.captcha_failures(challenge.client),
                keys.captcha_challenge(challenge.id),
                keys.captcha_network_failures(network),
                keys.EXPIRY_INDEX,
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


def failed(client: redis.Redis, address: str, network: str, *, now: float, window: int) -> None:
    """Log a failed attempt from `address` in `network` (both raise the next challenges'
    difficulty: the network's for every address in it)."""
    entry = f"{now!r}:{secrets.token_hex(4)}"
    pipeline = client.pipeline(transaction=True)
    for key in (keys.captcha_failures(address), keys.captcha_network_failures(network)):
        pipeline.zadd(key, {entry: now})
        pipeline.zremrangebyscore(key, "-inf", now - window)
        pipeline.zremrangebyrank(key, 0, -(FAILURES_KEPT + 1))
        pipeline.expire(key, window)
    pipeline.execute()
