"""Click-to-running: from POST /containers to the page seeing `running`, on the local stack.

    python -m benchmarks.stack [--containers 30] [--concurrency 1]

Starts the whole stack as `make dev` does (simulated cluster, start delay 0, the scaler's
short local polling interval), then creates containers one visitor after another and polls
GET /containers/{id} every 50 ms as the page does while pending. The CAPTCHA is solved before
the clock starts (the click is the create). Two series: "cold" waits until no worker job runs
before each create (the scaler must start one: scale from zero), "warm" creates back to back
(a job that lingers for more work takes them). Beside them, measured in the same run, the
floor of any job-based design: starting a bare Python process that imports the Kubernetes
client, once before each cold create, so that it meets the same machine load as the create
(on a shared machine the load moves, and every figure with it: compare the ratios). Goal:
cold p50 ≤ 1.5 s, p99 ≤ 2.5 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.stack_driver import RunningStack, Visitor, worker_jobs

LIMITS_FOR_ONE_ADDRESS = {
    # Every visitor of the benchmark comes from 127.0.0.1: lift the per-address limits.
    "SPROUT_LIMIT_CREATES_PER_HOUR": "100000",
    "SPROUT_LIMIT_LIVE_PER_ADDRESS": "100000",
    "SPROUT_LIMIT_CHALLENGES_PER_MINUTE": "100000",
    "SPROUT_LIMIT_CAPACITY": "100000",
    "SPROUT_CAPTCHA_SLIDER_DIFFICULTY": "8",
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def job_process_floor() -> float:
    """Seconds to start Python and import the Kubernetes client (any worker job pays this)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import kubernetes.client"], check=True)
    return time.perf_counter() - started


def click_to_running(stack: RunningStack, seed: int) -> float:
    visitor = Visitor(stack.url, stack.redis, seed=seed)
    try:
        token = visitor.pass_token()
        started = time.perf_counter()
        response = visitor.http.post(
            f"{stack.url}/containers", json={"template": "nginx", "captcha_token": token}
        )
        response.raise_for_status()
        container_id = response.json()["id"]
        while True:
            state = visitor.get(f"/containers/{container_id}").json()["state"]
            if state == "running":
                return time.perf_counter() - started
            if state != "pending":
                raise RuntimeError(f"{container_id} ended {state}")
            time.sleep(0.05)
    finally:
        visitor.close()


def wait_until_no_jobs(stack: RunningStack, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while worker_jobs(stack.data_dir):
        if time.monotonic() > deadline:
            raise RuntimeError("worker jobs did not exit")
        time.sleep(0.05)


def report(name: str, times: list[float], floor: list[float]) -> None:
    p50, p90, p99 = (percentile(times, q) for q in (0.5, 0.9, 0.99))
    floor50, floor99 = percentile(floor, 0.5), percentile(floor, 0.99)
    verdict = f"p50 ≤ 1.5 s {'ok' if p50 <= 1.5 else 'MISS'}, "
    verdict += f"p99 ≤ 2.5 s {'ok' if p99 <= 2.5 else 'MISS'}"
    print(f"  {name:<5} n={len(times):<3} p50 {p50:.2f} s  p90 {p90:.2f} s  p99 {p99:.2f} s"
          f"  max {max(times):.2f} s  (p50 {p50 / floor50:.1f}×, p99 {p99 / floor99:.1f}× the"
          f" floor's; {verdict})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", type=int, default=10, help="creates with no job running")
    parser.add_argument("--warm", type=int, default=20, help="creates back to back")
    options = parser.parse_args()
    floor, load_before = [], os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as data:
        stack = RunningStack(
            Path(data), "--start-delay", "0", "--node-cpu", "1000", "--node-memory", "1000Gi",
            env=LIMITS_FOR_ONE_ADDRESS,
        ).start()  # fmt: skip
        try:
            click_to_running(stack, seed=0)  # warm-up: the first pod, the page's first poll
            cold = []
            for seed in range(1, options.cold + 1):
                wait_until_no_jobs(stack)  # the scaler must start a job: the scale-from-zero path
                floor.append(job_process_floor())
                cold.append(click_to_running(stack, seed))
            warm = [click_to_running(stack, s) for s in range(100, 100 + options.warm)]
        finally:
            stack.stop()
    load = f"load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    print("click-to-running (POST /containers until GET says running; simulated start delay 0;"
          f" {os.cpu_count()} CPUs, {load}):")  # fmt: skip
    report("cold", cold, floor)
    report("warm", warm, floor)
    print(f"  floor: a bare job process (python + import kubernetes) starts in p50"
          f" {percentile(floor, 0.5):.2f} s, p99 {percentile(floor, 0.99):.2f} s"
          f" (n={len(floor)}, one before each cold create)")  # fmt: skip


if __name__ == "__main__":
    main()
