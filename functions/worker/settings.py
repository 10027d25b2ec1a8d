"""The worker's settings (`SPROUT_WORKER_*`), built once when a job starts.

Redis (`SPROUT_REDIS_URL`), the published URLs (`SPROUT_BASE_DOMAIN`, `SPROUT_URL_SCHEME`) and
the templates (`SPROUT_TEMPLATES`) come from the shared settings classes, so each value has one
variable for every process. The worker never needs the API's secret key.
"""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SPROUT_WORKER_", extra="ignore")

    # Where the containers go.
    namespace: str = Field(default="sprout", pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    kubeconfig: str | None = Field(
        default=None, description="Path of a kubeconfig; unset: the in-cluster service account"
    )
    kube_context: str | None = Field(default=None, description="Context in the kubeconfig")
    ingress_class: str = "traefik"
    tls_secret: str = Field(
        default="sprout-wildcard-tls", description="Secret holding the wildcard certificate"
    )

    # How much at once.
    batch_size: int = Field(default=50, ge=1, le=1000, description="Entries per XREADGROUP")
    max_in_flight: int = Field(
        default=200,
        ge=1,
        le=1000,
        description="Entries held at once (a thread each, making its calls, waiting for its pod)",
    )
    api_rate: float = Field(default=20.0, gt=0, description="Kubernetes API calls per second")

    # Kubernetes calls, and delivering an entry again after a temporary error.
    api_timeout: float = Field(default=10.0, gt=0, description="Seconds per API request")
    backoff_base: float = Field(default=0.5, gt=0, description="First retry delay, seconds")
    backoff_max: float = Field(default=10.0, gt=0, description="Longest retry delay, seconds")
    ready_deadline: float = Field(
        default=180.0, gt=0, description="Seconds a pod may take to become ready"
    )
    watch_timeout: int = Field(default=60, ge=1, description="Server-side watch timeout, seconds")

    # The stream.
    max_deliveries: int = Field(
        default=8, ge=1, description="Then dead-letter (with the backoff: about 30 s of tries)"
    )
    claim_min_idle: float = Field(
        default=30.0,
        gt=0,
        description="Seconds an entry must sit unheartbeaten before another job takes it over",
    )
    linger: float = Field(
        default=1.0, ge=0, description="Seconds to wait for new entries before exiting"
    )
    dead_letter_maxlen: int = Field(default=10_000, ge=100)

    # The job and the reconciler.
    max_run_time: float = Field(
        default=600.0, gt=0, description="Stop reading new entries after this many seconds"
    )
    redis_outage_grace: float = Field(
        default=60.0,
        ge=0,
        description="Seconds a job waits out Redis being unreachable before it exits",
    )
    reconcile_interval: float = Field(
        default=300.0, gt=0, description="Reconcile at least this often (via the tick)"
    )
    lost_after: float = Field(
        default=120.0,
        gt=0,
        description="A pending/deleting record untouched this long with no entry was lost",
    )

    log_level: str = Field(default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")

    @model_validator(mode="after")
    def _consistent(self) -> WorkerSettings:
        if self.lost_after <= self.claim_min_idle:
            raise ValueError("lost_after must be longer than claim_min_idle")
        return self

    @property
    def heartbeat_interval(self) -> float:
        """How often a job refreshes the idle time of the entries it holds."""
        return self.claim_min_idle / 3
