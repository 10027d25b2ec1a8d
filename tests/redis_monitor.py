"""Count the commands clients send to Redis (round trips), with MONITOR."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis


@contextmanager
def sent_commands(url: str) -> Iterator[list[str]]:
    """Collect the commands clients send while the block runs (not those run inside scripts)."""
    seen: list[str] = []
    marker = f"monitor-end-{uuid.uuid4().hex}"
    watcher = redis.Redis.from_url(url, decode_responses=True)
    started = threading.Event()

    def watch() -> None:
        with watcher.monitor() as monitor:
            started.set()
            while True:
                command = monitor.next_command()
                text = str(command["command"])
                if marker in text:
                    return
                if command.get("client_type") != "lua" and not text.startswith("MONITOR"):
                    seen.append(text)

    # The connection that ends the watch is opened before it, so its handshake is not seen.
    probe = redis.Redis.from_url(url, decode_responses=True)
    probe.ping()
    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    started.wait(5)
    try:
        yield seen
    finally:
        probe.echo(marker)
        thread.join(10)
        probe.close()
        watcher.close()
