"""The script connections: one per thread, writes never re-sent, reads healed after a restart.

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
    # The threads wait here until their connections are counted: a thread's goes with it.
    counted = threading.Barrier(4)

    def run_one(number: int) -> None:
        name = f"script-thread-{number}"
        scripts.command("CLIENT", "SETNAME", name)
        scripts.run(scripts.list, [keys.owner_index(OWNER)], ["sprout:c:", 10])
        names.append(str(scripts.command("CLIENT", "GETNAME")))
        counted.wait(timeout=10)
        counted.wait(timeout=10)

    threads = [threading.Thread(target=run_one, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    counted.wait(timeout=10)  # all three have run their commands
    connections = len(redis_client.client_list())
    counted.wait(timeout=10)
    for thread in threads:
        thread.join()
    # Each thread found its own name on the connection its script ran on.
    assert sorted(names) == [f"script-thread-{n}" for n in range(3)]
    assert connections == before + 3


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
    kill_script_connections(admin)
    thread.join(timeout=10)
    return raised[0]


def test_a_write_broken_mid_command_is_not_sent_again(redis_client, scripts):
    before = calls(redis_client, "blpop")
    error = break_while_blocked(
        redis_client, lambda: scripts.command("BLPOP", "sprout:test:queue", 5)
    )
    assert isinstance(error, redis.exceptions.ConnectionError)
    # The reply was lost: it may have been applied, so it is not sent a second time.
    assert calls(redis_client, "blpop") - before == 1


def test_an_idempotent_read_broken_mid_command_is_sent_once_more(redis_client, scripts):
    redis_client.xadd("sprout:test:stream", {"n": "1"})
    before = calls(redis_client, "xread")
    answers: list[Any] = []
    error = break_while_blocked(
        redis_client,
        lambda: answers.append(
            scripts.command("XREAD", "BLOCK", 300, "STREAMS", "sprout:test:stream", "$",
                            idempotent=True)
        ),
    )  # fmt: skip
    assert error is None and answers == [None]  # the second try timed out as the first would
    assert calls(redis_client, "xread") - before == 2


def test_a_connection_redis_closed_is_replaced_before_a_write(redis_client, scripts):
    scripts.command("PING")
    assert kill_script_connections(redis_client) == 1  # as a restart of Redis would
    before = calls(redis_client, "incr")
    assert scripts.command("INCR", "sprout:test:counter") == 1
    assert calls(redis_client, "incr") - before == 1


def test_an_idempotent_script_heals_a_dead_connection_without_an_error(make_context, redis_client):
    ctx = make_context()
    assert list_for(ctx, OWNER).containers == []  # the thread's connection is open
    assert kill_script_connections(redis_client) >= 1
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


def test_an_unreachable_redis_is_a_connection_error_for_reads_and_writes():
    scripts = Scripts(connect(f"redis://127.0.0.1:{free_port()}/0", timeout=0.5))
    try:
        for idempotent in (False, True):
            with pytest.raises(redis.exceptions.ConnectionError):
                scripts.command("INCR", "sprout:test:counter", idempotent=idempotent)
    finally:
        scripts.close()


def test_a_redis_that_stops_answering_is_a_timeout(redis_client, redis_server):
    scripts = Scripts(connect(redis_server.url, timeout=0.3))
    try:
        scripts.command("PING")  # connected: the limit is the kernel's from here on
        redis_client.execute_command("CLIENT", "PAUSE", 1500, "ALL")
        started = time.monotonic()
        with pytest.raises(redis.exceptions.TimeoutError, match="did not answer in time"):
            scripts.command("INCR", "sprout:test:counter")
        assert time.monotonic() - started < 1.0
        time.sleep(max(0.0, 1.6 - (time.monotonic() - started)))
        assert scripts.command("PING") == "PONG"  # and a new connection works once it answers
    finally:
        scripts.close()


def test_a_connection_with_a_python_timeout_is_set_up_again_not_waited_on(scripts):
    scripts.command("PING")
    connection = scripts._connection()
    assert connection._sock is not None
    connection._sock.settimeout(2.0)  # as a socket redis-py connected by itself would have
    started = time.monotonic()
    assert scripts.command("PING") == "PONG"
    assert time.monotonic() - started < 0.5  # a peek on it would have waited 2 s
    assert connection._sock.gettimeout() is None  # the kernel keeps the limit again
