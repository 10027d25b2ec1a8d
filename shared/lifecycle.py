"""A container record's life: its statuses, the moves between them, and every script that
writes a record.

A record's *status* is its state, with its phase while pending (`pending/queued`, ...).
`MOVES` is the transition table (event -> the statuses it may start from, the status it
ends in): Python reads it (`allows`), and every Lua script follows the same table, compiled
into the Lua library (`LUA`) that each script starts with. A move is atomic: it checks the
record's status, writes the new one and releases what the record no longer holds, all in
one script:

    queue ─► pending/waiting ─promote─► pending/queued    (a slot freed: it is next in line)
                 ├─leave─► failed        (its page stopped checking, or it waited too long)
                 └─withdraw─► deleted    (its owner deleted it while it waited)
    create ─► pending/queued ─creating─► pending/creating ─starting─► pending/starting
                  │  (and back: a redelivered create starts again)          │
                  │                                                          ├─run─► running
                  ├─fail─► failed   (the cluster could not make or start it) │
                  └──────────────────────── delete / expire ─────────────────┴──► deleting
    running ─crash─► failed          deleting ─deleted─► deleted | ─delete_failed─► failed
    anything not over and not waiting ─give_up─► failed (its entry was dead-lettered)
    failed ─delete─► deleting        (the owner clears a failed container away)

Three indexes follow the status, and `release` (in `LUA`) is the one place that keeps them:
the live sets (per address, network and owner: what counts against the live quotas) hold the
records whose status is in `LIVE`; the waiting line holds those `IN_LINE`; the expiry index
(what counts against capacity, and what the reaper reads) holds those in `HOLDS_SLOT`: a
deleting container keeps its slot until its pod is gone. A record leaving the expiry index
frees a slot, and the same script promotes the next place in line into it (`fill_slots`).

The scripts answer JSON. Where a script touches records it finds inside Redis (ids in an
index), it builds their key names from the prefixes compiled into `LUA`: these scripts are
for one Redis primary, not Redis Cluster.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared import keys, limits, line
from shared.records import Record

if TYPE_CHECKING:  # shared.redis_client registers the scripts below
    from shared.redis_client import Scripts

ABSENT = "absent"  # no record: the only status `create` and `queue` start from
WAITING = "pending/waiting"  # in the waiting line (`shared.line`), for a slot
PREPARING = frozenset({"pending/queued", "pending/creating", "pending/starting"})
STATUSES = PREPARING | {WAITING, "running", "deleting", "deleted", "failed"}
LIVE = PREPARING | {WAITING, "running"}  # counted against the live quotas
HOLDS_SLOT = PREPARING | {"running", "deleting"}  # counted against capacity: its pod may exist
IN_LINE = frozenset({WAITING})

# Why a place in the line ended (the worker's reaper ends them too, so the words live here).
PLACE_LAPSED = (
    "Its place in the waiting line lapsed: its page stopped checking on it. Start it again."
)
WAITED_TOO_LONG = "It waited in line longer than Sprout keeps a place. Start it again."


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
    # Every slot taken: the create waits in line; a slot freed promotes it (`promote`);
    # its visitor may give up the place (`withdraw`) or stop checking on it (`leave`).
    "queue": Move(frozenset({ABSENT}), "pending", "waiting"),
    "promote": Move(frozenset({WAITING}), "pending", "queued"),
    "leave": Move(frozenset({WAITING}), "failed"),
    "withdraw": Move(frozenset({WAITING}), "deleted"),
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
    "expire": Move(PREPARING | {"running"}, "deleting"),
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
local IN_LINE = {_lua_set(IN_LINE)}
local WAITING = '{WAITING}'
local PLACE_LAPSED = [[{PLACE_LAPSED}]]
local WAITED_TOO_LONG = [[{WAITED_TOO_LONG}]]
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
"""
    + line.LUA
    + r"""
local function add_entry(entry_type, id, now, request_id)
  redis.call('XADD', STREAM, '*', 'type', entry_type, 'id', id, 'at', now,
             'request_id', request_id or '')
end

local fill_slots  -- defined below: a freed slot goes to the next place in line

-- The one clean-up: a record leaves its live sets once it no longer counts against the live
-- quotas, the waiting line once it no longer waits, and the expiry index once it no longer
-- holds a slot; the slot it frees goes to the next place in line. Idempotent.
local function release(record, now)
  local now_status = status_of(record)
  if not LIVE[now_status] then
    if record.client then redis.call('SREM', LIVE_BY_CLIENT .. record.client, record.id) end
    if record.owner then redis.call('SREM', LIVE_BY_OWNER .. record.owner, record.id) end
    if record.network then redis.call('SREM', LIVE_BY_NETWORK .. record.network, record.id) end
  end
  if not IN_LINE[now_status] then leave_line(record) end
  if not HOLDS_SLOT[now_status] and redis.call('ZREM', EXPIRY, record.id) == 1 then
    note_release(record.id, tonumber(now))
    fill_slots(tonumber(now))
  end
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
  release(record, now)
  return 'moved'
end

-- A place gets its slot: its lifetime starts now, its create entry goes on the stream.
local function promote(record, now)
  local expires_at = now + tonumber(record.lifetime)
  move(record, 'promote', now, {'expires_at', string.format('%.3f', expires_at)})
  redis.call('ZADD', EXPIRY, expires_at, record.id)
  local ttl = redis.call('HGET', LINE_SETTINGS, 'record_ttl')
  if ttl then redis.call('EXPIRE', RECORD .. record.id, tonumber(ttl)) end
  add_entry('create', record.id, now, record.request_id)
end

-- Promote the first place of the network at the ring's head; that network goes to the back
-- (round-robin). False when nobody waits. A place whose record moved on is dropped.
local function promote_next(now)
  while true do
    local network = redis.call('LPOP', LINE_RING)
    if not network then return false end
    local line = LINE_NETWORK .. network
    local id = redis.call('ZRANGE', line, 0, 0)[1]
    if id then
      local record = hash_to_table(redis.call('HGETALL', RECORD .. id))
      local waiting = status_of(record) == WAITING
      if waiting then
        promote(record, now)
      else
        redis.call('ZREM', line, id)
        redis.call('ZREM', LINE_DEADLINES, id)
      end
      if redis.call('ZCARD', line) > 0 then
        if waiting then redis.call('RPUSH', LINE_RING, network)
        else redis.call('LPUSH', LINE_RING, network) end  -- its turn is not over
        keep(LINE_RING, line_ttl())
      end
      if waiting then return true end
    end
  end
end

-- Places whose deadline passed leave the line (failed, with the reason).
local function sweep_line(now)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', LINE_DEADLINES, '-inf', now)) do
    local record = hash_to_table(redis.call('HGETALL', RECORD .. id))
    if status_of(record) == WAITING then
      local reason = PLACE_LAPSED
      if tonumber(record.expires_at) <= now then reason = WAITED_TOO_LONG end
      move(record, 'leave', now, {'error', reason})
    else
      redis.call('ZREM', LINE_DEADLINES, id)
    end
  end
end

-- The line moves on: lapsed places leave it, and while a slot is free the next place gets it.
fill_slots = function(now)
  local capacity = tonumber(redis.call('HGET', LINE_SETTINGS, 'capacity'))
  if not capacity then return end
  sweep_line(now)  -- a lapsed place gets no slot
  while redis.call('ZCARD', EXPIRY) < capacity and promote_next(now) do end
end

-- Its owner looked at a waiting record: its place lasts `timeout` s more (up to its end),
-- and the record carries its position and ETA for the answer.
local function seen_waiting(record, now, timeout)
  if status_of(record) ~= WAITING then return end
  local deadline = math.min(now + timeout, tonumber(record.expires_at))
  redis.call('ZADD', LINE_DEADLINES, 'XX', deadline, record.id)
  record.position, record.eta = place_of(record, now)
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
# write the record and its indexes. With a slot free (and nobody waiting for one) it is
# created and a `create` entry goes on the stream; else it takes a place in the waiting line,
# if the line, the network and the address have room for one more. All or nothing.
# KEYS[1] captcha pass hash   KEYS[2] container record   KEYS[3] owner index
# ARGV[1] now (epoch s, string)   ARGV[2] client hash   ARGV[3] owner hash   ARGV[4] network hash
# ARGV[5] container id   ARGV[6] template   ARGV[7] lifetime s   ARGV[8] record TTL s
# ARGV[9] capacity   ARGV[10] request id   ARGV[11] the action the pass must be bound to
# ARGV[12] the quotas, JSON (`limits.create_quotas`)
# ARGV[13] the line: JSON {length, timeout, max_wait, places: quotas (`limits.place_quotas`)}
# Answer: {"ok": true, "record": {... position, eta}, "quotas": [[name, used, reset], ...]}
#      or {"ok": false, "code": ..., "policy": ..., "retry_after": s}
CREATE = (
    LUA
    + r"""
local now = tonumber(ARGV[1])
local pass = hash_to_table(redis.call('HGETALL', KEYS[1]))
if pass.client == nil or pass.client ~= ARGV[2] or pass.action ~= ARGV[11] then
  return cjson.encode({ok = false, code = 'captcha_invalid'})
end
local mode = pass.mode or 'slider'

-- The line first: lapsed places leave it, and free slots (capacity may have grown) go to
-- those waiting. Then the quotas; then this create waits if anybody else still does, or if
-- no slot is free.
local settings = cjson.decode(ARGV[13])
local capacity = tonumber(ARGV[9])
local ttl = tonumber(ARGV[8])
local wait_ttl = ttl + settings.max_wait
redis.call('HSET', LINE_SETTINGS, 'capacity', capacity, 'record_ttl', ttl,
           'lifetime', ARGV[7], 'line_ttl', settings.max_wait + 60)
keep(LINE_SETTINGS, settings.max_wait + 60)
fill_slots(now)
local quotas = cjson.decode(ARGV[12])
local refused = first_refusal(quotas, now, mode)
if refused then
  return cjson.encode({ok = false, code = 'rate_limited', policy = refused.name,
                       retry_after = math.max(1, refused.reset)})
end
local waits = line_length() > 0 or redis.call('ZCARD', EXPIRY) >= capacity
if waits then
  if line_length() >= settings.length then
    local soonest = eta_for(1, now) or 60  -- the line has room once its first place moves on
    return cjson.encode({ok = false, code = 'capacity_full', policy = 'capacity',
                         retry_after = math.max(1, soonest)})
  end
  local no_place = first_refusal(settings.places, now, mode)
  if no_place then
    return cjson.encode({ok = false, code = 'rate_limited', policy = no_place.name,
                         retry_after = math.max(1, no_place.reset)})
  end
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  return cjson.encode({ok = false, code = 'id_taken'})
end

-- Everything holds: commit.
local id = ARGV[5]
local lifetime = tonumber(ARGV[7])
local rule = waits and MOVES.queue or MOVES.create
redis.call('DEL', KEYS[1])
charge(quotas, now, ARGV[1] .. ':' .. id, id, waits and wait_ttl or ttl, lifetime)
local record = {
  id = id, template = ARGV[6], state = rule.state, phase = rule.phase,
  owner = ARGV[3], client = ARGV[2], network = ARGV[4], access = mode,
  created_at = ARGV[1], updated_at = ARGV[1], lifetime = ARGV[7], request_id = ARGV[10]
}
if waits then
  record.queued_at = ARGV[1]
  record.expires_at = string.format('%.3f', now + settings.max_wait)  -- the place's end
else
  record.expires_at = string.format('%.3f', now + lifetime)
end
for field, value in pairs(record) do redis.call('HSET', KEYS[2], field, value) end
redis.call('EXPIRE', KEYS[2], waits and wait_ttl or ttl)
redis.call('ZADD', KEYS[3], now, id)
keep(KEYS[3], waits and wait_ttl or ttl)
if waits then
  join_line(record, math.min(now + settings.timeout, now + settings.max_wait))
  record.position, record.eta = place_of(record, now)
else
  redis.call('ZADD', EXPIRY, now + lifetime, id)
  add_entry('create', id, ARGV[1], ARGV[10])
end
return cjson.encode({ok = true, record = record, quotas = usage(quotas)})
"""
)

# DELETE: the owner asks for deletion: a waiting record leaves the line (`withdraw`), any
# other moves to deleting (`delete`) with a `delete` entry, unless it was already on its way.
# KEYS[1] container record   ARGV[1] now   ARGV[2] owner hash   ARGV[3] request id
# Answer: {"ok": true, "record": {...}} or {"ok": false, "code": "not_found"}
DELETE = (
    LUA
    + r"""
local record = hash_to_table(redis.call('HGETALL', KEYS[1]))
if record.owner == nil or record.owner ~= ARGV[2] then
  return cjson.encode({ok = false, code = 'not_found'})
end
local event = 'delete'
if status_of(record) == WAITING then event = 'withdraw' end
local outcome = move(record, event, ARGV[1], {})
if outcome == 'refused' then
  return cjson.encode({ok = false, code = 'unexpected_state', state = record.state})
end
if outcome == 'moved' and event == 'delete' then
  add_entry('delete', record.id, ARGV[1], ARGV[3])
end
return cjson.encode({ok = true, record = record})
"""
)

# LIST: the owner's records, newest first, dropping index entries whose record expired. With
# `now`, the owner is looking: their waiting records keep their places, with position and ETA.
# KEYS[1] owner index   ARGV[1] record key prefix   ARGV[2] max records
# ARGV[3] now (optional)   ARGV[4] place timeout s (with now)
# Answer: [{record}, ...]
LIST = (
    LUA
    + r"""
local function listed()
  local records = {}
  for _, id in ipairs(redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)) do
    local flat = redis.call('HGETALL', ARGV[1] .. id)
    if #flat == 0 then
      redis.call('ZREM', KEYS[1], id)
    else
      table.insert(records, hash_to_table(flat))
    end
  end
  return records
end
local records = listed()
local now = tonumber(ARGV[3])
local waiting = false
for _, record in ipairs(records) do waiting = waiting or status_of(record) == WAITING end
if now and waiting then
  fill_slots(now)
  records = listed()  -- a place may have lapsed, or got its slot
  for _, record in ipairs(records) do seen_waiting(record, now, tonumber(ARGV[4])) end
end
if #records == 0 then return '[]' end
return cjson.encode(records)
"""
)

# READ: one record for its owner. A waiting one keeps its place (its owner is looking) and
# carries its position and ETA; the line moves first (lapsed places leave, free slots fill).
# KEYS[1] container record   ARGV[1] now   ARGV[2] owner hash   ARGV[3] place timeout s
# Answer: {record} or false (no such record, or not this owner's)
READ = (
    LUA
    + r"""
local record = hash_to_table(redis.call('HGETALL', KEYS[1]))
if record.owner == nil or record.owner ~= ARGV[2] then return cjson.encode(false) end
local now = tonumber(ARGV[1])
if status_of(record) == WAITING then
  fill_slots(now)
  record = hash_to_table(redis.call('HGETALL', KEYS[1]))
  seen_waiting(record, now, tonumber(ARGV[3]))
end
return cjson.encode(record)
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
# Index entries of records that are gone, or hold no slot any more, leave the index. Places
# in the line whose deadline passed `leave` it.
# ARGV[1] now   ARGV[2] max ids
# Answer: {"reaped": [id, ...], "due": n}
REAP = (
    LUA
    + r"""
local now = tonumber(ARGV[1])
sweep_line(now)  -- places whose page stopped checking on them end too
local ids = redis.call('ZRANGEBYSCORE', EXPIRY, '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local reaped = {}
for _, id in ipairs(ids) do
  local record = hash_to_table(redis.call('HGETALL', RECORD .. id))
  if record.id == nil then
    release({id = id}, now)  -- its slot frees: the next place in line gets it
  elseif move(record, 'expire', ARGV[1], {}) == 'moved' then
    add_entry('expire', id, ARGV[1], record.request_id)
    table.insert(reaped, id)
  else
    release(record, now)  -- a deleting one keeps its slot: its delete entry is coming
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
