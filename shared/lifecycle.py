"""A container record's life: its statuses, the moves between them, and every script that
writes a record.

A record's *status* is its state, with its phase while pending (`pending/queued`, ...).
`MOVES` is the transition table (event -> the statuses it may start from, the status it
ends in): Python reads it (`allows`), and every Lua script follows the same table, compiled
into the Lua library (`LUA`) that each script starts with. A move is atomic: it checks the
record's status, writes the new one and releases what the record no longer holds, all in
one script:

    create ─► pending/queued ─creating─► pending/creating ─starting─► pending/starting
                  │  (and back: a redelivered create starts again)          │
                  │                                                          ├─run─► running
                  ├─fail─► failed   (the cluster could not make or start it) │
                  └──────────────────────── delete / expire ─────────────────┴──► deleting
    running ─crash─► failed          deleting ─deleted─► deleted | ─delete_failed─► failed
    anything not over ─give_up─► failed (its stream entry was dead-lettered)
    failed ─delete─► deleting        (the owner clears a failed container away)

Two indexes follow the status, and `release` (in `LUA`) is the one place that keeps them:
the live sets (per address, network and owner: what counts against the live quotas) hold the
records whose status is in `LIVE`; the expiry index (what counts against capacity, and what
the reaper reads) holds those in `HOLDS_SLOT`: a deleting container keeps its slot until its
pod is gone.

The scripts answer JSON. Where a script touches records it finds inside Redis (ids in an
index), it builds their key names from the prefixes compiled into `LUA`: these scripts are
for one Redis primary, not Redis Cluster.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared import keys, limits
from shared.records import Record

if TYPE_CHECKING:  # shared.redis_client registers the scripts below
    from shared.redis_client import Scripts

ABSENT = "absent"  # no record: the only status `create` starts from
PREPARING = frozenset({"pending/queued", "pending/creating", "pending/starting"})
STATUSES = PREPARING | {"running", "deleting", "deleted", "failed"}
LIVE = PREPARING | {"running"}  # counted against the live quotas
HOLDS_SLOT = LIVE | {"deleting"}  # counted against capacity: its pod may exist


@dataclass(frozen=True)
class Move:
    sources: frozenset[str]  # the statuses the move may start from
    state: str
    phase: str = ""
    done: frozenset[str] = frozenset()  # statuses where it already happened: ok, no change

    @property
    def target(self) -> str:
        return status(self.state, self.phase)


MOVES: dict[str, Move] = {
    "create": Move(frozenset({ABSENT}), "pending", "queued"),
    # A create entry may be delivered again (or twice at once): each phase may start over.
    "creating": Move(PREPARING, "pending", "creating"),
    "starting": Move(PREPARING, "pending", "starting"),
    "run": Move(PREPARING, "running"),
    "fail": Move(PREPARING, "failed"),
    "crash": Move(frozenset({"running"}), "failed"),
    "give_up": Move(PREPARING | {"running", "deleting"}, "failed"),
    "delete": Move(
        PREPARING | {"running", "failed"}, "deleting", done=frozenset({"deleting", "deleted"})
    ),
    "expire": Move(LIVE, "deleting"),
    "deleted": Move(frozenset({"deleting"}), "deleted"),
    "delete_failed": Move(frozenset({"deleting"}), "failed"),
}


def status(state: str | None, phase: str | None = "") -> str:
    """A record's status: its state, with its phase while pending (no phase: queued)."""
    if not state:
        return ABSENT
    if state == "pending":
        return f"pending/{phase or 'queued'}"
    return state


def allows(record: Record | None, event: str) -> bool:
    """Whether the table lets `event` start from this record's status."""
    current = status(record.state, record.phase) if record else ABSENT
    return current in MOVES[event].sources


# -- the Lua library ----------------------------------------------------------------------------


def _lua_set(items: Iterable[str]) -> str:
    return "{" + ", ".join(f"['{item}'] = true" for item in sorted(items)) + "}"


def _lua_moves() -> str:
    rows = [
        f"  {event} = {{state = '{m.state}', phase = '{m.phase}', "
        f"from = {_lua_set(m.sources)}, done = {_lua_set(m.done)}}},"
        for event, m in MOVES.items()
    ]
    return "local MOVES = {\n" + "\n".join(rows) + "\n}"


# Every script starts with this: the table, the key prefixes, and the helpers they share.
LUA = (
    _lua_moves()
    + f"""
local LIVE = {_lua_set(LIVE)}
local HOLDS_SLOT = {_lua_set(HOLDS_SLOT)}
local RECORD = '{keys.RECORD_PREFIX}'
local EXPIRY = '{keys.EXPIRY_INDEX}'
local STREAM = '{keys.STREAM}'
local LIVE_BY_CLIENT = '{keys.LIVE_BY_CLIENT_PREFIX}'
local LIVE_BY_OWNER = '{keys.LIVE_BY_OWNER_PREFIX}'
local LIVE_BY_NETWORK = '{keys.LIVE_BY_NETWORK_PREFIX}'
"""
    + r"""
local function hash_to_table(flat)
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end

local function status_of(record)
  if not record.state then return 'absent' end
  if record.state == 'pending' then
    if record.phase and record.phase ~= '' then return 'pending/' .. record.phase end
    return 'pending/queued'
  end
  return record.state
end

-- The one clean-up: a record leaves its live sets once it no longer counts against the live
-- quotas, and the expiry index once it no longer holds a slot. Idempotent.
local function release(record)
  local now_status = status_of(record)
  if not LIVE[now_status] then
    if record.client then redis.call('SREM', LIVE_BY_CLIENT .. record.client, record.id) end
    if record.owner then redis.call('SREM', LIVE_BY_OWNER .. record.owner, record.id) end
    if record.network then redis.call('SREM', LIVE_BY_NETWORK .. record.network, record.id) end
  end
  if not HOLDS_SLOT[now_status] then redis.call('ZREM', EXPIRY, record.id) end
end

-- Apply `event` to `record` (read from RECORD .. record.id): check the table, write the new
-- state and phase, `updated_at` and `fields` (a flat field/value list), release what the
-- record no longer holds. Answers 'moved', 'done' (it already happened) or 'refused'.
local function move(record, event, now, fields)
  local rule = MOVES[event]
  local from = status_of(record)
  if rule.done[from] then return 'done' end
  if not rule.from[from] then return 'refused' end
  record.state, record.phase, record.updated_at = rule.state, rule.phase, now
  local key = RECORD .. record.id
  redis.call('HSET', key, 'state', rule.state, 'phase', rule.phase, 'updated_at', now)
  for i = 1, #fields, 2 do
    record[fields[i]] = fields[i + 1]
    redis.call('HSET', key, fields[i], fields[i + 1])
  end
  release(record)
  return 'moved'
end

local function add_entry(entry_type, id, now, request_id)
  redis.call('XADD', STREAM, '*', 'type', entry_type, 'id', id, 'at', now,
             'request_id', request_id or '')
end

local function is_live(id)
  local record = redis.call('HMGET', RECORD .. id, 'state', 'phase')
  return LIVE[status_of({state = record[1], phase = record[2]})] == true
end
"""
    + limits.LUA
)

# -- the scripts that write records -------------------------------------------------------------

# CREATE: consume the CAPTCHA pass, check and charge the caller's quotas (`shared.limits`),
# check capacity, write the record and its indexes, append a `create` entry. All or nothing.
# KEYS[1] captcha pass hash   KEYS[2] container record   KEYS[3] owner index
# ARGV[1] now (epoch s, string)   ARGV[2] client hash   ARGV[3] owner hash   ARGV[4] network hash
# ARGV[5] container id   ARGV[6] template   ARGV[7] lifetime s   ARGV[8] record TTL s
# ARGV[9] capacity   ARGV[10] request id   ARGV[11] the action the pass must be bound to
# ARGV[12] the quotas, JSON (`limits.create_quotas`)
# Answer: {"ok": true, "record": {...}, "quotas": [[name, used, reset], ...]}
#      or {"ok": false, "code": ..., "policy": ..., "retry_after": s}
CREATE = (
    LUA
    + r"""
local now = tonumber(ARGV[1])
local pass = hash_to_table(redis.call('HGETALL', KEYS[1]))
if pass.client == nil or pass.client ~= ARGV[2] or pass.action ~= ARGV[11] then
  return cjson.encode({ok = false, code = 'captcha_invalid'})
end
local quotas = cjson.decode(ARGV[12])
local refused = first_refusal(quotas, now, pass.mode or 'slider')
if refused then
  return cjson.encode({ok = false, code = 'rate_limited', policy = refused.name,
                       retry_after = math.max(1, refused.reset)})
end
if redis.call('ZCARD', EXPIRY) >= tonumber(ARGV[9]) then
  local first = redis.call('ZRANGE', EXPIRY, 0, 0, 'WITHSCORES')
  return cjson.encode({ok = false, code = 'capacity_full', policy = 'capacity',
                       retry_after = math.max(1, math.ceil(tonumber(first[2]) - now))})
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  return cjson.encode({ok = false, code = 'id_taken'})
end

-- Everything holds: commit.
local id = ARGV[5]
local lifetime = tonumber(ARGV[7])
local ttl = tonumber(ARGV[8])
redis.call('DEL', KEYS[1])
charge(quotas, now, ARGV[1] .. ':' .. id, id, ttl, lifetime)
local record = {
  id = id, template = ARGV[6], state = MOVES.create.state, phase = MOVES.create.phase,
  owner = ARGV[3], client = ARGV[2], network = ARGV[4], access = pass.mode or 'slider',
  created_at = ARGV[1], updated_at = ARGV[1],
  expires_at = string.format('%.3f', now + lifetime), lifetime = ARGV[7], request_id = ARGV[10]
}
for field, value in pairs(record) do redis.call('HSET', KEYS[2], field, value) end
redis.call('EXPIRE', KEYS[2], ttl)
redis.call('ZADD', KEYS[3], now, id)
redis.call('EXPIRE', KEYS[3], ttl)
redis.call('ZADD', EXPIRY, now + lifetime, id)
add_entry('create', id, ARGV[1], ARGV[10])
return cjson.encode({ok = true, record = record, quotas = usage(quotas)})
"""
)

# DELETE: the owner asks for deletion (`delete`); a `delete` entry goes on the stream unless
# the record was already on its way.
# KEYS[1] container record   ARGV[1] now   ARGV[2] owner hash   ARGV[3] request id
# Answer: {"ok": true, "record": {...}} or {"ok": false, "code": "not_found"}
DELETE = (
    LUA
    + r"""
local record = hash_to_table(redis.call('HGETALL', KEYS[1]))
if record.owner == nil or record.owner ~= ARGV[2] then
  return cjson.encode({ok = false, code = 'not_found'})
end
local outcome = move(record, 'delete', ARGV[1], {})
if outcome == 'refused' then
  return cjson.encode({ok = false, code = 'unexpected_state', state = record.state})
end
if outcome == 'moved' then add_entry('delete', record.id, ARGV[1], ARGV[3]) end
return cjson.encode({ok = true, record = record})
"""
)

# MOVE (worker): apply one event of `MOVES` to a record, setting some fields as well.
# KEYS[1] container record   ARGV[1] now   ARGV[2] event
# ARGV[3..] field/value pairs to set as well (url, error, started_at, ...)
# Answer: {"ok": true, "record": {...}} | {"ok": false, "code": "missing"|"unexpected_state",
#          "state": ...}
MOVE = (
    LUA
    + r"""
local record = hash_to_table(redis.call('HGETALL', KEYS[1]))
if record.id == nil then
  return cjson.encode({ok = false, code = 'missing'})
end
local fields = {}
for i = 3, #ARGV do table.insert(fields, ARGV[i]) end
if move(record, ARGV[2], ARGV[1], fields) ~= 'moved' then
  return cjson.encode({ok = false, code = 'unexpected_state', state = record.state})
end
return cjson.encode({ok = true, record = record})
"""
)

# REAP (worker): containers whose lifetime passed `expire` (to deleting) and get an `expire`
# entry, with the request id of the create (so the container's logs share one id to the end).
# Index entries of records that are gone, or hold no slot any more, leave the index.
# ARGV[1] now   ARGV[2] max ids
# Answer: {"reaped": [id, ...], "due": n}
REAP = (
    LUA
    + r"""
local ids = redis.call('ZRANGEBYSCORE', EXPIRY, '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local reaped = {}
for _, id in ipairs(ids) do
  local record = hash_to_table(redis.call('HGETALL', RECORD .. id))
  if record.id == nil then
    redis.call('ZREM', EXPIRY, id)
  elseif move(record, 'expire', ARGV[1], {}) == 'moved' then
    add_entry('expire', id, ARGV[1], record.request_id)
    table.insert(reaped, id)
  else
    release(record)  -- a deleting one keeps its slot: its delete entry is coming
  end
end
return cjson.encode({reaped = reaped, due = #ids})
"""
)

# REQUEUE (worker): give a record that has no entry left its entry again, if the record did not
# move meanwhile (its status and `updated_at` are still what the reconciler saw).
# KEYS[1] container record   ARGV[1] now   ARGV[2] state it must still be in
# ARGV[3] updated_at it must still have   ARGV[4] entry type to add
# Answer: true if re-enqueued, false if the record changed
REQUEUE = (
    LUA
    + r"""
local record = redis.call('HMGET', KEYS[1], 'id', 'state', 'updated_at')
if record[1] == false or record[2] ~= ARGV[2] or record[3] ~= ARGV[3] then
  return cjson.encode(false)
end
redis.call('HINCRBY', KEYS[1], 'requeues', 1)
redis.call('HSET', KEYS[1], 'updated_at', ARGV[1])
add_entry(ARGV[4], record[1], ARGV[1], 'requeue')
return cjson.encode(true)
"""
)


# -- the named moves (the worker's) -------------------------------------------------------------


class Refused(Exception):
    """The record is gone, or not in a status this move may start from."""

    def __init__(self, code: str, state: str | None = None) -> None:
        super().__init__(f"{code} (state {state})" if state else code)
        self.code = code
        self.state = state


def _apply(
    scripts: Scripts, event: str, container_id: str, now: float, **fields: str | float
) -> Record:
    args: list[Any] = [repr(now), event]
    for name, value in fields.items():
        args += [name, value]
    answer = scripts.run(scripts.move, [keys.record(container_id)], args)
    if not answer["ok"]:
        raise Refused(answer["code"], answer.get("state"))
    return Record.from_hash(answer["record"])


def mark_creating(scripts: Scripts, container_id: str, *, now: float) -> Record:
    """The worker starts making its objects."""
    return _apply(scripts, "creating", container_id, now)


def mark_starting(scripts: Scripts, container_id: str, *, now: float) -> Record:
    """Its objects exist; the worker waits for the pod."""
    return _apply(scripts, "starting", container_id, now)


def mark_running(scripts: Scripts, container_id: str, *, now: float, url: str) -> Record:
    """Its pod is ready: it answers at `url` from `now` on."""
    return _apply(scripts, "run", container_id, now, url=url, started_at=now, error="")


def fail(scripts: Scripts, container_id: str, reason: str, *, now: float) -> Record:
    """The cluster could not make or start it (or its request was lost)."""
    return _apply(scripts, "fail", container_id, now, error=reason)


def crash(scripts: Scripts, container_id: str, reason: str, *, now: float) -> Record:
    """It was running; its pod died or vanished."""
    return _apply(scripts, "crash", container_id, now, error=reason)


def give_up(scripts: Scripts, container_id: str, reason: str, *, now: float) -> Record:
    """Its stream entry kept failing and went to the dead-letter stream."""
    return _apply(scripts, "give_up", container_id, now, error=reason)


def mark_deleted(scripts: Scripts, container_id: str, *, now: float) -> Record:
    """Its objects are gone."""
    return _apply(scripts, "deleted", container_id, now)


def delete_failed(scripts: Scripts, container_id: str, reason: str, *, now: float) -> Record:
    """The cluster refused to delete its objects (the reconciler removes what is left)."""
    return _apply(scripts, "delete_failed", container_id, now, error=reason)


def reap(scripts: Scripts, *, now: float, limit: int = 1000) -> list[str]:
    """Expire the containers whose lifetime passed (to deleting, with an entry); their ids.

    Sent again after a broken connection, it finds them deleting and reaps nothing twice.
    """
    answer = scripts.run(scripts.reap, [], [repr(now), limit], idempotent=True)
    reaped = answer["reaped"]
    return [str(i) for i in reaped] if isinstance(reaped, list) else []  # cjson: {} when empty


def requeue(
    scripts: Scripts, container_id: str, *, state: str, updated_at: str, now: float
) -> bool:
    """Enqueue a lost record's entry again, unless it moved since the reconciler looked."""
    entry_type = "create" if state == "pending" else "delete"
    answer = scripts.run(
        scripts.requeue,
        [keys.record(container_id)],
        [repr(now), state, updated_at, entry_type],
        idempotent=True,  # a second run finds `updated_at` changed
    )
    return bool(answer)
