"""The waiting line: when every slot is taken, a create with a valid pass waits for one.

Its shape in Redis (every key with a TTL, renewed as the line is used):

    line:ring           list of networks with places, in the order they are served next
    line:net:<network>  zset of the network's waiting container ids, by when they joined
    line:deadlines      zset of every waiting id, by when its place lapses: `place_timeout`
                        after its owner last looked (GET /containers[/{id}]), and never
                        later than `max_wait` after it joined
    line:releases       zset of the last slot releases (the ETA's rate)
    line:settings       hash: capacity, and the record TTL a promoted container gets

Round-robin across networks: the next place served is the first of the network at the
ring's head, which then goes to the back of the ring if it still has places. So a crowd on
one network waits its turns, one per round, and a visitor from another network is never
more than one round behind it. Promotion itself (a record leaving the line for a slot) is
a move, and lives with the other moves in `shared.lifecycle`.
"""

from __future__ import annotations

from shared import keys

RELEASES_KEPT = 20  # the last releases, enough for a rate
RELEASE_HORIZON = 3600  # older releases say nothing of the rate now
MIN_RELEASES_FOR_RATE = 3  # fewer: only the expiry bound speaks

# Needs hash_to_table, EXPIRY and RECORD (from the library's head, in `shared.lifecycle`).
LUA = (
    f"""
local LINE_RING = '{keys.LINE_RING}'
local LINE_NETWORK = '{keys.LINE_NETWORK_PREFIX}'
local LINE_DEADLINES = '{keys.LINE_DEADLINES}'
local LINE_RELEASES = '{keys.LINE_RELEASES}'
local LINE_SETTINGS = '{keys.LINE_SETTINGS}'
local RELEASES_KEPT = {RELEASES_KEPT}
local RELEASE_HORIZON = {RELEASE_HORIZON}
local MIN_RELEASES_FOR_RATE = {MIN_RELEASES_FOR_RATE}
"""
    + r"""
-- Keys a script creates get a TTL; one renewed never shrinks (a new key has none: TTL -1).
local function keep(key, ttl)
  if redis.call('TTL', key) < ttl then redis.call('EXPIRE', key, ttl) end
end

local function line_ttl()
  return tonumber(redis.call('HGET', LINE_SETTINGS, 'line_ttl') or '3600')
end

-- A new place: at the back of its network's line; a network new to the line joins the ring
-- at the back too (it is served after those already waiting, in this round).
local function join_line(record, deadline)
  local line = LINE_NETWORK .. record.network
  redis.call('ZADD', line, record.queued_at, record.id)
  if redis.call('ZCARD', line) == 1 then redis.call('RPUSH', LINE_RING, record.network) end
  redis.call('ZADD', LINE_DEADLINES, deadline, record.id)
  for _, key in ipairs({line, LINE_RING, LINE_DEADLINES}) do keep(key, line_ttl()) end
end

local function leave_line(record)
  if not record.queued_at or not record.network then return end
  local line = LINE_NETWORK .. record.network
  if redis.call('ZREM', line, record.id) == 1 and redis.call('ZCARD', line) == 0 then
    redis.call('LREM', LINE_RING, 0, record.network)
  end
  redis.call('ZREM', LINE_DEADLINES, record.id)
end

local function line_length()
  return redis.call('ZCARD', LINE_DEADLINES)
end

-- Seconds until the place at `position` gets a slot: the rate of recent releases, bounded
-- by when that many slots have freed at the latest (each holder ends by its expiry, and a
-- container promoted into its slot a lifetime later). nil when neither says anything.
local function eta_for(position, now)
  local bound = nil
  local held = redis.call('ZCARD', EXPIRY)
  if held > 0 then
    local rounds = math.floor((position - 1) / held)
    local nth = redis.call('ZRANGE', EXPIRY, (position - 1) % held, (position - 1) % held,
                           'WITHSCORES')
    local lifetime = tonumber(redis.call('HGET', LINE_SETTINGS, 'lifetime') or '0')
    bound = math.max(0, tonumber(nth[2]) + rounds * lifetime - now)
  end
  local since = now - RELEASE_HORIZON
  local recent = redis.call('ZCOUNT', LINE_RELEASES, '(' .. since, '+inf')
  local estimate = nil
  if recent >= MIN_RELEASES_FOR_RATE then
    local oldest = redis.call('ZRANGEBYSCORE', LINE_RELEASES, '(' .. since, '+inf',
                              'WITHSCORES', 'LIMIT', 0, 1)[2]
    estimate = position * (now - tonumber(oldest)) / recent
  end
  if estimate and bound then estimate = math.min(estimate, bound) end
  estimate = estimate or bound
  if estimate == nil then return nil end
  return math.ceil(estimate)
end

-- Where a waiting record stands: its position (1: next) and ETA. Round-robin: every network
-- ahead of it in the ring gets one more turn than its rank, every network behind it as many.
local function place_of(record, now)
  local line = LINE_NETWORK .. record.network
  local rank = redis.call('ZRANK', line, record.id)
  if not rank then return nil end
  local position = rank + 1
  local ahead = true
  for _, network in ipairs(redis.call('LRANGE', LINE_RING, 0, -1)) do
    if network == record.network then
      ahead = false
    else
      local waiting = redis.call('ZCARD', LINE_NETWORK .. network)
      position = position + math.min(waiting, ahead and rank + 1 or rank)
    end
  end
  return position, eta_for(position, now)
end

-- A slot freed: remember when, for the rate.
local function note_release(id, now)
  redis.call('ZADD', LINE_RELEASES, now, now .. ':' .. id)
  redis.call('ZREMRANGEBYRANK', LINE_RELEASES, 0, -(RELEASES_KEPT + 1))
  redis.call('EXPIRE', LINE_RELEASES, RELEASE_HORIZON)
end
"""
)
