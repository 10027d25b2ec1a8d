"""Runtime settings of the simulated cluster: timings, node capacity and injected faults.

The same model backs the CLI flags, the ``Simulator(...)`` constructor and the admin endpoint
``POST /_sim/config`` (which merges a partial JSON object into the current settings), so every
knob is validated in one place.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .quantity import QuantityError, parse_quantity

FaultCode = Literal[429, 500, 503, 504]
Verb = Literal["create", "get", "list", "watch", "delete"]

NonNegative = Annotated[float, Field(ge=0)]
Fraction01 = Annotated[float, Field(ge=0, le=1)]


def _default_error_codes() -> list[FaultCode]:
    return [500, 503, 429]


class SimConfig(BaseModel):
    """Everything a test or benchmark may change while the simulator runs."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # Pod lifecycle timings, in seconds.
    start_delay: NonNegative = Field(
        default=0.5,
        description="ContainerCreating -> Running (or -> the failure the pod is set up for).",
    )
    schedule_delay: NonNegative = Field(
        default=0.0, description="Pending (unscheduled) -> bound to the node."
    )
    backoff_delay: NonNegative = Field(
        default=0.2,
        description="ErrImagePull -> ImagePullBackOff, and the base of CrashLoopBackOff.",
    )
    deletion_delay: NonNegative = Field(
        default=0.2, description="How long a gracefully deleted pod keeps its deletionTimestamp."
    )
    deadline_scale: Annotated[float, Field(gt=0)] = Field(
        default=1.0, description="Multiplies spec.activeDeadlineSeconds (0.1: 60 s last 6 s)."
    )

    # The single simulated node.
    node_cpu: str = Field(default="4", description="Allocatable CPU of the node.")
    node_memory: str = Field(default="8Gi", description="Allocatable memory of the node.")
    node_pods: Annotated[int, Field(ge=0)] = Field(default=110, description="Max pods on it.")

    # Fault injection, applied to API requests (never to /_sim/* or health probes).
    latency_ms: NonNegative = Field(default=0.0, description="Added to every API request.")
    jitter_ms: NonNegative = Field(default=0.0, description="Plus uniform 0..jitter_ms.")
    error_rate: Fraction01 = Field(default=0.0, description="Share of requests that fail.")
    error_codes: list[FaultCode] = Field(
        default_factory=_default_error_codes,
        min_length=1,
        description="Codes injected failures use (429 comes with Retry-After).",
    )
    retry_after_seconds: Annotated[int, Field(ge=0)] = Field(
        default=1, description="Retry-After of injected 429s."
    )
    error_after_commit: Fraction01 = Field(
        default=0.0,
        description="Share of injected errors on writes that are returned after the write was "
        "applied (a lost response), so a retry sees AlreadyExists/NotFound.",
    )
    fail_next: Annotated[int, Field(ge=0)] = Field(
        default=0, description="The next N matching requests fail (cycling through error_codes)."
    )
    fault_verbs: list[Verb] | None = Field(
        default=None, description="Only these verbs get faults (all when unset)."
    )
    fault_resources: list[str] | None = Field(
        default=None, description="Only these resources get faults (all when unset)."
    )
    seed: int | None = Field(
        default=None, description="Seeds the fault dice; set it for repeatable runs."
    )

    @field_validator("node_cpu", "node_memory")
    @classmethod
    def _must_be_quantity(cls, value: str) -> str:
        try:
            parse_quantity(value)
        except QuantityError as error:
            raise ValueError(str(error)) from error
        return value

    def updated(self, changes: dict[str, object]) -> SimConfig:
        """A validated copy with ``changes`` applied (unknown keys are rejected)."""
        merged = self.model_dump()
        merged.update(changes)
        return SimConfig.model_validate(merged)
