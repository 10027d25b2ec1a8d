"""Container records: how they are stored in Redis and how they change state.

A record is a Redis hash (see `keys.record`) with a TTL. The API writes it on create and
delete (in `scripts.CREATE` / `scripts.DELETE`); the worker moves it through the rest of its
life with `transition`, which is atomic and checks the state it expects to find.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared import keys
from shared.models import Container
from shared.redis_client import Scripts

LIVE_STATES = frozenset({"pending", "running"})
TERMINAL_STATES = frozenset({"failed", "deleted"})
PHASES = frozenset({"queued", "creating", "starting"})


@dataclass(frozen=True)
class Record:
    id: str
    template: str
    state: str
    phase: str
    owner: str
    client: str
    access: str
    created_at: float
    updated_at: float
    started_at: float | None
    expires_at: float
    url: str
    error: str
    request_id: str

    @classmethod
    def from_hash(cls, fields: Mapping[Any, Any]) -> Record:
        return cls(
            id=str(fields["id"]),
            template=str(fields.get("template", "")),
            state=str(fields.get("state", "pending")),
            phase=str(fields.get("phase", "")),
            owner=str(fields.get("owner", "")),
            client=str(fields.get("client", "")),
            access=str(fields.get("access", "slider")),
            created_at=float(fields.get("created_at", 0)),
            updated_at=float(fields.get("updated_at", 0)),
            started_at=float(fields["started_at"]) if fields.get("started_at") else None,
            expires_at=float(fields.get("expires_at", 0)),
            url=str(fields.get("url", "")),
            error=str(fields.get("error", "")),
            request_id=str(fields.get("request_id", "")),
        )

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES

    def to_api(self) -> Container:
        return Container(
            id=self.id,
            template=self.template,
            state=self.state,  # type: ignore[arg-type]
            phase=self.phase if self.state == "pending" and self.phase in PHASES else None,  # type: ignore[arg-type]
            url=(self.url or None) if self.state == "running" else None,
            created_at=self.created_at,
            updated_at=self.updated_at,
            started_at=self.started_at,
            expires_at=self.expires_at,
            error=(self.error or None) if self.state == "failed" else None,
        )


def load(scripts: Scripts, container_id: str) -> Record | None:
    fields = scripts.client.hgetall(keys.record(container_id))
    return Record.from_hash(fields) if fields else None


class TransitionRefused(Exception):
    """The record is gone, or not in a state this move may start from."""

    def __init__(self, code: str, state: str | None = None) -> None:
        super().__init__(f"{code} (state {state})" if state else code)
        self.code = code
        self.state = state


def transition(
    scripts: Scripts,
    container_id: str,
    new_state: str,
    *,
    now: float,
    expected: frozenset[str] | set[str] | None = None,
    **fields: str | float | None,
) -> Record:
    """Atomically move a record to `new_state` (only from `expected`), setting `fields` too."""
    args: list[Any] = [
        repr(now),
        new_state,
        ",".join(sorted(expected)) if expected else "",
        keys.LIVE_BY_CLIENT_PREFIX,
        keys.LIVE_BY_OWNER_PREFIX,
    ]
    for name, value in fields.items():
        args += [name, "" if value is None else value]
    answer = scripts.run(scripts.transition, [keys.record(container_id), keys.EXPIRY_INDEX], args)
    if not answer["ok"]:
        raise TransitionRefused(answer["code"], answer.get("state"))
    return Record.from_hash(answer["record"])
