"""Configuration: one settings class per concern, read from `SPROUT_*` variables.

Nothing reads the environment at import time: a process calls `load(SomeSettings)` once when
it starts (or on its first request) and keeps the result. Tests build the classes directly
with values. A missing or invalid value raises `ConfigError` naming the variable to set.
"""

from __future__ import annotations

import difflib
import ipaddress
import itertools
import json
import math
import os
import re
from collections.abc import Mapping
from functools import cached_property
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
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
    network_share_percent: int = Field(
        default=10,
        ge=1,
        le=100,
        description="The % of capacity one network may hold (at least live_per_address)",
    )
    # The waiting line: when capacity is in use, a create with a valid pass waits for a slot.
    line_length: int = Field(
        default=50, ge=0, description="Places in the waiting line (0: no line, full is full)"
    )
    places_per_network: int = Field(
        default=3, ge=1, description="Places one network may hold (at least places_per_address)"
    )
    places_per_address: int = Field(default=1, ge=1, description="Places one address may hold")
    place_timeout: int = Field(
        default=30, ge=5, description="A place lapses when its page stops checking this long, s"
    )
    max_wait: int = Field(default=3600, ge=60, description="The longest a place lasts, s")

    @property
    def network_places(self) -> int:
        return max(self.places_per_network, self.places_per_address)

    @property
    def network_creates(self) -> int:
        return max(self.creates_per_network, self.creates_per_hour)

    @property
    def network_live(self) -> int:
        return max(self.live_per_network, self.live_per_address)

    @property
    def network_share_limit(self) -> int:
        return max(self.live_per_address, self.capacity * self.network_share_percent // 100)


# What a person's phone pays for the proof of work. `python -m benchmarks.pow` runs the page's
# own code in Debian's Chromium at 390x844 with 4x CPU throttling (Lighthouse's mobile profile):
# 188,000, 204,000 and 229,000 hashes/s in three runs (medians of 5 x 2 s; the worker unthrottled
# 611,000 to 873,000; a busy 2-core machine). PHONE_HASHES_PER_SECOND is the middle one. The top
# level may cost a person at most PERSON_WAIT_SECONDS *on average* (the mean of the geometric
# number of tries: 2**bits hashes, which is also the price a bot pays per challenge; capping
# the p90, 2.3 times the mean, would halve the top price), so no difficulty exceeds
# MAX_PERSON_BITS: 19 bits, 2.6 s on average (20 would be 5.1 s), p90 5.9 s. The top level
# comes only at 90% capacity use or after failures, and with the puzzle it overlaps the drag.
PHONE_HASHES_PER_SECOND = 204_000
PERSON_WAIT_SECONDS = 5.0
MAX_PERSON_BITS = int(math.log2(PHONE_HASHES_PER_SECOND * PERSON_WAIT_SECONDS))
# Failed answers kept per address and per network: the failure levels count no further.
FAILURES_KEPT = 64


class Level(BaseModel):
    """One step of a difficulty table: from `at` on (capacity use, or recent failures), `bits`
    more proof of work than the path's base."""

    at: float = Field(ge=0)
    bits: int = Field(ge=1, le=16)


def _levels(*steps: tuple[float, int]) -> Any:
    return lambda: [Level(at=at, bits=bits) for at, bits in steps]


class CaptchaSettings(BaseSettings):
    """The slider CAPTCHA and its proof of work, priced by load and recent failures.

    A challenge's difficulty is its path's base (`slider_difficulty`, or the stricter
    `pow_difficulty` without the puzzle), plus the bits of the capacity-use level reached,
    plus the greater of the address's and the network's failure levels; never above
    `max_difficulty`, which may not exceed what a phone does in 5 s (`MAX_PERSON_BITS`).
    Tables are JSON lists, e.g. SPROUT_CAPTCHA_LOAD_LEVELS='[{"at": 0.5, "bits": 1}]'.
    """

    model_config = SettingsConfigDict(env_prefix="SPROUT_CAPTCHA_", extra="ignore")

    challenge_ttl: int = Field(default=120, ge=10, le=3600, description="Seconds to solve one")
    pass_ttl: int = Field(default=120, ge=10, le=3600, description="Seconds a pass token lives")
    tolerance: int = Field(default=4, ge=0, le=20, description="Accepted offset error, px")
    min_solve_seconds: float = Field(
        default=0.5, ge=0, le=30, description="Faster answers (from issue to verify) are refused"
    )
    max_difficulty: int = Field(
        default=MAX_PERSON_BITS,
        ge=0,
        le=MAX_PERSON_BITS,
        description="No challenge asks for more bits (a phone's 5 s on average at most)",
    )
    slider_difficulty: int = Field(
        default=16, ge=0, le=MAX_PERSON_BITS, description="Proof-of-work bits with the puzzle"
    )
    pow_difficulty: int = Field(
        default=17, ge=0, le=MAX_PERSON_BITS, description="Proof-of-work bits without the puzzle"
    )
    load_levels: list[Level] = Field(
        default_factory=_levels((0.5, 1), (0.75, 2), (0.9, 3)),
        max_length=8,
        description="Capacity use (slots held / capacity) -> extra bits",
    )
    failure_levels: list[Level] = Field(
        default_factory=_levels((1, 1), (2, 2), (4, 3)),
        max_length=8,
        description="The address's recent failed answers -> extra bits",
    )
    network_failure_levels: list[Level] = Field(
        default_factory=_levels((5, 1), (15, 2), (40, 3)),
        max_length=8,
        description="The network's recent failed answers (all its addresses) -> extra bits",
    )
    failure_window: int = Field(
        default=600, ge=1, description="Seconds a failed attempt counts as recent"
    )

    @field_validator("load_levels", "failure_levels", "network_failure_levels")
    @classmethod
    def _rising(cls, value: list[Level]) -> list[Level]:
        for lower, higher in itertools.pairwise(value):
            if not (lower.at < higher.at and lower.bits < higher.bits):
                raise ValueError("levels must rise: each `at` and `bits` above the one before")
        return value

    @field_validator("failure_levels", "network_failure_levels")
    @classmethod
    def _countable(cls, value: list[Level]) -> list[Level]:
        for level in value:
            if level.at < 1 or level.at != int(level.at) or level.at > FAILURES_KEPT:
                raise ValueError(f"a failure level's `at` is a count from 1 to {FAILURES_KEPT}")
        return value

    @field_validator("slider_difficulty", "pow_difficulty")
    @classmethod
    def _within_cap(cls, value: int, info: ValidationInfo) -> int:
        cap = info.data.get("max_difficulty", MAX_PERSON_BITS)  # absent if it was invalid
        if value > cap:
            raise ValueError(f"above max_difficulty ({cap})")
        return value

    def base(self, mode: str) -> int:
        return self.pow_difficulty if mode == "pow" else self.slider_difficulty


_BANDWIDTH = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(k|M|G|T|P|Ki|Mi|Gi|Ti|Pi)?$")
_BANDWIDTH_UNITS = {"k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}
_BANDWIDTH_UNITS.update({"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50})


def _bandwidth(value: str) -> str:
    """A rate in bits per second as a Kubernetes quantity, within what the kubelet accepts."""
    match = _BANDWIDTH.match(value)
    rate = float(match[1]) * _BANDWIDTH_UNITS.get(match[2] or "", 1) if match else 0
    if not 1e3 <= rate <= 1e15:
        raise ValueError("must be bits per second between 1k and 1P, such as 10M or 500k")
    return value


Bandwidth = Annotated[str, AfterValidator(_bandwidth)]


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
    # Traffic shaping of each container (the CNI bandwidth plugin reads it from the pod's
    # annotations), so that no sandbox can flood a target or take the node's link.
    egress_bandwidth: Bandwidth = "10M"
    ingress_bandwidth: Bandwidth = "10M"


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
    unknown = unknown_variables(cls, os.environ)
    if unknown:
        raise ConfigError("Sprout cannot start: " + "; ".join(unknown))
    try:
        return cls(**values)
    except ValidationError as exc:
        raise ConfigError(describe_errors(cls, exc)) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{cls.__name__}: a variable holds invalid JSON: {exc}") from None


def unknown_variables(cls: type[BaseSettings], environ: Mapping[str, str]) -> list[str]:
    """Variables under a class's own prefix (SPROUT_LIMIT_, ...) that name none of its settings.

    A misspelt or retired setting would otherwise be ignored without a word, and the
    deployment would run on a default its operator meant to change. The shared prefix
    SPROUT_ is left alone: several classes read from it."""
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    if prefix == "SPROUT_":
        return []
    known = {prefix + name.upper() for name in cls.model_fields}
    problems = []
    for variable in sorted(name for name in environ if name.upper().startswith(prefix)):
        if variable.upper() not in known:
            close = difflib.get_close_matches(variable.upper(), known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(f"{variable} is not a setting{hint}")
    return problems


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
