"""Redis connections and the registered Lua scripts.

One client per process, made on first use (never at import). Scripts run with EVALSHA and
fall back to EVAL once after a Redis restart (redis-py's `Script` does this).
"""

from __future__ import annotations

import json
from typing import Any

import redis

from shared import scripts


def connect(url: str, *, timeout: float = 2.0) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
        retry_on_timeout=False,
    )


class Scripts:
    """The project's Lua scripts, registered on one client."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.create = client.register_script(scripts.CREATE)
        self.delete = client.register_script(scripts.DELETE)
        self.list = client.register_script(scripts.LIST)
        self.limits = client.register_script(scripts.LIMITS)
        self.transition = client.register_script(scripts.TRANSITION)

    @staticmethod
    def run(script: Any, keys: list[str], args: list[Any]) -> Any:
        """Run a script whose answer is JSON, and decode it."""
        return json.loads(script(keys=keys, args=[str(a) for a in args]))
