"""Redis connections and the registered Lua scripts.

One client per process, made on first use (never at import). Scripts run with EVALSHA and
fall back to EVAL once when Redis has lost them (after a restart).

Scripts run on a connection of their own per thread rather than through the client's pool:
the pool's bookkeeping (locks, retries, events, metrics) costs as much CPU as the round trip
itself, and every request is one script. No script is ever re-sent after a connection error:
a create whose reply was lost may have been applied, and sending it again would answer the
visitor 403 (pass token used) for a container they do have. The error goes up as a 503.

On those connections the kernel keeps the time limit (SO_RCVTIMEO / SO_SNDTIMEO) rather than
Python: a socket with a Python timeout polls before every send and every receive, and each
system call lets go of the GIL, which a thread handing requests to 15 others pays for twice.
"""

from __future__ import annotations

import socket
import ssl
import struct
import threading
import weakref
from typing import Any, Protocol, cast

import pydantic_core
import redis
from redis.commands.core import Script

from shared import lifecycle, scripts


def connect(url: str, *, timeout: float = 2.0) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
        retry_on_timeout=False,
    )


class _Connection(Protocol):
    """The part of redis-py's `Connection` the scripts use (its own methods are untyped)."""

    _sock: socket.socket | None  # redis-py's socket, None until connected
    socket_timeout: float | None

    def connect(self) -> None: ...
    def send_command(self, *words: Any) -> None: ...
    def read_response(self) -> Any: ...
    def can_read(self, timeout: float = 0) -> bool: ...
    def disconnect(self) -> None: ...


class Scripts:
    """The project's Lua scripts, registered on one client, and the connections they run on."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.create = client.register_script(lifecycle.CREATE)
        self.delete = client.register_script(lifecycle.DELETE)
        self.move = client.register_script(lifecycle.MOVE)
        self.reap = client.register_script(lifecycle.REAP)
        self.requeue = client.register_script(lifecycle.REQUEUE)
        self.list = client.register_script(scripts.LIST)
        self.limits = client.register_script(scripts.LIMITS)
        self._local = threading.local()
        self._opened: weakref.WeakSet[Any] = weakref.WeakSet()  # a thread's goes with it

    def run(
        self, script: Script, keys: list[str], args: list[Any], *, idempotent: bool = False
    ) -> Any:
        """Run a script whose answer is JSON, and decode it. `idempotent`: see `command`."""
        words = [len(keys), *keys, *(str(a) for a in args)]
        try:
            answer = self.command("EVALSHA", script.sha, *words, idempotent=idempotent)
        except redis.exceptions.NoScriptError:
            answer = self.command("EVAL", script.script, *words, idempotent=idempotent)
        return pydantic_core.from_json(answer)  # a third of json.loads's time

    def command(self, *words: Any, idempotent: bool = False) -> Any:
        """One command on this thread's connection (the same one its scripts use).

        A connection Redis has closed is replaced before anything is sent. If it breaks
        while a command is on its way, an idempotent command (one that does no harm sent
        twice: a read, or a script whose only writes are clean-ups) is sent once more on a
        new connection; any other is not (see the module's docstring) and the error goes up.
        """
        try:
            return self._round_trip(words)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            if not idempotent:
                raise
            return self._round_trip(words)

    def hash(self, key: str) -> dict[str, str]:
        """HGETALL (idempotent), as a dict under RESP2 (a flat list) and RESP3 (a map) alike."""
        answer = self.command("HGETALL", key, idempotent=True)
        if isinstance(answer, list):
            return dict(zip(answer[::2], answer[1::2], strict=True))
        return dict(answer)

    def _round_trip(self, words: tuple[Any, ...]) -> Any:
        connection = self._connection()
        try:
            # A connection Redis closed (say, by restarting) since the last request is
            # replaced before anything is sent, so that even a write gets through.
            if not _open_and_quiet(connection):
                connection.disconnect()
                connection.connect()
                _kernel_timeouts(connection)
            connection.send_command(*words)
            return connection.read_response()
        except redis.exceptions.ResponseError:
            raise  # Redis answered with an error: the connection is fine
        except BaseException as error:
            # The reply may still be on its way: never read it as another command's.
            connection.disconnect()
            if isinstance(error.__context__, BlockingIOError):  # the kernel's time limit
                raise redis.exceptions.TimeoutError("Redis did not answer in time") from None
            raise

    def _connection(self) -> _Connection:
        connection: _Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            pool = self.client.connection_pool
            # No health-check PINGs: the peek before each command does that job, and redis-py
            # reconnecting on its own would skip `_kernel_timeouts`.
            options = {**pool.connection_kwargs, "health_check_interval": 0}
            connection = cast(_Connection, pool.connection_class(**options))
            self._local.connection = connection
            self._opened.add(connection)
        return connection

    def close(self) -> None:
        """Close every thread's connection and the client's pool."""
        for connection in list(self._opened):
            connection.disconnect()
        self.client.close()


_PEEK = socket.MSG_PEEK | socket.MSG_DONTWAIT


def _open_and_quiet(connection: _Connection) -> bool:
    """Connected, not closed by Redis, and holding no bytes nobody asked for (never a reply)."""
    sock = connection._sock
    if sock is None:
        return False
    if isinstance(sock, ssl.SSLSocket):  # TLS cannot peek: redis-py's check (a poll)
        try:
            return not connection.can_read(0)
        except redis.exceptions.ConnectionError:
            return False
    if sock.gettimeout() is not None:
        return False  # not set up by `_kernel_timeouts`: a peek would wait out the timeout
    try:
        sock.recv(1, _PEEK)  # b"" (closed) or stray bytes: either way, not this one
    except BlockingIOError:
        return True  # open, and nothing waiting: the usual case
    except OSError:
        return False
    return False


def _kernel_timeouts(connection: _Connection) -> None:
    """Move a fresh connection's time limit from Python into the kernel (module docstring).

    An expired limit then reads as EAGAIN, which `_round_trip` reports as a TimeoutError.
    """
    sock, timeout = connection._sock, connection.socket_timeout
    if sock is None or timeout is None or isinstance(sock, ssl.SSLSocket):
        return
    seconds = int(timeout)
    limit = struct.pack("ll", seconds, int((timeout - seconds) * 1_000_000))  # struct timeval
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, limit)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, limit)
    sock.settimeout(None)
