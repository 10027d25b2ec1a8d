"""The Redis clients: writes never sent twice, reads sent again, a restart survived.

A broken connection is made real: Redis itself closes it (`CLIENT KILL`), as it would by
restarting. Nothing here is mocked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from deploy.local.redis_server import free_port
from shared import keys
from shared.containers import list_for
from shared.redis_client import Scripts

OWNER = "o" * 32


@pytest.fixture
def scripts(redis_server) -> Iterator[Scripts]:
    made = Scripts.connect(redis_server.url)
    yield made
    made.close()


def kill_client_connections(admin: redis.Redis) -> int:
    """Close every client connection but the admin's own, from the server side."""
    return int(admin.client_kill_filter(skipme=True, _type="normal"))


def calls(admin: redis.Redis, command: str) -> int:
    return int(admin.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0))


def break_while_blocked(admin: redis.Redis, run: Callable[[], Any]) -> BaseException | None:
    """Run a blocking command in a thread and have Redis close its connection mid-command:
    the request went out, its reply never comes. Returns what the command raised."""
    raised: list[BaseException | None] = [None]

    def call() -> None:
        try:
            run()
        except BaseException as error:
            raised[0] = error

    thread = threading.Thread(target=call)
    thread.start()
    deadline = time.monotonic() + 5
    while not any(c.get("cmd") in ("blpop", "xread") for c in admin.client_list()):
        assert time.monotonic() < deadline, "the command never blocked"
        time.sleep(0.01)
    kill_client_connections(admin)
    thread.join(timeout=10)
    return raised[0]


def test_a_write_broken_mid_command_is_not_sent_again(redis_client, scripts):
    before = calls(redis_client, "blpop")
    error = break_while_blocked(redis_client, lambda: scripts.client.blpop(["sprout:test:q"], 5))
    assert isinstance(error, redis.exceptions.ConnectionError)
    # The reply was lost: it may have been applied, so it is not sent a second time.
    assert calls(redis_client, "blpop") - before == 1


def test_a_read_broken_mid_command_is_sent_once_more(redis_client, scripts):
    redis_client.xadd("sprout:test:stream", {"n": "1"})
    before = calls(redis_client, "xread")
    answers: list[Any] = []
    error = break_while_blocked(
        redis_client,
        lambda: answers.append(scripts.reader.xread({"sprout:test:stream": "$"}, block=300)),
    )
    assert error is None and answers == [[]]  # the second try timed out as the first would
    assert calls(redis_client, "xread") - before == 2


def test_scripts_that_write_run_on_the_client_that_never_sends_twice(scripts):
    assert scripts.client.get_retry().get_retries() == 0
    assert scripts.reader.get_retry().get_retries() > 0
    assert Scripts(scripts.client).reader is scripts.client  # without a reader: never twice


def test_a_connection_redis_closed_is_replaced_before_a_write(redis_client, scripts):
    scripts.client.ping()
    assert kill_client_connections(redis_client) >= 1  # as a restart of Redis would
    before = calls(redis_client, "incrby")
    assert scripts.client.incrby("sprout:test:counter", 1) == 1
    assert calls(redis_client, "incrby") - before == 1


def test_an_idempotent_script_heals_a_dead_connection_without_an_error(make_context, redis_client):
    ctx = make_context()
    assert list_for(ctx, OWNER).containers == []  # the pool's connection is open
    assert kill_client_connections(redis_client) >= 1
    assert list_for(ctx, OWNER).containers == []


def test_a_script_lost_by_redis_is_loaded_again(redis_client, scripts):
    assert scripts.run(scripts.list, [keys.owner_index(OWNER)], ["sprout:c:", 10]) == []
    redis_client.script_flush()  # what a restart without persistence of scripts does
    assert scripts.run(scripts.list, [keys.owner_index(OWNER)], ["sprout:c:", 10]) == []


def test_concurrent_scripts_each_get_their_own_answer_on_pooled_connections(redis_client, scripts):
    owners = [f"{n:032d}" for n in range(8)]
    for n, owner in enumerate(owners):  # owner n has n records of its own
        for i in range(n):
            redis_client.zadd(keys.owner_index(owner), {f"c{n}x{i}": i})
            redis_client.hset(keys.record(f"c{n}x{i}"), mapping={"id": f"c{n}x{i}"})
    answers: dict[int, list[Any]] = {n: [] for n in range(len(owners))}

    def ask(n: int) -> None:
        for _ in range(30):
            answers[n].append(
                scripts.run(scripts.list, [keys.owner_index(owners[n])], [keys.RECORD_PREFIX, 50])
            )

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(len(owners))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for n, got in answers.items():
        assert got == [[{"id": f"c{n}x{i}"} for i in reversed(range(n))]] * 30, n
    opened = len(redis_client.client_list())
    scripts.run(scripts.list, [keys.owner_index(owners[0])], [keys.RECORD_PREFIX, 50])
    assert len(redis_client.client_list()) == opened  # a pooled connection, not a new one


def test_a_script_error_leaves_the_connection_usable(redis_client, scripts):
    scripts.client.ping()
    opened = len(redis_client.client_list())
    redis_client.set("sprout:test:text", "not a number")
    with pytest.raises(redis.exceptions.ResponseError):
        scripts.client.incr("sprout:test:text")
    assert scripts.client.ping() is True
    assert len(redis_client.client_list()) == opened


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


def test_an_unreachable_redis_is_a_connection_error_for_reads_and_writes():
    scripts = Scripts.connect(f"redis://127.0.0.1:{free_port()}/0", timeout=0.5)
    try:
        for client in (scripts.client, scripts.reader):
            with pytest.raises(redis.exceptions.ConnectionError):
                client.incr("sprout:test:counter")
    finally:
        scripts.close()


def test_a_redis_that_stops_answering_is_a_timeout(redis_client, redis_server):
    scripts = Scripts.connect(redis_server.url, timeout=0.3)
    try:
        scripts.client.ping()  # connected
        redis_client.execute_command("CLIENT", "PAUSE", 1500, "ALL")
        started = time.monotonic()
        with pytest.raises(redis.exceptions.TimeoutError):
            scripts.client.incr("sprout:test:counter")
        assert time.monotonic() - started < 1.0
        while True:  # a new connection works once Redis answers again
            try:
                assert scripts.client.ping() is True
                break
            except redis.exceptions.TimeoutError:
                assert time.monotonic() - started < 10, "Redis never answered again"
    finally:
        scripts.close()
