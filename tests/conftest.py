"""Test fixtures: a real redis-server per session (flushed per test), contexts built from values."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from deploy.local.redis_server import RedisServer
from shared.context import Context
from shared.settings import ApiSettings, LimitSettings, TemplateSettings
from tests.clock import FakeClock
from tests.kubesim_helpers import Kube, running_kube

SECRET = "test-secret-key-that-is-long-enough-0123456789"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(Path(tmp_path_factory.mktemp("redis"))).start()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    client.flushall()
    client.script_flush()
    yield client
    client.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_api_settings(**overrides: object) -> ApiSettings:
    values: dict[str, object] = {
        "secret_key": SECRET,
        "trusted_proxies": ["10.0.0.0/8"],
        "cookie_secure": False,
    }
    values.update(overrides)
    return ApiSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def make_context(redis_client: redis.Redis, redis_server: RedisServer, clock: FakeClock):
    built: list[Context] = []

    def build(api: dict[str, object] | None = None, **limits: int) -> Context:
        context = Context.create(
            make_api_settings(**{"redis_url": redis_server.url, **(api or {})}),
            LimitSettings(**limits),
            TemplateSettings(),
            clock=clock,
        )
        built.append(context)
        return context

    yield build
    for context in built:
        context.close()


# The simulated cluster for the kubesim tests: one per test module (a module may override
# `shared_kube`, e.g. with a short watch history), emptied before each test.
@pytest.fixture(scope="module")
def shared_kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kube]:
    with running_kube(tmp_path_factory.mktemp("kubesim")) as kube:
        yield kube


@pytest.fixture
def kube(shared_kube: Kube) -> Kube:
    shared_kube.sim.reset()
    return shared_kube
