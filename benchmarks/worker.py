"""`python -m benchmarks.worker`: one worker job against the simulator, with baselines.

Prints, each beside a baseline measured in the same run:

1. Redis side: stream entries a job handles per second when no API call is needed (creates of
   containers already deleted: read, load the record, acknowledge, delete), against raw
   pipelined XADD / XREADGROUP / XACK+XDEL of the same number of entries.
2. API side at 0 ms and 20 ms added API latency (rate cap raised): containers per second a
   job brings to `running`, and the API creates per second that makes (a pod, a service and
   an ingress each), against raw `create_namespaced_pod` calls from as many threads as the
   job has (the official client's own ceiling on this machine).
3. Create -> running overhead per container beyond the simulated start delay, with a job
   already running: `started_at - created_at - start delay`, against the same for a raw
   client that creates a pod and watches it until it is ready.

Goals (issue 4): >= 1,000 events/s on the Redis side; >= 200 creates/s at 20 ms latency;
<= 50 ms overhead per container. Figures depend on the machine (2 cores here, shared by the
job, the simulator and Redis).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import redis
from kubernetes import client

from deploy.local.kubesim import SimulatorProcess
from deploy.local.redis_server import RedisServer
from functions.worker import builders
from functions.worker.job import Job
from functions.worker.kube import Kube
from functions.worker.settings import WorkerSettings
from shared import containers, keys, passes
from shared.context import Context
from shared.records import Record
from shared.settings import ApiSettings, LimitSettings, SiteSettings, TemplateSettings

SECRET = "benchmark-secret-key-that-is-long-enough-0123456789"
SIM_ARGS = ["--node-cpu", "100000", "--node-memory", "100000Gi", "--node-pods", "1000000"]


def line(name: str, value: float, unit: str, baseline: float, baseline_name: str) -> None:
    ratio = value / baseline if baseline else float("nan")
    here = f"{name:<44} {value:>9.1f} {unit:<5}"
    print(f"  {here} | {baseline_name}: {baseline:>9.1f}  ratio {ratio:.2f}")


class Bench:
    def __init__(self, directory: Path, concurrency: int) -> None:
        self.directory = directory
        self.concurrency = concurrency
        self.redis = RedisServer(directory / "redis").start()
        self.sim = SimulatorProcess.start(directory / "kubeconfig", args=SIM_ARGS)
        self.r = redis.Redis.from_url(self.redis.url, decode_responses=True)
        self.ctx = Context.create(
            ApiSettings(redis_url=self.redis.url, secret_key=SECRET),
            LimitSettings(
                creates_per_hour=10**7,
                live_per_address=10**7,
                live_per_owner=10**7,
                capacity=10**7,
            ),
        )

    def close(self) -> None:
        self.r.close()
        self.sim.stop()
        self.redis.stop()

    def reset(self, **sim: Any) -> None:
        self.r.flushall()
        self.sim.reset()
        if sim:
            self.sim.configure(**sim)

    def settings(self, **overrides: Any) -> WorkerSettings:
        values: dict[str, Any] = {
            "kubeconfig": str(self.sim.kubeconfig),
            "api_rate": 100_000.0,
            "batch_size": 100,
            "max_in_flight": self.concurrency,  # a thread each: as many as the raw baseline
            "linger": 0.0,
            "ready_deadline": 60.0,
        }
        values.update(overrides)
        return WorkerSettings(**values)

    def create(self, n: int) -> list[str]:
        ids = []
        for i in range(n):
            token = passes.issue(self.r, client_hash="c", action="create", mode="slider")
            made = containers.create(
                self.ctx,
                owner="o",
                client="c",
                network="n",
                template="nginx",
                captcha_token=token,
                request_id=str(i),
            )
            ids.append(made.container.id)
        return ids

    def job(self, settings: WorkerSettings) -> Job:
        return Job(
            settings=settings,
            site=SiteSettings(),
            templates=TemplateSettings().by_name(),
            redis_client=redis.Redis.from_url(self.redis.url, decode_responses=True),
            kube=Kube.connect(settings),
        )

    # -- 1. the Redis side --------------------------------------------------------------------

    def raw_stream(self, n: int, batch: int) -> float:
        self.r.flushall()
        self.r.xgroup_create(keys.STREAM, keys.WORKER_GROUP, id="0", mkstream=True)
        started = time.perf_counter()
        pipe = self.r.pipeline(transaction=False)
        for i in range(n):
            pipe.xadd(keys.STREAM, {"type": "create", "id": f"raw{i:09d}", "at": "1"})
            if len(pipe) >= batch:
                pipe.execute()
        pipe.execute()
        done = 0
        while done < n:
            answer: Any = self.r.xreadgroup(
                keys.WORKER_GROUP, "raw", {keys.STREAM: ">"}, count=batch
            )
            ids = [entry_id for _, entries in answer for entry_id, _ in entries]
            pipe = self.r.pipeline(transaction=True)
            pipe.xack(keys.STREAM, keys.WORKER_GROUP, *ids)
            pipe.xdel(keys.STREAM, *ids)
            pipe.execute()
            done += len(ids)
        return n / (time.perf_counter() - started)

    def worker_stream(self, n: int) -> float:
        """Creates of containers already deleted: the job's per-entry Redis work only."""
        self.reset()
        ids = self.create(n)
        pipe = self.r.pipeline(transaction=False)
        for container_id in ids:
            pipe.hset(keys.record(container_id), "state", "deleted")
        pipe.execute()
        self.r.delete(keys.EXPIRY_INDEX)
        job = self.job(self.settings(max_in_flight=1000, batch_size=500))
        started = time.perf_counter()
        report = job.run()
        elapsed = time.perf_counter() - started
        job.kube.close()
        assert report.outcomes["skipped-deleted"] == n, report.summary()
        return n / elapsed

    # -- 2. the API side ----------------------------------------------------------------------

    def raw_pod_creates(self, n: int, latency_ms: float) -> float:
        self.reset(start_delay=0.0, latency_ms=latency_ms)
        api = client.CoreV1Api(new_client(self.sim.kubeconfig))
        template = TemplateSettings().by_name()["nginx"]
        settings = self.settings()
        now = time.time()
        pods = [  # as the client's models, built before the clock starts
            client.V1Pod.from_dict(builders.build_pod(
                Record.from_hash(
                    {"id": f"{i:012d}".translate(str.maketrans("0123456789", "abcdefghij")),
                     "template": "nginx", "expires_at": str(now + 3600)}
                ),
                template,
                settings,
                now=now,
            ))
            for i in range(n)
        ]  # fmt: skip
        started = time.perf_counter()
        with ThreadPoolExecutor(self.concurrency) as pool:
            list(pool.map(lambda pod: api.create_namespaced_pod("sprout", pod), pods))
        elapsed = time.perf_counter() - started
        api.api_client.close()
        return n / elapsed

    def worker_creates(self, n: int, latency_ms: float) -> float:
        """Containers per second one job brings to running (3 API creates each)."""
        self.reset(start_delay=0.0, latency_ms=latency_ms)
        ids = self.create(n)
        job = self.job(self.settings())
        started = time.perf_counter()
        report = job.run()
        elapsed = time.perf_counter() - started
        job.kube.close()
        assert report.outcomes["running"] == n, report.summary()
        states = {self.r.hget(keys.record(i), "state") for i in ids}
        assert states == {"running"}, states
        return n / elapsed

    # -- 3. create -> running overhead --------------------------------------------------------

    def worker_overhead(self, n: int, start_delay: float, gap: float) -> list[float]:
        self.reset(start_delay=start_delay)
        job = self.job(self.settings(linger=3600.0))
        thread = threading.Thread(target=job.run, daemon=True)
        thread.start()
        time.sleep(1.0)  # the job is up and idle, waiting for entries
        ids = []
        for _ in range(n):
            ids += self.create(1)
            time.sleep(gap)
        overheads = []
        deadline = time.monotonic() + 30
        for container_id in ids:
            while True:
                record = self.r.hgetall(keys.record(container_id))
                if record.get("state") == "running" or time.monotonic() > deadline:
                    break
                time.sleep(0.01)
            assert record.get("state") == "running", record
            total = float(record["started_at"]) - float(record["created_at"])
            overheads.append(total - start_delay)
        job.stop()
        self.r.xadd(keys.STREAM, {"type": "reconcile", "at": "0"})  # wakes a lingering read
        thread.join(timeout=10)
        job.kube.close()
        return overheads

    def raw_overhead(self, n: int, start_delay: float, gap: float) -> list[float]:
        """A raw client: create the pod, watch it until Ready (one watch, like the job)."""
        self.reset(start_delay=start_delay)
        api = client.CoreV1Api(new_client(self.sim.kubeconfig))
        template = TemplateSettings().by_name()["nginx"]
        settings = self.settings()
        created: dict[str, float] = {}
        ready: dict[str, float] = {}
        done = threading.Event()

        def watch() -> None:
            response: Any = api.list_namespaced_pod(
                "sprout", watch=True, _preload_content=False, timeout_seconds=60
            )
            for raw in response:
                for text in raw.splitlines():
                    if not text.strip():
                        continue
                    pod = json.loads(text)["object"]
                    conditions = (pod.get("status") or {}).get("conditions") or []
                    name = pod["metadata"]["name"]
                    if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
                        ready.setdefault(name, time.time())
                if len(ready) >= n:
                    done.set()
                    response.close()
                    return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        time.sleep(0.3)
        for i in range(n):
            record = Record.from_hash(
                {"id": f"{i:012d}".translate(str.maketrans("0123456789", "abcdefghij")),
                 "template": "nginx", "expires_at": str(time.time() + 3600)}
            )  # fmt: skip
            body = builders.build_pod(record, template, settings, now=time.time())
            pod: Any = client.V1Pod.from_dict(body)  # the client's model, as callers send it
            created[body["metadata"]["name"]] = time.time()
            api.create_namespaced_pod("sprout", pod)
            time.sleep(gap)
        done.wait(30)
        api.api_client.close()
        return [ready[name] - created[name] - start_delay for name in created]


def new_client(kubeconfig: Path) -> Any:
    from kubernetes import config

    factory: Any = config.new_client_from_config
    return factory(config_file=str(kubeconfig))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worker", description=__doc__)
    parser.add_argument("--entries", type=int, default=3000, help="Redis-side entries")
    parser.add_argument("--containers", type=int, default=400, help="API-side containers")
    parser.add_argument(
        "--concurrency", type=int, default=32, help="entries a job holds at once (a thread each)"
    )
    parser.add_argument("--samples", type=int, default=40, help="overhead samples")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sprout-bench-") as directory:
        bench = Bench(Path(directory), args.concurrency)
        try:
            print(f"worker benchmark (concurrency {args.concurrency}, rate cap raised)")
            print("Redis side (no API calls):")
            raw = bench.raw_stream(args.entries, 100)
            worker = bench.worker_stream(args.entries)
            line("job events/s", worker, "ev/s", raw, "raw pipelined XADD+XREADGROUP+XACK/XDEL")
            for latency in (0.0, 20.0):
                print(f"API side, {latency:.0f} ms added latency, start delay 0:")
                raw = bench.raw_pod_creates(args.containers, latency)
                per_second = bench.worker_creates(args.containers, latency)
                line("job events/s (create -> running)", per_second, "ev/s", raw / 3,
                     "raw creates/s / 3")  # fmt: skip
                line("job API creates/s (pod+service+ingress)", 3 * per_second, "/s", raw,
                     "raw create_namespaced_pod/s")  # fmt: skip
            delay = 0.5
            print(f"create -> running overhead beyond the {delay:.1f} s start delay:")
            raw_overhead = bench.raw_overhead(args.samples, delay, 0.05)
            overhead = bench.worker_overhead(args.samples, delay, 0.05)
            for name, pick in (("median", statistics.median), ("p95", p95)):
                line(f"job overhead {name}", 1000 * pick(overhead), "ms",
                     1000 * pick(raw_overhead), "raw create+watch")  # fmt: skip
        finally:
            bench.close()


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


if __name__ == "__main__":
    main()
