"""Redis clients and the registered Lua scripts.

`connect` makes a redis-py client on a connection pool of its own that never sends a command
twice. `Scripts` holds the project's scripts and two clients that differ in that one thing:

- `client` never sends again. A script that writes, sent again after its connection broke
  with the reply on its way, may be applied twice: a create that was applied would then
  answer the visitor 403 (pass token used) for a container they do have. The error goes up
  and the visitor gets a 503.
- `reader` sends again, with backoff (redis-py's `Retry`), for commands that do no harm twice:
  reads, and scripts whose only writes are clean-ups.

Either way redis-py's pool checks each connection it hands out and replaces one that Redis
closed (say, by restarting) before anything is sent on it, so even a write gets through after
a restart. Scripts run as EVALSHA; redis-py's `Script` loads one again when Redis has lost it
(NOSCRIPT), so a request is one round trip.
"""

from __future__ import annotations

import json
from typing import Any, cast

import redis
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.commands.core import Script
from redis.retry import Retry

from shared import lifecycle, scripts

NEVER_AGAIN = Retry(NoBackoff(), retries=0)
# Once more, 20 ms later: that heals a connection that broke (Redis restarted, or closed it)
# without keeping a visitor waiting while Redis is down (a 503 then comes at once).
READ_RETRY = Retry(ExponentialBackoff(cap=0.1, base=0.01), retries=1)


def connect(url: str, *, timeout: float = 2.0, retry: Retry = NEVER_AGAIN) -> redis.Redis:
    """A client on a pool of its own; by default it never sends a command twice.

    `timeout` bounds connecting and each answer: a Redis that stops answering is a
    `TimeoutError` after that long. No health-check PINGs: the pool's check of each
    connection it hands out finds a closed one without a round trip.
    """
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=retry,
        health_check_interval=0,
    )


class Scripts:
    """The project's Lua scripts, and the clients they run on (module docstring).

    `reader` defaults to `client`: nothing is sent twice, which is always safe.
    """

    def __init__(self, client: redis.Redis, reader: redis.Redis | None = None) -> None:
        self.client = client
        self.reader = reader or client
        self.create = client.register_script(lifecycle.CREATE)
        self.delete = client.register_script(lifecycle.DELETE)
        self.move = client.register_script(lifecycle.MOVE)
        self.reap = client.register_script(lifecycle.REAP)
        self.requeue = client.register_script(lifecycle.REQUEUE)
        self.list = client.register_script(lifecycle.LIST)
        self.read = client.register_script(lifecycle.READ)
        self.limits = client.register_script(scripts.LIMITS)

    def run(
        self, script: Script, keys: list[str], args: list[Any], *, idempotent: bool = False
    ) -> Any:
        """Run a script whose answer is JSON, and decode it. `idempotent`: it does no harm
        sent twice, so it goes on `reader`, which sends it again if its connection breaks."""
        answer = script(keys, [str(a) for a in args], self.reader if idempotent else self.client)
        return json.loads(answer)

    def hash(self, key: str) -> dict[str, str]:
        """HGETALL, on `reader`."""
        return cast(dict[str, str], self.reader.hgetall(key))  # decode_responses: all str

    @classmethod
    def connect(cls, url: str, *, timeout: float = 2.0) -> Scripts:
        return cls(connect(url, timeout=timeout), connect(url, timeout=timeout, retry=READ_RETRY))

    def close(self) -> None:
        """Close the clients' connections."""
        self.reader.close()
        self.client.close()
