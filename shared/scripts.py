"""The read-only Lua script: what the rate limits have left, in one round trip.

It documents its KEYS/ARGV contract and answers a JSON string (`cjson.encode`), so callers
get named fields rather than positional arrays. It starts with the Lua library of
`shared.lifecycle` (the record's statuses, key prefixes, helpers), which holds every script
that writes a record (reading the owner's list may move the waiting line, so it is there).
"""

from __future__ import annotations

from shared.lifecycle import LUA

# LIMITS: what every policy has left, without charging anything, and the live containers
# counting against the caller's address or network that are not the caller's own.
# KEYS[1] live set (owner; may be a never-written key)   KEYS[2] live set (client)
# KEYS[3] live set (network)
# ARGV[1] now   ARGV[2] the quotas, JSON (`limits.status`)
# Answer: {"quotas": [[name, used, reset], ...], "live_total": n,
#          "others": [[scope, expires_at], ...] (soonest first)}
LIMITS = (
    LUA
    + r"""
local now = tonumber(ARGV[1])
local quotas = cjson.decode(ARGV[2])
for _, q in ipairs(quotas) do measure(q, now) end
local mine = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do mine[id] = true end
local others = {}
for _, scoped in ipairs({{'address', KEYS[2]}, {'network', KEYS[3]}}) do
  for _, id in ipairs(live_members(scoped[2])) do
    if not mine[id] then
      mine[id] = true  -- an address's container is its network's too: listed once
      local ends = redis.call('ZSCORE', EXPIRY, id)
      if not ends then ends = redis.call('HGET', RECORD .. id, 'expires_at') end
      table.insert(others, {scoped[1], tonumber(ends)})
    end
  end
end
table.sort(others, function(a, b) return a[2] < b[2] end)
return cjson.encode({quotas = usage(quotas), live_total = redis.call('ZCARD', EXPIRY),
                     others = others})
"""
)
