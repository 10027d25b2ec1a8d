"""The read-side Lua scripts: each a request's Redis work in one round trip.

Each script documents its KEYS/ARGV contract and answers a JSON string (`cjson.encode`), so
callers get named fields rather than positional arrays. They start with the Lua library of
`shared.lifecycle` (the record's statuses, key prefixes, helpers), which also holds every
script that writes a record.
"""

from __future__ import annotations

from shared.lifecycle import LUA

# LIST: the owner's records, newest first, dropping index entries whose record expired.
# KEYS[1] owner index   ARGV[1] record key prefix   ARGV[2] max records
# Answer: [{record}, ...]
LIST = (
    LUA
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
# ARGV[1] now   ARGV[2] create window s   ARGV[3] challenge window s
# Answer: {"creates": [count, oldest], "pow_creates": [...], "challenges": [...],
#          "live_client": [count, reset], "live_owner": [count, reset], "live_total": n}
LIMITS = (
    LUA
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
  local alive = {}
  for _, id in ipairs(redis.call('SMEMBERS', set_key)) do
    if is_live(id) then table.insert(alive, id) end
  end
  return {#alive, soonest_expiry(alive, now)}
end
return cjson.encode({
  creates = window_count(KEYS[1], tonumber(ARGV[2])),
  pow_creates = window_count(KEYS[2], tonumber(ARGV[2])),
  challenges = window_count(KEYS[3], tonumber(ARGV[3])),
  live_client = live(KEYS[4]),
  live_owner = live(KEYS[5]),
  live_total = redis.call('ZCARD', EXPIRY)
})
"""
)
