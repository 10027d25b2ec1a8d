"""Configuration: one settings class per concern, read from `SPROUT_*` variables.

Nothing reads the environment at import time: a process calls `load(SomeSettings)` once when
it starts (or on its first request) and keeps the result. Tests build the classes directly
with values. A missing or invalid value raises `ConfigError` naming the variable to set.
"""

from __future__ import annotations

import ipaddress
import json
from functools import cached_property
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.errors import ConfigError

MAX_LIFETIME_SECONDS = 24 * 3600


class RedisSettings(BaseSettings):
    """Where Redis is: needed by every process (the HTTP functions and the worker)."""

    model_config = SettingsConfigDict(env_prefix="SPROUT_", extra="ignore")

    redis_url: str = Field(description="Redis connection URL, e.g. redis://:password@redis:6379/0")
    redis_timeout: float = Field(
        default=2.0, gt=0, description="Seconds to connect to Redis, and to wait for each answer"
    )


class SiteSettings(BaseSettings):
    """Where containers are published: the worker writes these URLs, the page shows them."""

    model_config = SettingsConfigDict(env_prefix="SPROUT_", extra="ignore")

    base_domain: str = Field(default="sprout.localhost", description="Containers get <id>.<this>")
    url_scheme: str = Field(default="https", pattern="^https?$")
    url_port: int | None = Field(
        default=None, ge=1, le=65535, description="Port in container URLs (local runs only)"
    )

    def container_host(self, container_id: str) -> str:
        return f"{container_id}.{self.base_domain}"

    def container_url(self, container_id: str) -> str:
        port = f":{self.url_port}" if self.url_port else ""
        return f"{self.url_scheme}://{self.container_host(container_id)}{port}/"


class ApiSettings(RedisSettings, SiteSettings):
    """What every HTTP function needs: Redis, identity, client addresses, lifetimes."""

    model_config = SettingsConfigDict(env_prefix="SPROUT_", extra="ignore")

    secret_key: str = Field(
        min_length=32,
        description="Server secret that keys the hashes of owner secrets and client addresses",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="CIDRs whose X-Real-Ip header is believed (the Traefik pods), comma-separated",
    )
    cookie_secure: bool = Field(default=True, description="Mark the owner cookie Secure")
    container_lifetime: int = Field(default=3600, ge=60, le=MAX_LIFETIME_SECONDS)
    record_ttl: int = Field(default=24 * 3600, ge=3600, description="TTL of container records")
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    cluster_simulated: bool = Field(default=False, description="Shown on the page")

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_cidrs(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            ipaddress.ip_network(cidr, strict=False)
        return value

    @cached_property
    def proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in self.trusted_proxies)


class LimitSettings(BaseSettings):
    """Rate limits and quotas, per address, network, owner and in all (see `shared.limits`)."""

    model_config = SettingsConfigDict(env_prefix="SPROUT_LIMIT_", extra="ignore")

    creates_per_hour: int = Field(
        default=5, ge=1, description="Creates per client address per hour"
    )
    pow_creates_per_hour: int = Field(
        default=2, ge=1, description="Creates per address per hour via the proof-of-work-only path"
    )
    live_per_address: int = Field(default=3, ge=1)
    live_per_owner: int = Field(default=3, ge=1)
    challenges_per_minute: int = Field(default=20, ge=1)
    capacity: int = Field(default=100, ge=1, description="Live containers in the whole system")
    create_window: int = Field(default=3600, ge=1)
    challenge_window: int = Field(default=60, ge=1)
    # A network is the /24 (IPv4) or /48 (IPv6) around an address (an IPv6 address is its /64).
    # A network's quotas are never below one address's: they would make those meaningless.
    network_prefix_v4: int = Field(default=24, ge=8, le=32, description="IPv4 network prefix")
    network_prefix_v6: int = Field(default=48, ge=16, le=64, description="IPv6 network prefix")
    creates_per_network: int = Field(
        default=30, ge=1, description="Creates per network per hour (at least creates_per_hour)"
    )
    live_per_network: int = Field(
        default=20, ge=1, description="Live containers per network (at least live_per_address)"
    )
    network_share: float = Field(
        default=0.1,
        gt=0,
        le=1,
        description="The share of capacity one network may hold (at least live_per_address)",
    )

    @property
    def network_creates(self) -> int:
        return max(self.creates_per_network, self.creates_per_hour)

    @property
    def network_live(self) -> int:
        return max(self.live_per_network, self.live_per_address)

    @property
    def network_share_limit(self) -> int:
        # Rounded first: 0.29 x 100 is 28.999999999999996 in floating point.
        return max(self.live_per_address, int(round(self.capacity * self.network_share, 6)))


class CaptchaSettings(BaseSettings):
    """The slider CAPTCHA and its proof of work (DESIGN §9)."""

    model_config = SettingsConfigDict(env_prefix="SPROUT_CAPTCHA_", extra="ignore")

    challenge_ttl: int = Field(default=120, ge=10, le=3600, description="Seconds to solve one")
    pass_ttl: int = Field(default=120, ge=10, le=3600, description="Seconds a pass token lives")
    tolerance: int = Field(default=4, ge=0, le=20, description="Accepted offset error, px")
    min_solve_seconds: float = Field(
        default=0.5, ge=0, le=30, description="Faster answers (from issue to verify) are refused"
    )
    slider_difficulty: int = Field(
        default=18, ge=0, le=32, description="Proof-of-work bits with the puzzle"
    )
    pow_difficulty: int = Field(
        default=22, ge=0, le=32, description="Proof-of-work bits without the puzzle"
    )
    difficulty_step: int = Field(default=2, ge=0, le=8, description="Extra bits per failure")
    max_difficulty: int = Field(
        default=24, ge=0, le=32, description="Failures raise the difficulty up to this"
    )
    failure_window: int = Field(
        default=600, ge=1, description="Seconds a failed attempt counts as recent"
    )

    def difficulty(self, mode: str, failures: int) -> int:
        """Bits of proof of work for a new challenge, after `failures` recent failures."""
        base = self.pow_difficulty if mode == "pow" else self.slider_difficulty
        return max(base, min(self.max_difficulty, base + self.difficulty_step * failures))


class Template(BaseModel):
    """One allow-listed image a visitor may start."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")
    title: str
    description: str
    image: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    command: list[str] | None = None
    args: list[str] | None = None
    cpu: str = "250m"
    memory: str = "128Mi"
    ephemeral_storage: str = "256Mi"


DEFAULT_TEMPLATES: list[dict[str, Any]] = [
    {
        "name": "nginx",
        "title": "nginx",
        "description": "A static web server (unprivileged nginx) showing its welcome page.",
        "image": "nginxinc/nginx-unprivileged:1.27-alpine",
        "port": 8080,
    },
    {
        "name": "whoami",
        "title": "whoami",
        "description": "Echoes back the HTTP request it receives: headers, address, host.",
        "image": "traefik/whoami:v1.10",
        "port": 8080,
        "args": ["--port", "8080"],
        "cpu": "100m",
        "memory": "32Mi",
    },
    {
        "name": "python",
        "title": "Python file server",
        "description": "Python's built-in http.server listing an empty directory.",
        "image": "python:3.12-alpine",
        "port": 8080,
        "command": ["python", "-m", "http.server", "8080", "--directory", "/tmp"],
        "memory": "64Mi",
    },
    {
        "name": "hello",
        "title": "Hello app",
        "description": "Google's hello-app: answers with a greeting, its version and hostname.",
        "image": "us-docker.pkg.dev/google-samples/containers/gke/hello-app:2.0",
        "port": 8080,
        "cpu": "100m",
        "memory": "32Mi",
    },
]


class TemplateSettings(BaseSettings):
    """The template allow-list: `SPROUT_TEMPLATES` holds a JSON list, else the default set."""

    model_config = SettingsConfigDict(env_prefix="SPROUT_", extra="ignore")

    templates: list[Template] = Field(
        default_factory=lambda: [Template(**t) for t in DEFAULT_TEMPLATES], min_length=1
    )

    @field_validator("templates")
    @classmethod
    def _unique_names(cls, value: list[Template]) -> list[Template]:
        names = [t.name for t in value]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate template names: {', '.join(duplicates)}")
        return value

    def by_name(self) -> dict[str, Template]:
        return self._by_name

    @cached_property
    def _by_name(self) -> dict[str, Template]:
        return {t.name: t for t in self.templates}


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def load(cls: type[SettingsT], **values: Any) -> SettingsT:
    """Build a settings class from the environment (and `values`), or raise `ConfigError`."""
    try:
        return cls(**values)
    except ValidationError as exc:
        raise ConfigError(describe_errors(cls, exc)) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{cls.__name__}: a variable holds invalid JSON: {exc}") from None


def describe_errors(cls: type[BaseSettings], exc: ValidationError) -> str:
    prefix = str(cls.model_config.get("env_prefix", ""))
    problems = []
    for error in exc.errors():
        loc = error["loc"]
        variable = f"{prefix}{loc[0] if loc else '?'}".upper()
        variable += "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc[1:]
        )
        if error["type"] == "missing":
            problems.append(f"{variable} is missing")
        else:
            problems.append(f"{variable}: {error['msg']}")
    return "Sprout cannot start: " + "; ".join(problems)
