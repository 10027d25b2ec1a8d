"""Rate limits and quotas: the policies, how Redis counts them, and the RateLimit headers.

Policies count per address (an IPv4 address, an IPv6 /64), per network (the /24 or /48
around it), per owner (a browser's cookie, a REST client's token), or in all (capacity).
Each counts in Redis, atomically with the work it limits, in one of two ways:

    window  a sliding-window log: a zset of stamps (creates per hour, challenges per minute)
    live    a live set: the ids of the containers that count now (kept by `shared.lifecycle`,
            which takes a record out once it stops counting)

A script that checks or reports policies gets the caller's as a JSON list (`quotas`: name,
key, limit, and a window, or the access mode it applies to), and measures them with `LUA`.
This module also renders them as the IETF httpapi RateLimit-Policy / RateLimit headers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared import keys
from shared.errors import RateLimited, Unavailable
from shared.models import OtherContainer, Policy, RateLimitStatus
from shared.settings import LimitSettings

if TYPE_CHECKING:
    from shared.redis_client import Scripts


@dataclass(frozen=True)
class Kind:
    scope: str  # address, network, owner or global
    description: str  # what it counts, for GET /rate-limit and the page
    # A refused request's message: {limit}, {containers} or {places} (the limit counted in
    # words: "1 container") and {wait} are filled in.
    refusal: str


POLICIES: dict[str, Kind] = {
    "creates_per_address": Kind(
        "address",
        "New containers from your address in the last hour",
        "Hourly limit reached: {limit} new containers an hour from your address. "
        "It opens again in {wait}.",
    ),
    "pow_creates_per_address": Kind(
        "address",
        "New containers without the puzzle from your address in the last hour",
        "Hourly limit reached for starting without the puzzle: {limit} an hour from your "
        "address. It opens again in {wait}; with the puzzle you may start one now.",
    ),
    "creates_per_network": Kind(
        "network",
        "New containers from your network (addresses near yours) in the last hour",
        "Hourly limit reached for your network: {limit} new containers an hour from addresses "
        "near yours, including other people's. It opens again in {wait}.",
    ),
    "live_per_address": Kind(
        "address",
        "Containers at once from your address",
        "Your address already has {containers}. One more fits when one of them is "
        "deleted or ends (in {wait} at the latest).",
    ),
    "live_per_owner": Kind(
        "owner",
        "Containers you have at once",
        "You already have {containers}. Delete one to start another, or wait until "
        "one ends (in {wait} at the latest).",
    ),
    "live_per_network": Kind(
        "network",
        "Containers at once from your network (addresses near yours)",
        "Your network already has {containers}, including other people's. One more "
        "fits when one of them is deleted or ends (in {wait} at the latest).",
    ),
    "network_share": Kind(
        "network",
        "Your network's share of Sprout's capacity",
        "Your network holds its share of Sprout ({containers}), including other "
        "people's containers. One more fits when one of them ends (in {wait} at the latest).",
    ),
    "places_per_address": Kind(
        "address",
        "Places in the waiting line held from your address",
        "Your address already holds {places} in the waiting line. Another fits when "
        "one gets its slot (in about {wait}) or is given up.",
    ),
    "places_per_network": Kind(
        "network",
        "Places in the waiting line held from your network (addresses near yours)",
        "Your network already holds {places} in the waiting line, including other "
        "people's. Another fits when one gets its slot (in about {wait}) or is given up.",
    ),
    "challenges_per_address": Kind(
        "address",
        "Puzzles asked for from your address in the last minute",
        "Too many puzzles asked for from your address: {limit} a minute. Try again in {wait}.",
    ),
    "transfers_per_address": Kind(
        "address",
        "Transfer codes made from your address in the last hour",
        "Too many transfer codes made from your address: {limit} an hour. Try again in {wait}.",
    ),
    "redeems_per_address": Kind(
        "address",
        "Transfer codes tried from your address in the last hour",
        "Too many transfer codes tried from your address: {limit} an hour. Try again in {wait}.",
    ),
    "redeems_per_network": Kind(
        "network",
        "Transfer codes tried from your network (addresses near yours) in the last hour",
        "Too many transfer codes tried from your network: {limit} an hour from addresses near "
        "yours, including other people's. Try again in {wait}.",
    ),
    "capacity": Kind("global", "Containers at once on the whole service", ""),
}


def counted(number: int, noun: str) -> str:
    """'1 container', '3 containers': a refusal reads as a person would say it."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def limit_of(name: str, limits: LimitSettings) -> int:
    return {
        "creates_per_address": limits.creates_per_hour,
        "pow_creates_per_address": limits.pow_creates_per_hour,
        "creates_per_network": limits.network_creates,
        "live_per_address": limits.live_per_address,
        "live_per_owner": limits.live_per_owner,
        "live_per_network": limits.network_live,
        "network_share": limits.network_share_limit,
        "places_per_address": limits.places_per_address,
        "places_per_network": limits.network_places,
        "challenges_per_address": limits.challenges_per_minute,
        "transfers_per_address": limits.transfers_per_hour,
        "redeems_per_address": limits.redeems_per_hour,
        "redeems_per_network": limits.network_redeems,
        "capacity": limits.capacity,
    }[name]


def window_of(name: str, limits: LimitSettings) -> int | None:
    if name == "challenges_per_address":
        return limits.challenge_window
    if name.startswith(("transfers_", "redeems_")):
        return limits.transfer_window
    return limits.create_window if name.startswith(("creates_", "pow_creates_")) else None


def policy(name: str, limit: int, used: int, reset: float, window: int | None = None) -> Policy:
    return Policy(
        name=name,
        scope=POLICIES[name].scope,  # type: ignore[arg-type]
        description=POLICIES[name].description,
        limit=limit,
        remaining=max(0, limit - used),
        reset=max(0, math.ceil(reset)),
        window=window,
    )


def window_policy(
    name: str, limit: int, window: int, count: int, oldest: float, now: float
) -> Policy:
    """A window policy from its count and oldest stamp (as the CAPTCHA's script answers)."""
    # Never beyond the window: `oldest` may come back from a script a hair later than `now`.
    reset = min(window, oldest + window - now) if count else 0
    return policy(name, limit, count, reset, window)


# -- counting in Redis --------------------------------------------------------------------------


def create_quotas(
    limits: LimitSettings, *, client: str, network: str, owner: str | None
) -> list[dict[str, Any]]:
    """The policies a create is checked against, in the order they are checked."""
    quotas = [
        _quota("creates_per_address", keys.creates_by_client(client), limits),
        _quota("pow_creates_per_address", keys.pow_creates_by_client(client), limits, mode="pow"),
        _quota("creates_per_network", keys.creates_by_network(network), limits),
        _quota("live_per_address", keys.live_by_client(client), limits),
        # A caller without an owner yet gets one with the create: nothing counts against it.
        _quota("live_per_owner", keys.live_by_owner(owner or "-"), limits),
        _quota("live_per_network", keys.live_by_network(network), limits),
        _quota("network_share", keys.live_by_network(network), limits),
    ]
    return quotas


def create_check(
    limits: LimitSettings, *, client: str, network: str, owner: str | None
) -> dict[str, Any]:
    """All a create is checked against (`create_verdict` in the scripts): the caller's quotas,
    capacity, and the waiting line's settings with the places the caller may hold."""
    return {
        "quotas": create_quotas(limits, client=client, network=network, owner=owner),
        "capacity": limits.capacity,
        "line": {
            "length": limits.line_length,
            "timeout": limits.place_timeout,
            "max_wait": limits.max_wait,
            "places": place_quotas(limits, client=client, network=network),
        },
    }


def transfer_quotas(limits: LimitSettings, *, client: str) -> list[dict[str, Any]]:
    """The policy making a transfer code is checked against."""
    return [_quota("transfers_per_address", keys.transfers_by_client(client), limits)]


def redeem_quotas(limits: LimitSettings, *, client: str, network: str) -> list[dict[str, Any]]:
    """The policies trying a transfer code is checked against (every try counts: guessing
    codes costs what trying them does)."""
    return [
        _quota("redeems_per_address", keys.redeems_by_client(client), limits),
        _quota("redeems_per_network", keys.redeems_by_network(network), limits),
    ]


def place_quotas(limits: LimitSettings, *, client: str, network: str) -> list[dict[str, Any]]:
    """The places in the waiting line one address, and one network, may hold."""
    line = keys.line_network(network)
    by_address = _quota("places_per_address", line, limits)
    return [{**by_address, "client": client}, _quota("places_per_network", line, limits)]


def _quota(name: str, key: str, limits: LimitSettings, mode: str | None = None) -> dict[str, Any]:
    quota: dict[str, Any] = {"name": name, "key": key, "limit": limit_of(name, limits)}
    if name.startswith("places_"):
        quota["places"] = True
    window = window_of(name, limits)
    if window is not None:
        quota["window"] = window
    if mode is not None:
        quota["mode"] = mode
    return quota


# Measuring, checking and charging quotas (the list above, decoded). Needs the record helpers
# of `shared.lifecycle.LUA` (is_live, EXPIRY), which every script includes before this.
LUA = r"""
-- Sliding-window log: drop stamps older than the window, answer count and oldest stamp.
local function window_state(key, now, window)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  local oldest = nil
  if count > 0 then
    oldest = tonumber(redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2])
  end
  return count, oldest
end

-- Members of a live set whose record is gone or no longer live are dropped (self-healing).
local function live_members(set_key)
  local alive = {}
  for _, id in ipairs(redis.call('SMEMBERS', set_key)) do
    if is_live(id) then table.insert(alive, id) else redis.call('SREM', set_key, id) end
  end
  return alive
end

-- Seconds until the soonest of `ids` ends (leaves the expiry index, or its place lapses).
local function soonest_expiry(ids, now)
  local soonest = nil
  for _, id in ipairs(ids) do
    -- A waiting container holds no slot yet: its place ends at the latest at its expires_at.
    local at = redis.call('ZSCORE', EXPIRY, id) or redis.call('HGET', RECORD .. id, 'expires_at')
    if at and (soonest == nil or tonumber(at) < soonest) then soonest = tonumber(at) end
  end
  if soonest == nil then return 0 end
  return math.max(1, math.ceil(soonest - now))
end

-- A quota's use now: q.used, and q.reset (seconds until one unit frees; 0: none used).
local live_sets = {}  -- live_per_network and network_share count the same set
local function measure(q, now)
  if q.window then
    local count, oldest = window_state(q.key, now, q.window)
    q.used, q.reset = count, 0
    if count > 0 then q.reset = math.max(1, math.ceil(oldest + q.window - now)) end
  elseif q.places then
    -- Places in the network's line (only the address's, with q.client); reset: the ETA of
    -- the first of them.
    local first = nil
    q.used, q.reset = 0, 0
    for _, id in ipairs(redis.call('ZRANGE', q.key, 0, -1)) do
      if q.client == nil or redis.call('HGET', RECORD .. id, 'client') == q.client then
        q.used = q.used + 1
        first = first or id
      end
    end
    if first then
      local _, eta = place_of(hash_to_table(redis.call('HGETALL', RECORD .. first)), now)
      q.reset = eta or 0
    end
  else
    live_sets[q.key] = live_sets[q.key] or live_members(q.key)
    q.used, q.reset = #live_sets[q.key], soonest_expiry(live_sets[q.key], now)
  end
  return q
end

-- The first quota that applies to `mode` and is used up (measuring each on the way), or nil.
local function first_refusal(quotas, now, mode)
  for _, q in ipairs(quotas) do
    if q.mode == nil or q.mode == mode then
      measure(q, now)
      if q.used >= q.limit then return q end
    end
  end
  return nil
end

-- Count one create against every quota measured: a stamp in each window, the id in each
-- live set (kept `ttl` s). `lifetime`: when the new container frees its unit at the latest.
local function charge(quotas, now, stamp, id, ttl, lifetime)
  for _, q in ipairs(quotas) do
    if q.used ~= nil then
      if q.window then
        redis.call('ZADD', q.key, now, stamp)
        redis.call('EXPIRE', q.key, q.window)
        if q.used == 0 then q.reset = q.window end
      else
        redis.call('SADD', q.key, id)
        keep(q.key, ttl)
        if q.reset == 0 or q.reset > lifetime then q.reset = lifetime end
      end
      q.used = q.used + 1
    end
  end
end

-- What the caller is told of each quota measured: {name, used, reset}.
local function usage(quotas)
  local told = {}
  for _, q in ipairs(quotas) do
    if q.used ~= nil then table.insert(told, {q.name, q.used, q.reset}) end
  end
  return told
end
"""


# -- reporting ----------------------------------------------------------------------------------


def policies_of(usage: Iterable[list[Any]], limits: LimitSettings) -> list[Policy]:
    """The policies a script measured (`usage`: [name, used, reset] each), as the API shows them."""
    return [
        policy(
            str(name),
            limit_of(str(name), limits),
            int(used),
            float(reset),
            window_of(str(name), limits),
        )
        for name, used, reset in usage
    ]


def exhausted(name: str, limits: LimitSettings, retry_after: int) -> Policy:
    """A policy with nothing left, for the headers of a refusal."""
    return policy(name, limit_of(name, limits), 10**9, retry_after, window_of(name, limits))


def status(
    scripts: Scripts,
    limits: LimitSettings,
    *,
    client: str,
    network: str,
    owner: str | None,
    now: float,
) -> RateLimitStatus:
    """Every policy for this caller, and the live containers counting against them that are
    not the caller's own, in one round trip."""
    quotas = [
        *create_quotas(limits, client=client, network=network, owner=owner),
        *place_quotas(limits, client=client, network=network),
        _quota("challenges_per_address", keys.challenges_by_client(client), limits),
    ]
    for quota in quotas:
        quota.pop("mode", None)  # reported whatever mode the next create comes in
    answer = scripts.run(
        scripts.limits,
        [
            keys.live_by_owner(owner or "-"),
            keys.live_by_client(client),
            keys.live_by_network(network),
        ],
        [repr(now), as_json(quotas)],
        idempotent=True,
    )
    return RateLimitStatus(
        policies=[
            *policies_of(_as_list(answer["quotas"]), limits),
            policy("capacity", limits.capacity, int(answer["live_total"]), 0),
        ],
        others=[
            OtherContainer(scope=scope, expires_at=float(expires_at))
            for scope, expires_at in _as_list(answer["others"])
        ],
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


def refused(
    name: str,
    limits: LimitSettings,
    retry_after: int,
    now: float,
    also: Iterable[Policy] = (),
) -> RateLimited:
    """The 429 for a request refused by policy `name`: its own words, and in details the
    policy, its scope and limit, and when it opens again (`resets_at`, epoch s), for the page
    to say "opens at 22:12" in the visitor's time. Its headers carry the policy (and `also`)."""
    kind = POLICIES[name]
    limit = limit_of(name, limits)
    error = RateLimited(
        kind.refusal.format(
            limit=limit,
            containers=counted(limit, "container"),
            places=counted(limit, "place"),
            wait=wait_words(retry_after),
        ),
        policy=name,
        retry_after=retry_after,
    )
    error.details.update(
        {"scope": kind.scope, "limit": limit, "resets_at": math.ceil(now + error_wait(error))}
    )
    error.headers.update(headers([exhausted(name, limits, retry_after), *also]))
    return error


def full(retry_after: int, now: float) -> Unavailable:
    """The 503 when every slot is taken and the waiting line is full too."""
    error = Unavailable(
        "Every slot is taken and the waiting line is full too. Try again in "
        f"{wait_words(retry_after)}.",
        code="capacity_full",
        retry_after=retry_after,
    )
    error.details.update({"policy": "capacity", "resets_at": math.ceil(now + error_wait(error))})
    return error


def error_wait(error: RateLimited | Unavailable) -> int:
    return int(error.details["retry_after"])


def wait_words(seconds: int) -> str:
    """A wait as a person says it: "40 seconds", "1 minute", "55 minutes", "2 hours"."""
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    if minutes < 120:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = round(minutes / 60)
    return f"{hours} hours"


def as_json(value: Any) -> str:
    """Quotas, or a check holding them, as a script's argument."""
    return json.dumps(value, separators=(",", ":"))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []  # cjson encodes an empty table as {}
