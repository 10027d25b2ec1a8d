"""Lua scripts: each request's Redis work in one atomic round trip.

Each script documents its KEYS/ARGV contract. Scripts answer with a JSON string
(`cjson.encode`) so callers get named fields rather than positional arrays.

Sprout runs against one Redis primary. Where a script must touch records it discovers inside
Redis (ids found in an index), it builds their key names from the prefix passed in ARGV;
that is why these scripts are not meant for Redis Cluster.
"""

from __future__ import annotations

# Shared Lua helpers, prepended to the scripts that need them.
_HELPERS = r"""
local function hash_to_table(flat)
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end

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

local function is_live(state)
  return state == 'pending' or state == 'running'
end

-- Members of a live set whose record is gone or no longer live are dropped (self-healing quota).
local function live_count(set_key, record_prefix)
  local members = redis.call('SMEMBERS', set_key)
  local count = 0
  for _, id in ipairs(members) do
    local state = redis.call('HGET', record_prefix .. id, 'state')
    if state and is_live(state) then
      count = count + 1
    else
      redis.call('SREM', set_key, id)
    end
  end
  return count, members
end

-- Seconds until the soonest of `members` leaves the expiry index (its lifetime ends).
local function soonest_expiry(expiry_key, members, now)
  local soonest = nil
  for _, id in ipairs(members) do
    local at = redis.call('ZSCORE', expiry_key, id)
    if at and (soonest == nil or tonumber(at) < soonest) then soonest = tonumber(at) end
  end
  if soonest == nil then return 0 end
  return math.max(1, math.ceil(soonest - now))
end
"""

# CREATE: consume the CAPTCHA pass, charge the limits, check quotas and capacity, write the
# record and its indexes, append a `create` entry. All or nothing.
# KEYS[1] captcha pass hash        KEYS[2] creates window (client)   KEYS[3] pow creates window
# KEYS[4] live set (client)        KEYS[5] live set (owner)          KEYS[6] expiry index
# KEYS[7] container record         KEYS[8] owner index               KEYS[9] stream
# ARGV[1] now (epoch s, string)    ARGV[2] client hash     ARGV[3] owner hash
# ARGV[4] container id             ARGV[5] template        ARGV[6] lifetime s
# ARGV[7] record TTL s             ARGV[8] creates/window  ARGV[9] pow creates/window
# ARGV[10] window s                ARGV[11] live/address   ARGV[12] live/owner
# ARGV[13] capacity                ARGV[14] record key prefix   ARGV[15] request id
# ARGV[16] action the pass must be bound to
# Answer: {"ok": true, "record": {...}, "creates": n, "oldest": t, "live_client": n,
#          "live_owner": n}  or  {"ok": false, "code": ..., "policy": ..., "retry_after": s}
CREATE = (
    _HELPERS
    + r"""
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[10])

local pass = hash_to_table(redis.call('HGETALL', KEYS[1]))
if pass.client == nil then
  return cjson.encode({ok = false, code = 'captcha_invalid'})
end
if pass.client ~= ARGV[2] or pass.action ~= ARGV[16] then
  return cjson.encode({ok = false, code = 'captcha_invalid'})
end

local creates, oldest = window_state(KEYS[2], now, window)
if creates >= tonumber(ARGV[8]) then
  return cjson.encode({ok = false, code = 'rate_limited', policy = 'creates_per_address',
                       retry_after = math.max(1, math.ceil(oldest + window - now))})
end
if pass.mode == 'pow' then
  local pow_creates, pow_oldest = window_state(KEYS[3], now, window)
  if pow_creates >= tonumber(ARGV[9]) then
    return cjson.encode({ok = false, code = 'rate_limited', policy = 'pow_creates_per_address',
                         retry_after = math.max(1, math.ceil(pow_oldest + window - now))})
  end
end

local live_client, client_ids = live_count(KEYS[4], ARGV[14])
if live_client >= tonumber(ARGV[11]) then
  return cjson.encode({ok = false, code = 'rate_limited', policy = 'live_per_address',
                       retry_after = soonest_expiry(KEYS[6], client_ids, now)})
end
local live_owner, owner_ids = live_count(KEYS[5], ARGV[14])
if live_owner >= tonumber(ARGV[12]) then
  return cjson.encode({ok = false, code = 'rate_limited', policy = 'live_per_owner',
                       retry_after = soonest_expiry(KEYS[6], owner_ids, now)})
end
if redis.call('ZCARD', KEYS[6]) >= tonumber(ARGV[13]) then
  local first = redis.call('ZRANGE', KEYS[6], 0, 0, 'WITHSCORES')
  return cjson.encode({ok = false, code = 'capacity_full', policy = 'capacity',
                       retry_after = math.max(1, math.ceil(tonumber(first[2]) - now))})
end
if redis.call('EXISTS', KEYS[7]) == 1 then
  return cjson.encode({ok = false, code = 'id_taken'})
end

-- Everything holds: commit.
local id = ARGV[4]
local lifetime = tonumber(ARGV[6])
local ttl = tonumber(ARGV[7])
local expires_at = now + lifetime
redis.call('DEL', KEYS[1])
redis.call('ZADD', KEYS[2], now, ARGV[1] .. ':' .. id)
redis.call('EXPIRE', KEYS[2], window)
if pass.mode == 'pow' then
  redis.call('ZADD', KEYS[3], now, ARGV[1] .. ':' .. id)
  redis.call('EXPIRE', KEYS[3], window)
end
local record = {
  id = id, template = ARGV[5], state = 'pending', phase = 'queued',
  owner = ARGV[3], client = ARGV[2], access = pass.mode or 'slider',
  created_at = ARGV[1], updated_at = ARGV[1], expires_at = string.format('%.3f', expires_at),
  lifetime = ARGV[6], request_id = ARGV[15]
}
for field, value in pairs(record) do redis.call('HSET', KEYS[7], field, value) end
redis.call('EXPIRE', KEYS[7], ttl)
redis.call('ZADD', KEYS[8], now, id)
redis.call('EXPIRE', KEYS[8], ttl)
redis.call('SADD', KEYS[4], id)
redis.call('EXPIRE', KEYS[4], ttl)
redis.call('SADD', KEYS[5], id)
redis.call('EXPIRE', KEYS[5], ttl)
redis.call('ZADD', KEYS[6], expires_at, id)
redis.call('XADD', KEYS[9], '*', 'type', 'create', 'id', id, 'at', ARGV[1],
           'request_id', ARGV[15])
return cjson.encode({ok = true, record = record, creates = creates + 1,
                     oldest = oldest or now, live_client = live_client + 1,
                     live_owner = live_owner + 1})
"""
)

# DELETE: the owner asks for deletion; append a `delete` entry unless one is already asked.
# KEYS[1] container record   KEYS[2] stream
# ARGV[1] now   ARGV[2] owner hash   ARGV[3] request id
# ARGV[4] live-set key prefix for clients   ARGV[5] live-set key prefix for owners
# Answer: {"ok": true, "record": {...}} or {"ok": false, "code": "not_found"}
DELETE = (
    _HELPERS
    + r"""
local record = hash_to_table(redis.call('HGETALL', KEYS[1]))
if record.owner == nil or record.owner ~= ARGV[2] then
  return cjson.encode({ok = false, code = 'not_found'})
end
if record.state == 'deleting' or record.state == 'deleted' then
  return cjson.encode({ok = true, record = record})
end
record.state = 'deleting'
record.phase = ''
record.updated_at = ARGV[1]
redis.call('HSET', KEYS[1], 'state', 'deleting', 'phase', '', 'updated_at', ARGV[1])
-- A container its owner let go stops counting against their live quotas at once.
redis.call('SREM', ARGV[4] .. record.client, record.id)
redis.call('SREM', ARGV[5] .. record.owner, record.id)
redis.call('XADD', KEYS[2], '*', 'type', 'delete', 'id', record.id, 'at', ARGV[1],
           'request_id', ARGV[3])
return cjson.encode({ok = true, record = record})
"""
)

# LIST: the owner's records, newest first, dropping index entries whose record expired.
# KEYS[1] owner index   ARGV[1] record key prefix   ARGV[2] max records
# Answer: [{record}, ...]
LIST = (
    _HELPERS
    + r"""
local ids = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
local records = {}
for _, id in ipairs(ids) do
  local flat = redis.call('HGETALL', ARGV[1] .. id)
  if #flat == 0 then
    redis.call('ZREM', KEYS[1], id)
  else
    table.insert(records, hash_to_table(flat))
  end
end
if #records == 0 then return '[]' end
return cjson.encode(records)
"""
)

# LIMITS: what every policy has left, without charging anything.
# KEYS[1] creates window   KEYS[2] pow creates window   KEYS[3] challenges window
# KEYS[4] live set (client)   KEYS[5] live set (owner, may be a never-written key)
# KEYS[6] expiry index
# ARGV[1] now   ARGV[2] create window s   ARGV[3] challenge window s   ARGV[4] record key prefix
# Answer: {"creates": [count, oldest], "pow_creates": [...], "challenges": [...],
#          "live_client": [count, reset], "live_owner": [count, reset], "live_total": n}
LIMITS = (
    _HELPERS
    + r"""
local now = tonumber(ARGV[1])
local function window_count(key, window)
  local count = redis.call('ZCOUNT', key, '(' .. (now - window), '+inf')
  local oldest = 0
  if count > 0 then
    oldest = tonumber(redis.call('ZRANGEBYSCORE', key, '(' .. (now - window), '+inf',
                                 'WITHSCORES', 'LIMIT', 0, 1)[2])
  end
  return {count, oldest}
end
local function live(set_key)
  local members = redis.call('SMEMBERS', set_key)
  local alive = {}
  for _, id in ipairs(members) do
    local state = redis.call('HGET', ARGV[4] .. id, 'state')
    if state and is_live(state) then table.insert(alive, id) end
  end
  return {#alive, soonest_expiry(KEYS[6], alive, now)}
end
return cjson.encode({
  creates = window_count(KEYS[1], tonumber(ARGV[2])),
  pow_creates = window_count(KEYS[2], tonumber(ARGV[2])),
  challenges = window_count(KEYS[3], tonumber(ARGV[3])),
  live_client = live(KEYS[4]),
  live_owner = live(KEYS[5]),
  live_total = redis.call('ZCARD', KEYS[6])
})
"""
)

# TRANSITION (worker): move a record to a new state if it is in one of the expected states.
# Terminal states (failed, deleted) leave the live sets and the expiry index.
# KEYS[1] container record   KEYS[2] expiry index
# ARGV[1] now   ARGV[2] new state   ARGV[3] expected states, comma-separated ('' = any)
# ARGV[4] live-set key prefix for clients   ARGV[5] live-set key prefix for owners
# ARGV[6..] field/value pairs to set as well (phase, url, error, started_at, ...)
# Answer: {"ok": true, "record": {...}} | {"ok": false, "code": "missing"|"unexpected_state",
#          "state": ...}
TRANSITION = (
    _HELPERS
    + r"""
local record = hash_to_table(redis.call('HGETALL', KEYS[1]))
if record.id == nil then
  return cjson.encode({ok = false, code = 'missing'})
end
if ARGV[3] ~= '' then
  local allowed = false
  for state in string.gmatch(ARGV[3], '[^,]+') do
    if state == record.state then allowed = true end
  end
  if not allowed then
    return cjson.encode({ok = false, code = 'unexpected_state', state = record.state})
  end
end
record.state = ARGV[2]
record.updated_at = ARGV[1]
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'updated_at', ARGV[1])
for i = 6, #ARGV, 2 do
  record[ARGV[i]] = ARGV[i + 1]
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
if ARGV[2] == 'failed' or ARGV[2] == 'deleted' then
  redis.call('SREM', ARGV[4] .. record.client, record.id)
  redis.call('SREM', ARGV[5] .. record.owner, record.id)
  redis.call('ZREM', KEYS[2], record.id)
end
return cjson.encode({ok = true, record = record})
"""
)
