"""JSON logs, one object per line, carrying the request id of the work being done.

The HTTP layer sets the request id for each request; the create and delete scripts store it
in the record and the stream entry, and the worker sets it again while it handles that
entry, so one id follows a container from the API call through the stream into the worker.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import logging
import sys
import time
from collections.abc import Iterator
from typing import Any

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": f"{_second(int(record.created))}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        current = request_id.get()
        if current:
            entry["request_id"] = current
        fields = record.__dict__
        for key in sorted(key for key in fields if key not in _STANDARD):  # what `extra=` added
            if not key.startswith("_"):
                entry[key] = fields[key]
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return _encode(entry)


# One encoder for every line: json.dumps(default=...) builds a new one on each call.
_encode = json.JSONEncoder(default=str).encode


@functools.lru_cache(maxsize=4)
def _second(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch))


@contextlib.contextmanager
def bound(current: str) -> Iterator[None]:
    """Log with `current` as the request id inside the block (this thread or task only)."""
    token = request_id.set(current)
    try:
        yield
    finally:
        request_id.reset(token)


def configure(level: str = "INFO") -> None:
    """Send this process's logs to stderr as JSON lines (idempotent)."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    # What a record gathers and our lines never show (the logging HOWTO's "Optimization"):
    # the caller's frame, thread, process and task are a good part of a request's log cost.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.handlers = [handler]
    root.setLevel(level)
