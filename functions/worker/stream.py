"""The worker's side of the `container_events` stream and its `workers` consumer group.

Rules this module keeps (docs/data-model.md, "The stream"):
- An entry is deleted (XACK then XDEL, in one transaction) only after it was handled, so only
  delivered entries are ever deleted and the group's lag, which KEDA reads, stays exact.
  Nothing here trims the stream.
- A job holds the entries it works on; a heartbeat (`XCLAIM ... JUSTID` on its own entries,
  which resets their idle time without counting a delivery) keeps others off them, so the
  take-over threshold (`claim_min_idle`) can stay short however long a pod takes to start.
- Entries left by a dead job stop being heartbeaten; once idle for `claim_min_idle`, the next
  job takes them over with `XAUTOCLAIM`, which counts a delivery. Handling is idempotent.
- After `max_deliveries` an entry moves to the dead-letter stream (capped, never read by KEDA).
- `tick()` is what a schedule runs: it adds a `reconcile` entry when work is waiting that
  KEDA's lag trigger cannot see (see the package docstring).

The Lua scripts below state their KEYS/ARGV contract; each answers JSON or a plain value.
None writes a container record: those are all in `shared.lifecycle`.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

from shared import keys

# XAUTOCLAIM up to ARGV[4] entries idle for ARGV[3] ms or more, with their delivery counts.
# KEYS[1] stream   ARGV[1] group   ARGV[2] consumer   ARGV[3] min idle ms   ARGV[4] count
# Answer: {"entries": [[id, [field, value, ...], deliveries], ...], "deleted": [id, ...]}
CLAIM_STALE = r"""
local wanted = tonumber(ARGV[4])
local cursor = '0-0'
local claimed, deleted = {}, {}
repeat
  local answer = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], cursor,
                            'COUNT', wanted - #claimed)
  cursor = answer[1]
  for _, entry in ipairs(answer[2]) do
    if entry[2] then table.insert(claimed, entry) end
  end
  for _, id in ipairs(answer[3] or {}) do table.insert(deleted, id) end
until cursor == '0-0' or #claimed >= wanted
local entries = {}
for _, entry in ipairs(claimed) do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], entry[1], entry[1], 1)
  local deliveries = 1
  if pending[1] then deliveries = pending[1][4] end
  table.insert(entries, {entry[1], entry[2], deliveries})
end
return cjson.encode({entries = entries, deleted = deleted})
"""

# Take back, as a new delivery, entries this consumer still holds (to retry them).
# KEYS[1] stream   ARGV[1] group   ARGV[2] consumer   ARGV[3..] entry ids
# Answer: [[id, [field, value, ...], deliveries], ...] for those still held and not deleted
RECLAIM_OWN = r"""
local entries = {}
for i = 3, #ARGV do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2])
  if pending[1] then
    local claimed = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i])
    if claimed[1] and claimed[1][2] then
      table.insert(entries, {claimed[1][1], claimed[1][2], pending[1][4] + 1})
    end
  end
end
return cjson.encode(entries)
"""

# Heartbeat: reset the idle time of the entries this consumer still holds; never steals.
# KEYS[1] stream   ARGV[1] group   ARGV[2] consumer   ARGV[3..] entry ids
# Answer: how many were still held
HEARTBEAT = r"""
local held = 0
for i = 3, #ARGV do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2])
  if pending[1] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    held = held + 1
  end
end
return held
"""

# Move one delivered entry to the dead-letter stream: add there, then XACK and XDEL here.
# KEYS[1] stream   KEYS[2] dead-letter stream
# ARGV[1] group   ARGV[2] entry id   ARGV[3] dead-letter max length (approximate)
# ARGV[4..] field/value pairs of the dead-letter entry
DEAD_LETTER = r"""
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', unpack(ARGV, 4))
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return 1
"""

# The scheduled tick: make sure the group exists, then add a `reconcile` entry if work waits
# that the group's lag does not show. Nothing is added while lag > 0 (a job is coming anyway).
# KEYS[1] stream   KEYS[2] expiry index   KEYS[3] last-reconcile key
# KEYS[4] the waiting line's deadlines (a place lapsed: the reaper ends it)
# ARGV[1] group   ARGV[2] now   ARGV[3] claim min idle ms   ARGV[4] reconcile interval s
# Answer: "lag", "stale", "expired", "lapsed", "schedule" (those four added an entry) or "idle"
TICK = r"""
redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[1], '0', 'MKSTREAM')
local lag = nil
for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local info = {}
  for i = 1, #group, 2 do info[group[i]] = group[i + 1] end
  if info['name'] == ARGV[1] then lag = info['lag'] end
end
if lag == nil or lag == false or lag > 0 then return 'lag' end
local reason = nil
local stale = redis.call('XPENDING', KEYS[1], ARGV[1], 'IDLE', ARGV[3], '-', '+', 1)
if #stale > 0 then
  reason = 'stale'
elseif #redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[2], 'LIMIT', 0, 1) > 0 then
  reason = 'expired'
elseif #redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', ARGV[2], 'LIMIT', 0, 1) > 0 then
  reason = 'lapsed'
else
  local last = redis.call('GET', KEYS[3])
  if not last or tonumber(ARGV[2]) - tonumber(last) >= tonumber(ARGV[4]) then
    reason = 'schedule'
  end
end
if not reason then return 'idle' end
redis.call('XADD', KEYS[1], '*', 'type', 'reconcile', 'reason', reason, 'at', ARGV[2])
return reason
"""

# Remove a consumer from the group if it holds nothing (never drops pending entries).
# KEYS[1] stream   ARGV[1] group   ARGV[2] consumer
# Answer: 1 if removed
FORGET_CONSUMER = r"""
local held = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if #held > 0 then return 0 end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
"""

ENTRY_TYPES = frozenset({"create", "delete", "expire", "reconcile"})


def consumer_name() -> str:
    """A job's name in the group, unique per job: the hostname is the Job pod's name."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class Delivery:
    """One delivery of a stream entry to this job."""

    entry_id: str
    type: str
    container_id: str
    deliveries: int
    fields: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, entry_id: str, fields: Mapping[str, str], deliveries: int) -> Delivery:
        return cls(
            entry_id=entry_id,
            type=str(fields.get("type", "")),
            container_id=str(fields.get("id", "")),
            deliveries=int(deliveries),
            fields=dict(fields),
        )

    @property
    def request_id(self) -> str:
        """The id of the API request behind this entry (the worker logs with it)."""
        return str(self.fields.get("request_id", ""))


def _pairs(flat: Sequence[Any]) -> dict[str, str]:
    return {str(flat[i]): str(flat[i + 1]) for i in range(0, len(flat) - 1, 2)}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []  # cjson encodes an empty table as {}


class Stream:
    """The consumer group as one job (one consumer) sees it."""

    def __init__(
        self,
        client: redis.Redis,
        consumer: str | None = None,
        *,
        stream: str = keys.STREAM,
        group: str = keys.WORKER_GROUP,
        dead_letter: str = keys.DEAD_LETTER_STREAM,
    ) -> None:
        self.client = client
        self.consumer = consumer or consumer_name()
        self.stream = stream
        self.group = group
        self.dead_letter_stream = dead_letter
        self._claim_stale = client.register_script(CLAIM_STALE)
        self._reclaim_own = client.register_script(RECLAIM_OWN)
        self._heartbeat = client.register_script(HEARTBEAT)
        self._dead_letter = client.register_script(DEAD_LETTER)
        self._tick = client.register_script(TICK)
        self._forget = client.register_script(FORGET_CONSUMER)
        self._next_claim = 0.0  # monotonic: when `take` looks for dead jobs' entries again

    def ensure_group(self) -> None:
        """Create the group (from the stream's start, so no entry is skipped) if missing."""
        try:
            self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def take(self, count: int, *, min_idle: float, block_ms: int | None) -> list[Delivery]:
        """Up to `count` entries for this job: first those of dead jobs (idle for `min_idle`
        seconds; looked for at most every `min(1, min_idle / 4)` seconds while there are
        none), then new ones, waiting up to `block_ms` for one if nothing else came."""
        taken: list[Delivery] = []
        if count > 0 and time.monotonic() >= self._next_claim:
            taken = self.claim_stale(min_idle, count)
            if not taken:
                self._next_claim = time.monotonic() + min(1.0, min_idle / 4)
        if count > len(taken):
            taken += self.read_new(count - len(taken), block_ms=None if taken else block_ms)
        return taken

    def read_new(self, count: int, block_ms: int | None = None) -> list[Delivery]:
        """Entries never delivered to the group before (XREADGROUP `>`)."""
        answer: Any = self.client.xreadgroup(
            self.group, self.consumer, {self.stream: ">"}, count=count, block=block_ms
        )
        deliveries: list[Delivery] = []
        for _stream, entries in answer or []:
            for entry_id, fields in entries:
                deliveries.append(Delivery.parse(entry_id, fields or {}, 1))
        return deliveries

    def claim_stale(self, min_idle: float, count: int) -> list[Delivery]:
        """Take over entries nobody has touched for `min_idle` seconds (left by dead jobs)."""
        answer = json.loads(
            self._claim_stale(
                keys=[self.stream],
                args=[self.group, self.consumer, int(min_idle * 1000), count],
            )
        )
        return [
            Delivery.parse(str(entry_id), _pairs(flat), int(deliveries))
            for entry_id, flat, deliveries in _as_list(answer["entries"])
        ]

    def reclaim_own(self, entry_ids: Iterable[str]) -> list[Delivery]:
        """Deliver again, to this job, entries it still holds (a retry counts a delivery)."""
        ids = list(entry_ids)
        if not ids:
            return []
        answer = json.loads(
            self._reclaim_own(keys=[self.stream], args=[self.group, self.consumer, *ids])
        )
        return [
            Delivery.parse(str(entry_id), _pairs(flat), int(deliveries))
            for entry_id, flat, deliveries in _as_list(answer)
        ]

    def heartbeat(self, entry_ids: Iterable[str]) -> int:
        ids = list(entry_ids)
        if not ids:
            return 0
        return int(self._heartbeat(keys=[self.stream], args=[self.group, self.consumer, *ids]))

    def finish(self, entry_ids: Iterable[str]) -> None:
        """Acknowledge, then delete, entries that were handled (all were delivered)."""
        ids = list(entry_ids)
        if not ids:
            return
        pipe = self.client.pipeline(transaction=True)
        pipe.xack(self.stream, self.group, *ids)
        pipe.xdel(self.stream, *ids)
        pipe.execute()

    def dead_letter(self, delivery: Delivery, reason: str, *, now: float, maxlen: int) -> None:
        fields = {
            **delivery.fields,
            "entry_id": delivery.entry_id,
            "deliveries": str(delivery.deliveries),
            "reason": reason,
            "dead_at": repr(now),
        }
        args: list[Any] = [self.group, delivery.entry_id, maxlen]
        for name, value in fields.items():
            args += [name, value]
        self._dead_letter(keys=[self.stream, self.dead_letter_stream], args=args)

    def outstanding_ids(self, limit: int = 100_000) -> set[str]:
        """Container ids named by entries still in the stream (undelivered or in hand)."""
        ids: set[str] = set()
        start = "-"
        seen = 0
        while seen < limit:
            page = self.client.xrange(self.stream, min=start, max="+", count=1000)
            if not page:
                break
            for _entry_id, fields in page:
                if fields and fields.get("id"):
                    ids.add(str(fields["id"]))
            seen += len(page)
            start = "(" + str(page[-1][0])
            if len(page) < 1000:
                break
        return ids

    def tick(self, *, now: float, min_idle: float, reconcile_interval: float) -> str:
        return str(
            self._tick(
                keys=[self.stream, keys.EXPIRY_INDEX, keys.RECONCILED_AT, keys.LINE_DEADLINES],
                args=[self.group, repr(now), int(min_idle * 1000), reconcile_interval],
            )
        )

    def mark_reconciled(self, now: float, ttl: int) -> None:
        self.client.set(keys.RECONCILED_AT, repr(now), ex=ttl)

    def forget_consumer(self, consumer: str | None = None) -> bool:
        return bool(self._forget(keys=[self.stream], args=[self.group, consumer or self.consumer]))

    def idle_consumers(self, older_than: float) -> list[str]:
        """Consumers of the group that hold nothing and have been idle `older_than` s."""
        try:
            consumers = self.client.xinfo_consumers(self.stream, self.group)
        except redis.ResponseError:
            return []
        return [
            str(c["name"])
            for c in consumers
            if int(c.get("pending", 0)) == 0 and int(c.get("idle", 0)) >= older_than * 1000
        ]

    def group_info(self) -> dict[str, Any]:
        for info in self.client.xinfo_groups(self.stream):
            if info["name"] == self.group:
                return dict(info)
        return {}
