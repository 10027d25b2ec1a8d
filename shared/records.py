"""Container records: how they are stored in Redis and shown to their owner.

A record is a Redis hash (see `keys.record`) with a TTL. How it changes, and every script
that writes it, is `shared.lifecycle`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared import keys
from shared.models import Container

if TYPE_CHECKING:
    from shared.redis_client import Scripts

PHASES = frozenset({"waiting", "queued", "creating", "starting"})  # what a pending one shows


@dataclass(frozen=True)
class Record:
    id: str
    template: str
    state: str
    phase: str
    owner: str
    client: str
    network: str
    access: str
    created_at: float
    updated_at: float
    started_at: float | None
    expires_at: float
    url: str
    error: str
    request_id: str
    # While waiting in line: where it stands and when it should get its slot (computed by the
    # script that read it, never stored).
    position: int | None = None
    eta: int | None = None

    @classmethod
    def from_hash(cls, fields: Mapping[Any, Any]) -> Record:
        return cls(
            id=str(fields["id"]),
            template=str(fields.get("template", "")),
            state=str(fields.get("state", "pending")),
            phase=str(fields.get("phase", "")),
            owner=str(fields.get("owner", "")),
            client=str(fields.get("client", "")),
            network=str(fields.get("network", "")),
            access=str(fields.get("access", "slider")),
            created_at=float(fields.get("created_at", 0)),
            updated_at=float(fields.get("updated_at", 0)),
            started_at=float(fields["started_at"]) if fields.get("started_at") else None,
            expires_at=float(fields.get("expires_at", 0)),
            url=str(fields.get("url", "")),
            error=str(fields.get("error", "")),
            request_id=str(fields.get("request_id", "")),
            position=int(fields["position"]) if fields.get("position") else None,
            eta=int(fields["eta"]) if fields.get("eta") is not None else None,
        )

    def to_api(self) -> Container:
        waiting = self.state == "pending" and self.phase == "waiting"
        return Container(
            id=self.id,
            template=self.template,
            state=self.state,  # type: ignore[arg-type]
            phase=self.phase if self.state == "pending" and self.phase in PHASES else None,  # type: ignore[arg-type]
            position=self.position if waiting else None,
            eta_seconds=self.eta if waiting else None,
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
