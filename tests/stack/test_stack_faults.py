"""The local stack under Redis restarts, and one request id from the API call into the worker.

Redis runs with AOF (`appendfsync everysec`) and is supervised by the stack like a
StatefulSet pod: killed, it is started again on the same port and data. A create the API
acknowledged (202) must survive that, whether Redis was stopped (SIGTERM) or killed
(SIGKILL); while it is down the functions answer 503, never 500.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from shared import keys
from tests.stack_driver import RunningStack, Visitor, processes_of, redis_pid

pytestmark = pytest.mark.slow

RESTART_DELAY = 2.0  # seconds the stack waits before it starts Redis again


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    env = {
        "SPROUT_LIMIT_CREATES_PER_HOUR": "1000",
        "SPROUT_LIMIT_LIVE_PER_ADDRESS": "1000",
        "SPROUT_LIMIT_CHALLENGES_PER_MINUTE": "1000",
        "SPROUT_CAPTCHA_SLIDER_DIFFICULTY": "8",
    }
    running = RunningStack(
        tmp_path_factory.mktemp("stack"),
        "--start-delay", "0.2", "--redis-restart-delay", str(RESTART_DELAY),
        env=env,
    ).start()  # fmt: skip
    yield running
    assert running.stop() == 0
    assert processes_of(running.data_dir) == []


def json_lines(path: Path) -> list[dict[str, Any]]:
    found = []
    for line in path.read_text().splitlines():
        if line.startswith("{"):
            found.append(json.loads(line))
    return found


def wait_for_redis_back(stack: RunningStack, old_pid: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    client = stack.redis
    try:
        while time.monotonic() < deadline:
            try:
                if redis_pid(stack.data_dir) != old_pid and client.ping():
                    return
            except (redis.RedisError, OSError, ValueError):
                pass
            time.sleep(0.05)
    finally:
        client.close()
    raise AssertionError("Redis did not come back")


def test_one_request_id_follows_a_container_from_the_api_into_the_worker(
    stack: RunningStack,
) -> None:
    visitor = Visitor(stack.url, stack.redis, seed=21)
    create_id = f"trace-{secrets.token_hex(6)}"
    created = visitor.http.post(
        f"{stack.url}/containers",
        json={"template": "nginx", "captcha_token": visitor.pass_token()},
        headers={"X-Request-Id": create_id},
        timeout=10,
    )
    assert created.status_code == 202 and created.headers["X-Request-Id"] == create_id
    container_id = created.json()["id"]
    visitor.wait_for_state(container_id, {"running"})
    delete_id = f"trace-{secrets.token_hex(6)}"
    deleted = visitor.http.delete(
        f"{stack.url}/containers/{container_id}", headers={"X-Request-Id": delete_id}, timeout=10
    )
    assert deleted.status_code == 202
    visitor.wait_for_state(container_id, {"deleted"})
    visitor.close()

    logs = stack.data_dir / "logs"
    api = [line for line in json_lines(logs / "containers.log") if "request_id" in line]
    worker = [line for line in json_lines(logs / "worker-jobs.log") if "request_id" in line]
    for request_id, outcome in ((create_id, "running"), (delete_id, "deleted")):
        (said,) = [line for line in api if line["request_id"] == request_id]
        assert said["container_id"] == container_id and said["logger"] == "sprout.containers"
        handled = [line for line in worker if line["request_id"] == request_id]
        assert handled and handled[-1]["container_id"] == container_id, worker[-5:]
        assert handled[-1]["outcome"] == outcome


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_creates_acknowledged_just_before_redis_dies_are_all_kept(
    stack: RunningStack, sig: signal.Signals
) -> None:
    visitors = [Visitor(stack.url, stack.redis, seed=100 + n) for n in range(16)]
    with ThreadPoolExecutor(len(visitors)) as pool:
        tokens = list(pool.map(lambda v: v.pass_token(), visitors))
    acked: list[str] = []
    answers: list[int] = []
    lock = threading.Lock()
    enough = threading.Event()
    old_pid = redis_pid(stack.data_dir)

    def create(number: int) -> None:
        visitor, token = visitors[number], tokens[number]
        time.sleep(0.04 * number)  # a steady trickle: some answered, some in flight at the kill
        try:
            response = visitor.http.post(
                f"{stack.url}/containers",
                json={"template": "whoami", "captcha_token": token},
                timeout=30,
            )
        except requests.RequestException:
            return
        with lock:
            answers.append(response.status_code)
            if response.status_code == 202:
                acked.append(response.json()["id"])
            if len(acked) >= 5:
                enough.set()

    with ThreadPoolExecutor(len(visitors)) as pool:
        futures = [pool.submit(create, number) for number in range(len(visitors))]
        # Half the creates acknowledged, the rest in flight: Redis goes down now.
        assert enough.wait(30)
        os.kill(old_pid, sig)
        for future in futures:
            future.result()
    assert set(answers) <= {202, 403, 503}, answers  # 403: a retried create found its pass used
    wait_for_redis_back(stack, old_pid)

    client = stack.redis
    try:
        kept = {cid: client.hget(keys.record(cid), "state") for cid in acked}
        assert all(kept.values()), f"lost after {sig.name}: {kept}"
        for cid in acked:
            record = visitors[0].http.get(f"{stack.url}/containers/{cid}", timeout=10)
            assert record.status_code in (200, 404)  # 404: it is another visitor's
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            states = {client.hget(keys.record(cid), "state") for cid in acked}
            if states == {"running"}:
                break
            time.sleep(0.2)
        assert states == {"running"}, states
    finally:
        client.close()
        for visitor in visitors:
            visitor.close()


def test_functions_answer_503_while_redis_is_down_and_recover(stack: RunningStack) -> None:
    description = json.loads((stack.data_dir / "stack.json").read_text())
    scaler_pid = next(p["pid"] for p in description["parts"] if p["name"] == "scaler")
    restarts = description["redis_restarts"]
    visitor = Visitor(stack.url, stack.redis, seed=77)
    created = visitor.create("nginx")
    assert created.status_code == 202
    container_id = created.json()["id"]
    old_pid = redis_pid(stack.data_dir)
    os.kill(old_pid, signal.SIGKILL)
    seen: dict[str, set[int]] = {}
    probes = [  # each needs Redis (the visitor's cookie makes the list read it)
        ("GET", "/rate-limit", None),
        ("GET", "/containers", None),
        ("GET", f"/containers/{container_id}", None),
        ("POST", "/captcha/request", {"action": "create", "mode": "slider"}),
    ]
    down_until = time.monotonic() + RESTART_DELAY * 0.75
    while time.monotonic() < down_until:
        for method, path, body in probes:
            response = visitor.http.request(method, stack.url + path, json=body, timeout=30)
            seen.setdefault(path, set()).add(response.status_code)
            if response.status_code == 503:
                error = response.json()["error"]
                assert error["code"] == "unavailable" and response.headers["Retry-After"]
        time.sleep(0.1)
    assert all(codes == {503} for codes in seen.values()), seen

    wait_for_redis_back(stack, old_pid)
    for method, path, body in probes:
        response = visitor.http.request(method, stack.url + path, json=body, timeout=30)
        assert response.status_code == 200, (path, response.text)
    description = json.loads((stack.data_dir / "stack.json").read_text())
    assert description["redis_restarts"] == restarts + 1
    assert redis_pid(stack.data_dir) != old_pid
    # The scaler lived through it, and new work still reaches the cluster.
    assert next(p["pid"] for p in description["parts"] if p["name"] == "scaler") == scaler_pid
    os.kill(scaler_pid, 0)  # still there
    assert stack.process is not None and stack.process.poll() is None
    assert visitor.wait_for_state(container_id, {"running"}, timeout=60)["state"] == "running"
    again = visitor.create("whoami")
    assert again.status_code == 202
    assert visitor.wait_for_state(again.json()["id"], {"running"})["state"] == "running"
    visitor.close()
