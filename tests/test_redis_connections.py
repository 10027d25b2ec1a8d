"""The script connections: one per thread, writes never re-sent, reads healed after a restart.

A broken connection is made real: Redis itself closes it (`CLIENT KILL`), as it would by
restarting. Nothing here is mocked.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import redis

from shared import keys
from shared.containers import list_for
from shared.redis_client import Scripts, connect

OWNER = "o" * 32


@pytest.fixture
def scripts(redis_server) -> Iterator[Scripts]:
    made = Scripts(connect(redis_server.url))
    yield made
    made.close()


def kill_script_connections(admin: redis.Redis) -> int:
    """Close every client connection but the admin's own, from the server side."""
    return int(admin.client_kill_filter(skipme=True, _type="normal"))


def test_each_thread_runs_its_scripts_on_its_own_connection(redis_client, scripts):
    before = len(redis_client.client_list())
    names: list[str] = []

    def run_one(number: int) -> None:
        name = f"script-thread-{number}"
        scripts.command("CLIENT", "SETNAME", name)
        scripts.run(scripts.list, [keys.owner_index(OWNER)], ["sprout:c:", 10])
        names.append(str(scripts.command("CLIENT", "GETNAME")))

    threads = [threading.Thread(target=run_one, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Each thread found its own name on the connection its script ran on.
    assert sorted(names) == [f"script-thread-{n}" for n in range(3)]
    assert len(redis_client.client_list()) == before + 3


def test_a_write_is_never_sent_again_after_its_connection_breaks(redis_client, scripts):
    scripts.command("PING")
    assert kill_script_connections(redis_client) == 1
    stats_before = redis_client.info("commandstats")
    with pytest.raises(redis.exceptions.ConnectionError):
        scripts.command("INCR", "sprout:test:counter")
    # Sent at most once (here the dead socket took it and Redis never ran it): never twice.
    assert redis_client.get("sprout:test:counter") in (None, "1")
    incr = redis_client.info("commandstats").get("cmdstat_incr", {}).get("calls", 0)
    assert incr - stats_before.get("cmdstat_incr", {}).get("calls", 0) <= 1
    # The next call connects afresh.
    assert scripts.command("INCR", "sprout:test:other") == 1


def test_an_idempotent_script_heals_a_dead_connection_without_an_error(make_context, redis_client):
    ctx = make_context()
    assert list_for(ctx, OWNER).containers == []  # the thread's connection is open
    assert kill_script_connections(redis_client) >= 1
    # As after a Redis restart: the first attempt meets the dead socket, the second succeeds.
    assert list_for(ctx, OWNER).containers == []


def test_a_script_lost_by_redis_is_loaded_again(redis_client, scripts):
    assert scripts.run(scripts.list, [keys.owner_index(OWNER)], ["sprout:c:", 10]) == []
    redis_client.script_flush()  # what a restart without persistence of scripts does
    assert scripts.run(scripts.list, [keys.owner_index(OWNER)], ["sprout:c:", 10]) == []


def test_a_script_error_leaves_the_connection_usable(redis_client, scripts):
    scripts.command("CLIENT", "SETNAME", "kept")
    redis_client.set("sprout:test:text", "not a number")
    with pytest.raises(redis.exceptions.ResponseError):
        scripts.command("INCR", "sprout:test:text")
    assert scripts.command("CLIENT", "GETNAME") == "kept"


@pytest.mark.parametrize("protocol", [2, 3])
def test_a_hash_reads_the_same_in_both_protocols(redis_client, redis_server, protocol):
    redis_client.hset("sprout:test:hash", mapping={"state": "running", "url": "http://x"})
    client = redis.Redis.from_url(redis_server.url, decode_responses=True, protocol=protocol)
    scripts = Scripts(client)
    try:
        assert scripts.hash("sprout:test:hash") == {"state": "running", "url": "http://x"}
        assert scripts.hash("sprout:test:missing") == {}
    finally:
        scripts.close()
