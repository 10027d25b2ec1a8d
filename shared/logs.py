"""JSON logs, one object per line, carrying the request id of the work being done.

The HTTP layer sets the request id for each request; the create and delete scripts store it
in the record and the stream entry, and the worker sets it again while it handles that
entry, so one id follows a container from the API call through the stream into the worker.

A line holds `time` (UTC, milliseconds), `level`, `logger`, `message`, the `request_id` when
there is one, whatever the call passed as `extra=`, and `exception` with its traceback.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
import time
from collections.abc import Iterator
from typing import IO

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


class JsonFormatter(_JsonFormatter):
    converter = staticmethod(time.gmtime)  # `time` in UTC, as 2024-05-01T12:00:00.123Z
    default_time_format = "%Y-%m-%dT%H:%M:%S"
    default_msec_format = "%s.%03dZ"

    def __init__(self) -> None:
        super().__init__(
            "{asctime}{levelname}{name}{message}",
            style="{",
            rename_fields={
                "asctime": "time",
                "levelname": "level",
                "name": "logger",
                "exc_info": "exception",
            },
        )


class RequestIdFilter(logging.Filter):
    """Adds the current request id (the contextvar) to each record, when there is one."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = request_id.get()
        if current:
            record.request_id = current
        return True


def handler(stream: IO[str]) -> logging.Handler:
    """A handler writing JSON lines with request ids to `stream`."""
    made = logging.StreamHandler(stream)
    made.setFormatter(JsonFormatter())
    made.addFilter(RequestIdFilter())
    return made


@contextlib.contextmanager
def bound(current: str) -> Iterator[None]:
    """Log with `current` as the request id inside the block (this thread or task only)."""
    token = request_id.set(current)
    try:
        yield
    finally:
        request_id.reset(token)


def configure(level: str = "INFO") -> None:
    """Send this process's logs to stderr as JSON lines (once: later calls change nothing)."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    logging.basicConfig(handlers=[handler(sys.stderr)], level=level, force=True)
