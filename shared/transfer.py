"""Transfer codes: carry one's containers to another browser.

Containers belong to an owner secret (the browser's cookie), which the server never keeps.
`make` stores the caller's secret under a fresh one-time code for `ApiSettings.transfer_ttl`
seconds; `redeem`, in another browser, takes it back out (GETDEL: once, whoever asks first)
and the answer sets it as that browser's owner cookie. Both sides are one round trip each, and
rate-limited per address (making) and per address and network (trying: a wrong guess costs a
try like a right one).

A code is 10 characters of a 30-character alphabet with nothing to mistake for something else
(about 49 bits): with a few tries per hour per address and ten minutes of life, guessing one
is hopeless, and a person can still type it. Redis keeps only a keyed hash of the code, and
the owner secret sealed with a pad that only the code and the server's key make: a copy of
Redis hands over nobody's containers.

    sprout:transfer:<hash of the code>   "expires_at sealed-owner-secret", TTL the code's life
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared import identity, keys, limits
from shared.errors import NotFound, Unavailable
from shared.lifecycle import LUA
from shared.models import Policy, TransferCode

if TYPE_CHECKING:
    from shared.context import Context

ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"  # no 0/O, 1/I/L, U
LENGTH = 10
LINK = "/?transfer={code}"  # the page redeems a code it is opened with

# MAKE: KEYS[1] the code's key   ARGV[1] now   ARGV[2] the quotas, JSON (`limits.transfer_quotas`)
# ARGV[3] the value, "expires_at sealed-owner-secret"   ARGV[4] TTL s
# ARGV[5] the log entry (unique)
# Answer: {"ok": true, "quotas": [...]} or {"ok": false, "policy": name, "retry_after": s}
#      or {"ok": false} (the code is taken: 49 random bits collided)
MAKE = (
    LUA
    + r"""
local now = tonumber(ARGV[1])
local quotas = cjson.decode(ARGV[2])
local refused = first_refusal(quotas, now, nil)
if refused then
  return cjson.encode({ok = false, policy = refused.name, retry_after = refused.reset})
end
if not redis.call('SET', KEYS[1], ARGV[3], 'NX', 'EX', ARGV[4]) then
  return cjson.encode({ok = false})
end
charge(quotas, now, ARGV[5], '', 0, 0)
return cjson.encode({ok = true, quotas = usage(quotas)})
"""
)

# REDEEM: KEYS[1] the code's key   ARGV[1] now   ARGV[2] the quotas, JSON
# (`limits.redeem_quotas`)   ARGV[3] the log entry (unique)
# Answer: {"ok": true, "value": "expires_at sealed-owner-secret" (absent: no such code),
#         "quotas": [...]}
#      or {"ok": false, "policy": name, "retry_after": s} (nothing tried, nothing taken)
REDEEM = (
    LUA
    + r"""
local now = tonumber(ARGV[1])
local quotas = cjson.decode(ARGV[2])
local refused = first_refusal(quotas, now, nil)
if refused then
  return cjson.encode({ok = false, policy = refused.name, retry_after = refused.reset})
end
charge(quotas, now, ARGV[3], '', 0, 0)
local value = redis.call('GETDEL', KEYS[1])
return cjson.encode({ok = true, value = value or nil, quotas = usage(quotas)})
"""
)


@dataclass(frozen=True)
class Made:
    code: TransferCode
    policies: list[Policy]


@dataclass(frozen=True)
class Redeemed:
    owner_secret: str
    policies: list[Policy]


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalized(code: str) -> str:
    """A code as typed (either case, with or without the dash) as it was made."""
    return code.replace("-", "").upper()


def shown(code: str) -> str:
    return f"{code[:5]}-{code[5:]}"


def make(ctx: Context, *, owner_secret: str | None, client: str) -> Made:
    """A code for the caller's owner secret; `NotFound` when the caller has none (nothing
    to carry), `RateLimited` past `transfers_per_address`."""
    if owner_secret is None:
        raise NotFound(
            "This browser has no containers to carry to another device yet: create one first.",
            code="no_owner",
        )
    now = ctx.clock()
    quotas = limits.transfer_quotas(ctx.limits, client=client)
    for _ in range(3):  # a collision of ~49 random bits: practically never
        code = new_code()
        answer = ctx.scripts.run(
            ctx.scripts.transfer_make,
            [_key(ctx, code)],
            [
                repr(now),
                limits.as_json(quotas),
                f"{now + ctx.api.transfer_ttl!r} {_sealed(ctx, code, owner_secret)}",
                ctx.api.transfer_ttl,
                f"{now!r}:{secrets.token_hex(4)}",
            ],
        )
        if answer["ok"]:
            made = TransferCode(
                code=shown(code),
                link=LINK.format(code=code),
                expires_at=now + ctx.api.transfer_ttl,
            )
            return Made(made, limits.policies_of(answer["quotas"], ctx.limits))
        if "policy" in answer:
            raise _refused(ctx, answer, now)
    raise Unavailable("Could not make a transfer code; please retry.", retry_after=1)


def redeem(ctx: Context, *, code: str, client: str, network: str) -> Redeemed:
    """The owner secret behind `code`, which stops working as it is read; `NotFound` for a
    code that is unknown, used or expired (each said as such, but for unknown and used, which
    look the same), `RateLimited` past the tries allowed."""
    now = ctx.clock()
    quotas = limits.redeem_quotas(ctx.limits, client=client, network=network)
    answer = ctx.scripts.run(
        ctx.scripts.transfer_redeem,
        [_key(ctx, normalized(code))],
        [repr(now), limits.as_json(quotas), f"{now!r}:{secrets.token_hex(4)}"],
    )
    if not answer["ok"]:
        raise _refused(ctx, answer, now)
    policies = limits.policies_of(answer["quotas"], ctx.limits)
    expires_at, _, sealed = str(answer.get("value", "")).partition(" ")
    if not sealed:
        raise _invalid(
            "This transfer code is unknown or was used already. Make a new one on the device "
            "that has the containers.",
            "transfer_code_unknown",
            policies,
        )
    if float(expires_at) <= now:  # Redis drops it on its own clock; the rule is this one
        raise _invalid(
            "This transfer code has expired. Make a new one on the device that has the containers.",
            "transfer_code_expired",
            policies,
        )
    return Redeemed(_sealed(ctx, normalized(code), sealed, opening=True), policies)


def _sealed(ctx: Context, code: str, value: str, *, opening: bool = False) -> str:
    """`value` XORed with a pad of HMAC-SHA512(server key, code): each code is random and used
    once, so its pad is too. Sealing answers base64; opening takes that and answers the secret.
    Owner secrets are at most 64 characters (`identity.is_owner_secret`), the pad's length."""
    pad = hmac.new(
        ctx.api.secret_key.encode(), f"transfer-pad:{code}".encode(), hashlib.sha512
    ).digest()
    data = base64.urlsafe_b64decode(value) if opening else value.encode()
    mixed = bytes(a ^ b for a, b in zip(data, pad, strict=False))
    return mixed.decode() if opening else base64.urlsafe_b64encode(mixed).decode()


def _key(ctx: Context, code: str) -> str:
    return keys.transfer_code(identity.keyed_hash(ctx.api.secret_key, "transfer", code))


def _refused(ctx: Context, answer: dict[str, Any], now: float) -> Exception:
    return limits.refused(
        str(answer["policy"]), ctx.limits, max(1, int(answer["retry_after"])), now
    )


def _invalid(message: str, code: str, policies: list[Policy]) -> NotFound:
    error = NotFound(message, code=code)
    error.headers.update(limits.headers(policies))  # the try counted: say what is left
    return error
