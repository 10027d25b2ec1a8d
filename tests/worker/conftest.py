"""Fixtures for the worker's tests: a real Redis (tests/conftest.py) and a Kubernetes API.

See `support` for what `target` is and how a real cluster is used.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from deploy.local.kubesim import SimulatorProcess
from deploy.local.redis_server import RedisServer
from shared.context import Context
from shared.settings import ApiSettings, LimitSettings
from tests.conftest import SECRET
from tests.worker.support import SIM_ARGS, Target, new_client, template_settings


@pytest.fixture(scope="session")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorProcess]:
    directory = tmp_path_factory.mktemp("kubesim")
    sim = SimulatorProcess.start(directory / "kubeconfig", args=SIM_ARGS)
    yield sim
    sim.stop()


@pytest.fixture(scope="session")
def sim_target(simulator: SimulatorProcess) -> Iterator[Target]:
    api_client = new_client(simulator.kubeconfig)
    yield Target("sim", simulator.kubeconfig, "sprout", api_client, simulator)
    api_client.close()


@pytest.fixture(params=["sim", "cluster"])
def target(request: pytest.FixtureRequest, redis_client: redis.Redis) -> Iterator[Target]:
    """The simulator (emptied, back to its start settings), and a real cluster when
    SPROUT_TEST_KUBECONFIG is set: every test that talks to the Kubernetes API takes this.
    A test that injects faults or counts the simulator's requests skips the cluster, or
    checks those parts on the simulator only."""
    if request.param == "sim":
        chosen: Target = request.getfixturevalue("sim_target")
        chosen.clear()
        yield chosen
        return
    path = os.environ.get("SPROUT_TEST_KUBECONFIG")
    if not path:
        pytest.skip("no real cluster (set SPROUT_TEST_KUBECONFIG)")
    api_client = new_client(path)
    real = Target(
        "cluster", Path(path), os.environ.get("SPROUT_TEST_NAMESPACE", "sprout"), api_client
    )
    real.clear()
    yield real
    real.clear()
    api_client.close()


@pytest.fixture
def ctx(redis_server: RedisServer, redis_client: redis.Redis) -> Iterator[Context]:
    """The containers API's use cases, with limits out of the way."""
    context = Context.create(
        ApiSettings(redis_url=redis_server.url, secret_key=SECRET),
        LimitSettings(
            creates_per_hour=10**6,
            live_per_address=10**6,
            live_per_owner=10**6,
            capacity=10**6,
        ),
        template_settings(),
    )
    yield context
    context.close()
