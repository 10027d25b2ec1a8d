"""Every Redis key Sprout writes, in one place.

Container records, indexes and the waiting line carry a TTL; the stream, the dead-letter
stream and the expiry index have none and are trimmed by design (the worker deletes what it
processed; the reaper removes what it reaped).
"""

from __future__ import annotations

PREFIX = "sprout:"

STREAM = "container_events"
DEAD_LETTER_STREAM = "container_events:dead"
WORKER_GROUP = "workers"

EXPIRY_INDEX = f"{PREFIX}expiry"  # zset container id -> expires_at, all live containers
RECORD_PREFIX = f"{PREFIX}c:"  # hash per container
LIVE_BY_OWNER_PREFIX = f"{PREFIX}live:owner:"  # set of live container ids per owner
LIVE_BY_CLIENT_PREFIX = f"{PREFIX}live:client:"  # set of live container ids per address
LIVE_BY_NETWORK_PREFIX = f"{PREFIX}live:network:"  # set of live container ids per network
# The waiting line (see `shared.line`): each key's TTL outlasts the longest place.
LINE_RING = f"{PREFIX}line:ring"  # list of networks with places, in serving order
LINE_NETWORK_PREFIX = f"{PREFIX}line:net:"  # zset per network: waiting ids by when they joined
LINE_DEADLINES = f"{PREFIX}line:deadlines"  # zset: every waiting id by when its place lapses
LINE_RELEASES = f"{PREFIX}line:releases"  # zset: the last slot releases (for the ETA)
LINE_SETTINGS = f"{PREFIX}line:settings"  # hash: capacity, TTLs (the worker promotes with them)
RECONCILED_AT = f"{PREFIX}worker:reconciled_at"  # string: epoch s of the last reconcile (TTL)
# hash: Prometheus series -> total, summed by every worker job; each flush renews its TTL
# (a week), so it goes only after a week without jobs (Prometheus takes that as a reset)
WORKER_METRICS = f"{PREFIX}metrics:worker"


def record(container_id: str) -> str:
    return RECORD_PREFIX + container_id


def owner_index(owner: str) -> str:
    return f"{PREFIX}owner:{owner}"  # zset container id -> created_at


def live_by_owner(owner: str) -> str:
    return LIVE_BY_OWNER_PREFIX + owner


def live_by_client(client: str) -> str:
    return LIVE_BY_CLIENT_PREFIX + client


def live_by_network(network: str) -> str:
    return LIVE_BY_NETWORK_PREFIX + network


def creates_by_client(client: str) -> str:
    return f"{PREFIX}rl:creates:{client}"  # zset of create timestamps (sliding window)


def line_network(network: str) -> str:
    return LINE_NETWORK_PREFIX + network


def creates_by_network(network: str) -> str:
    return f"{PREFIX}rl:netcreates:{network}"  # zset of create timestamps (sliding window)


def pow_creates_by_client(client: str) -> str:
    return f"{PREFIX}rl:powcreates:{client}"


def challenges_by_client(client: str) -> str:
    return f"{PREFIX}rl:challenges:{client}"  # zset of challenge timestamps (sliding window)


def captcha_pass(token_hash: str) -> str:
    return f"{PREFIX}captcha:pass:{token_hash}"


def captcha_challenge(challenge_id: str) -> str:
    return f"{PREFIX}captcha:challenge:{challenge_id}"  # hash: the answer, its binding, TTL ~120 s


def captcha_failures(client: str) -> str:
    return f"{PREFIX}captcha:failures:{client}"  # zset of failed-attempt timestamps (window)


def captcha_network_failures(network: str) -> str:
    return f"{PREFIX}captcha:netfailures:{network}"  # zset of failed-attempt timestamps (window)
