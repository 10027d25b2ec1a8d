"""Per-process wiring: settings, the Redis client and scripts, the clock and the RNG.

Functions build one `Context` on their first request (`Context.from_environment`), never at
import time; tests build it from values with `Context.create`. The RNG draws what must be
unpredictable (CAPTCHA answers, salts, challenge ids): the OS CSPRNG in production, a seeded
`random.Random` in tests.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from shared import logs
from shared.redis_client import Scripts
from shared.settings import ApiSettings, CaptchaSettings, LimitSettings, TemplateSettings, load

Clock = Callable[[], float]


@dataclass
class Context:
    api: ApiSettings
    limits: LimitSettings
    templates: TemplateSettings
    scripts: Scripts
    clock: Clock = field(default=time.time)
    captcha: CaptchaSettings = field(default_factory=CaptchaSettings)
    rng: random.Random = field(default_factory=secrets.SystemRandom)

    @classmethod
    def create(
        cls,
        api: ApiSettings,
        limits: LimitSettings | None = None,
        templates: TemplateSettings | None = None,
        clock: Clock = time.time,
        captcha: CaptchaSettings | None = None,
        rng: random.Random | None = None,
    ) -> Context:
        return cls(
            api=api,
            limits=limits or LimitSettings(),
            templates=templates or TemplateSettings(),
            scripts=Scripts.connect(api.redis_url, timeout=api.redis_timeout),
            clock=clock,
            captcha=captcha or CaptchaSettings(),
            rng=rng or secrets.SystemRandom(),
        )

    def close(self) -> None:
        """Close the Redis connections (a process's own context lives as long as it does)."""
        self.scripts.close()

    @classmethod
    def from_environment(cls) -> Context:
        logs.configure()
        return cls.create(
            load(ApiSettings),
            load(LimitSettings),
            load(TemplateSettings),
            captcha=load(CaptchaSettings),
        )


class LazyContext:
    """The process's one Context, built on first use; a ConfigError is raised every time."""

    def __init__(self, factory: Callable[[], Context] = Context.from_environment) -> None:
        self._factory = factory
        self._context: Context | None = None
        self._lock = threading.Lock()

    def __call__(self) -> Context:
        if self._context is None:
            with self._lock:
                if self._context is None:
                    self._context = self._factory()
        return self._context
