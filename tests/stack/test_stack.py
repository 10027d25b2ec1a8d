"""All of Sprout on one machine, started as `make dev` starts it, used over HTTP like a visitor.

These tests start real processes (Redis, the simulated cluster, three functions, the gateway,
the scaler and its worker jobs) in a temporary data directory, on free ports.
"""

from __future__ import annotations

import json
import re
import signal
import time
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from tests.stack_driver import RunningStack, Visitor, processes_of, worker_jobs

pytestmark = pytest.mark.slow


def pods_for(stack: RunningStack, container_id: str) -> list[str]:
    api = k8s.CoreV1Api(k8s_config.new_client_from_config(stack.description["kubeconfig"]))
    try:
        pods = api.list_namespaced_pod(
            "sprout", label_selector=f"sprout.dev/container-id={container_id}"
        )
        return [str(pod.metadata.name) for pod in pods.items if pod.metadata]
    finally:
        api.api_client.close()


def scaler_state(stack: RunningStack) -> dict[str, int]:
    path = stack.data_dir / "logs" / "scaler-state.json"
    return json.loads(path.read_text()) if path.exists() else {}


def wait_until_idle(stack: RunningStack, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while worker_jobs(stack.data_dir):
        assert time.monotonic() < deadline, "worker jobs kept running with no traffic"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = RunningStack(tmp_path_factory.mktemp("stack"), "--start-delay", "0.3").start()
    yield running
    running.stop()
    assert processes_of(running.data_dir) == []


def test_a_visitor_goes_through_the_whole_flow(stack: RunningStack) -> None:
    visitor = Visitor(stack.url, stack.redis)
    templates = visitor.get("/containers/templates").json()
    assert templates["cluster"] == {"simulated": True}
    page = visitor.get("/")
    assert page.status_code == 200 and '<div id="root">' in page.text

    created = visitor.create("nginx")
    assert created.status_code == 202, created.text
    record = created.json()
    assert record["state"] == "pending"
    running = visitor.wait_for_state(record["id"], {"running", "failed"})
    assert running["state"] == "running", running
    assert running["url"] and record["id"] in running["url"]
    assert pods_for(stack, record["id"]) == [f"sprout-{record['id']}"]

    listed = visitor.get("/containers").json()["containers"]
    assert [c["id"] for c in listed] == [record["id"]]

    deleted = visitor.delete(f"/containers/{record['id']}")
    assert deleted.status_code == 202 and deleted.json()["state"] == "deleting"
    visitor.wait_for_state(record["id"], {"deleted"})
    deadline = time.monotonic() + 10
    while pods_for(stack, record["id"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pods_for(stack, record["id"]) == []

    policies = {p["name"]: p for p in visitor.get("/rate-limit").json()["policies"]}
    assert policies["creates_per_address"]["remaining"] == 4
    assert policies["live_per_owner"]["remaining"] == 3
    visitor.close()


def test_a_containers_address_says_what_became_of_it(stack: RunningStack) -> None:
    """Live: the simulated container's placeholder (200). Deleted: 410 Gone, saying so.
    An id no container ever had: 404. Always the site's styled page, never a 500."""
    visitor = Visitor(stack.url, stack.redis)

    def address(container_id: str) -> tuple[int, str]:
        host = f"{container_id}.localhost:{urllib.parse.urlsplit(stack.url).port}"
        answer = visitor.http.get(stack.url + "/", headers={"Host": host}, timeout=10)
        assert answer.headers["Content-Type"] == "text/html; charset=utf-8", answer.text
        (case,) = re.findall(r'<main data-case="([a-z]+)"', answer.text)
        assert f'data-site-link href="{stack.url}/"' in answer.text
        return answer.status_code, case

    created = visitor.create("nginx")
    assert created.status_code == 202, created.text
    container_id = created.json()["id"]
    running = visitor.wait_for_state(container_id, {"running", "failed"})
    assert running["state"] == "running", running
    assert urllib.parse.urlsplit(running["url"]).hostname == f"{container_id}.localhost"
    assert address(container_id) == (200, "simulated")

    assert visitor.delete(f"/containers/{container_id}").status_code == 202
    visitor.wait_for_state(container_id, {"deleted"})
    assert address(container_id) == (410, "deleted")
    assert address("abcdefgh2345") == (404, "unknown")
    visitor.close()


def test_every_part_runs_this_trees_code(stack: RunningStack) -> None:
    # Not the `sprout` the interpreter has installed (another checkout, in a shared venv).
    root = str(Path(__file__).resolve().parents[2])
    for part in stack.description["parts"]:
        if part["name"] == "redis":
            continue
        environ = Path(f"/proc/{part['pid']}/environ").read_bytes().split(b"\0")
        paths = next((v for v in environ if v.startswith(b"PYTHONPATH=")), b"").decode()
        assert paths.removeprefix("PYTHONPATH=").split(":")[0] == root, part


def test_scale_to_zero_and_one_job_for_one_create(stack: RunningStack) -> None:
    wait_until_idle(stack)
    # With no traffic, no worker job runs (watched for a while, not sampled once).
    for _ in range(20):
        assert worker_jobs(stack.data_dir) == []
        time.sleep(0.1)
    before = scaler_state(stack).get("started", 0)
    visitor = Visitor(stack.url, stack.redis, seed=11)
    created = visitor.create("whoami")
    assert created.status_code == 202
    visitor.wait_for_state(created.json()["id"], {"running"})
    assert scaler_state(stack)["started"] == before + 1
    wait_until_idle(stack)
    visitor.close()


def test_a_burst_of_100_creates_never_runs_more_than_10_jobs(tmp_path: Path) -> None:
    # Many visitors behind one address here: lift the per-address limits for this run only.
    env = {
        "SPROUT_LIMIT_CREATES_PER_HOUR": "1000",
        "SPROUT_LIMIT_LIVE_PER_ADDRESS": "1000",
        "SPROUT_LIMIT_LIVE_PER_OWNER": "1000",
        "SPROUT_LIMIT_CHALLENGES_PER_MINUTE": "1000",
        "SPROUT_LIMIT_CAPACITY": "1000",
        "SPROUT_CAPTCHA_SLIDER_DIFFICULTY": "8",
    }
    stack = RunningStack(
        tmp_path, "--start-delay", "0.2", "--node-cpu", "64", "--node-memory", "64Gi", env=env
    ).start()
    try:
        visitor_redis = stack.redis
        seen_jobs = [0]
        stop = [False]

        def watch_jobs() -> None:
            while not stop[0]:
                seen_jobs[0] = max(seen_jobs[0], len(worker_jobs(stack.data_dir)))
                time.sleep(0.02)

        def one(seed: int) -> str:
            visitor = Visitor(stack.url, visitor_redis, seed=seed)
            try:
                response = visitor.create("nginx")
                assert response.status_code == 202, response.text
                return str(response.json()["id"])
            finally:
                visitor.close()

        with ThreadPoolExecutor(max_workers=21) as pool:
            watcher = pool.submit(watch_jobs)
            try:
                ids = list(pool.map(one, range(100)))
                # Wait while they keep starting: a busy machine starts 100 pods slowly (ten
                # job processes import the Kubernetes client at once), a stuck worker starts
                # none (two minutes without one settling is a stall).
                pending = set(ids)
                stalled_at = time.monotonic() + 120
                while pending and time.monotonic() < stalled_at:
                    for container_id in list(pending):
                        state = visitor_redis.hget(f"sprout:c:{container_id}", "state")
                        if state in ("running", "failed"):
                            pending.discard(container_id)
                            stalled_at = time.monotonic() + 120
                    time.sleep(0.2)
            finally:
                # Else a failed create leaves the watcher looping and the pool waits forever.
                stop[0] = True
            watcher.result()
        assert not pending, f"{len(pending)} containers stopped starting"
        states = {visitor_redis.hget(f"sprout:c:{i}", "state") for i in ids}
        assert states == {"running"}
        assert 1 <= seen_jobs[0] <= 10
        assert 1 <= scaler_state(stack)["peak"] <= 10
    finally:
        stack.stop()
    assert processes_of(tmp_path) == []


def test_a_hard_stop_mid_flow_loses_no_acknowledged_create(tmp_path: Path) -> None:
    stack = RunningStack(tmp_path, "--start-delay", "2").start()
    visitor = Visitor(stack.url, stack.redis, seed=5)
    ids = []
    for template in ("nginx", "whoami", "python"):
        response = visitor.create(template)
        assert response.status_code == 202
        ids.append(response.json()["id"])
    visitor.close()
    # Power cut: every process of the stack at once, while the pods are still starting.
    stack.kill_everything()
    assert processes_of(tmp_path) == []

    again = RunningStack(tmp_path, "--start-delay", "0.2").start()
    try:
        survivor = Visitor(again.url, again.redis, seed=6)
        survivor.http.cookies.update(visitor.http.cookies)
        for container_id in ids:
            record = survivor.wait_for_state(container_id, {"running", "failed"}, timeout=60)
            assert record["state"] == "running", record
        listed = {c["id"] for c in survivor.get("/containers").json()["containers"]}
        assert listed == set(ids)
        survivor.close()
    finally:
        again.stop(signal.SIGTERM)
    assert processes_of(tmp_path) == []
