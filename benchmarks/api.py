"""Requests/s and latency of the API functions, beside a bare functions-framework target.

    python -m benchmarks.api [--seconds 3] [--rounds 3] [--connections 16]

Each function runs alone through the functions-framework CLI (gunicorn with the THREADS and
WORKERS its Knative Service sets in deploy/, and the baseline likewise), against a real
redis-server; wrk drives it. The baseline, a target that only returns "hello", runs
beside them: every round measures the baseline, then each endpoint followed by the baseline
again, and an endpoint's ratio is to the mean of the baseline just before and just after it
(this machine's speed drifts by tens of percent within seconds). The report gives each
endpoint's median ratio over the rounds, so that a slow moment weighs on one round's ratio
rather than on the figure. For information: no goal (Sprout starts at most tens of
containers a second, and the cluster takes seconds to start each one).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import statistics
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from benchmarks.serving import ROOT, Load, function_server, wrk
from deploy import manifests
from deploy.local.redis_server import RedisServer
from shared import passes
from shared.identity import client_hash

SECRET = "benchmark-secret-key-0123456789abcdefghij"
BASELINE = "hello (baseline)"


def create_script(visitors: list[tuple[str, str]]) -> str:
    """Each request comes from another visitor (address via the trusted proxy header)."""
    table = ",".join(f'{{"{address}","{token}"}}' for address, token in visitors)
    return f"""
visitors = {{{table}}}
counter = 0
request = function()
  counter = counter + 1
  local v = visitors[(counter % #visitors) + 1]
  local body = '{{"template":"nginx","captcha_token":"' .. v[2] .. '"}}'
  local headers = {{["Content-Type"] = "application/json", ["X-Real-Ip"] = v[1]}}
  return wrk.format("POST", "/containers", headers, body)
end
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as data:
        server = RedisServer(Path(data)).start()
        env = {
            "SPROUT_REDIS_URL": server.url,
            "SPROUT_SECRET_KEY": SECRET,
            "SPROUT_COOKIE_SECURE": "false",
            # wrk plays the trusted proxy for many visitors, each within the default limits
            # of an address; capacity is lifted so that every create is admitted.
            "SPROUT_TRUSTED_PROXIES": "127.0.0.1/32",
            "SPROUT_LIMIT_CAPACITY": "100000000",
            # The visitors share a few /24s: their networks' limits are lifted too.
            "SPROUT_LIMIT_CREATES_PER_NETWORK": "100000000",
            "SPROUT_LIMIT_LIVE_PER_NETWORK": "100000000",
            "SPROUT_LIMIT_NETWORK_SHARE_PERCENT": "100",
            # Served as deploy/ serves them (all three functions alike; a test checks it).
            **manifests.function_server_env("containers"),
        }
        print(f"gunicorn as deployed: {env['THREADS']} threads, {env['WORKERS']} worker")
        client = redis.Redis.from_url(server.url, decode_responses=True)
        try:
            rounds = run(client, env, options.seconds, options.connections, options.rounds)
        finally:
            client.close()
            server.stop()
    report(rounds)


@dataclass
class Measured:
    load: Load
    ratio: float  # requests/s over the mean of the baseline's just before and just after


def run(
    client: redis.Redis, env: dict[str, str], seconds: int, connections: int, rounds: int
) -> list[dict[str, Measured]]:
    """`rounds` rounds of every endpoint, each between two runs of the baseline."""
    peer = client_hash(SECRET, "127.0.0.1")
    # Enough single-use pass tokens for every create of every round, at any plausible speed.
    tokens = visitors(client, 8_000 * seconds * rounds)
    with contextlib.ExitStack() as servers:
        hello = servers.enter_context(
            function_server(ROOT / "benchmarks" / "hello" / "main.py", "hello", env)
        )
        containers = servers.enter_context(
            function_server(ROOT / "functions" / "containers" / "main.py", "containers", env)
        )
        ratelimit = servers.enter_context(
            function_server(ROOT / "functions" / "ratelimit" / "main.py", "ratelimit", env)
        )
        owner = {"Authorization": f"Bearer {owner_with_containers(containers, client, peer, 3)}"}
        load = functools.partial(wrk, seconds=seconds, connections=connections)
        # Each round's creates take tokens of their own: one share each.
        share = len(tokens) // rounds
        scripts = [create_script(tokens[i * share : (i + 1) * share]) for i in range(rounds)]
        measured = []
        for number in range(rounds):
            endpoints: list[tuple[str, str, dict[str, Any]]] = [
                ("POST /containers", containers + "/containers", {"script": scripts[number]}),
                ("GET /containers", containers + "/containers", {"headers": owner}),
                ("GET /rate-limit", ratelimit + "/rate-limit", {"headers": owner}),
            ]
            before = load(hello + "/")
            row = {BASELINE: Measured(before, 1.0)}
            for name, url, options in endpoints:
                got, after = load(url, **options), load(hello + "/")
                baseline = (before.requests_per_second + after.requests_per_second) / 2
                row[name] = Measured(got, got.requests_per_second / baseline)
                before = after
            measured.append(row)
    return measured


def visitors(client: redis.Redis, count: int) -> list[tuple[str, str]]:
    """`count` visitors from distinct addresses, each with a single-use pass token."""
    made = []
    with client.pipeline(transaction=False) as pipe:
        for i in range(count):
            address = f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"
            token = passes.issue(
                client, client_hash=client_hash(SECRET, address), action="create",
                mode="slider", ttl=600, pipeline=pipe,
            )  # fmt: skip
            made.append((address, token))
        pipe.execute()
    return made


def owner_with_containers(url: str, client: redis.Redis, peer: str, count: int) -> str:
    secret = ""
    for _ in range(count):
        token = passes.issue(client, client_hash=peer, action="create", mode="slider")
        headers = {"Content-Type": "application/json"}
        if secret:
            headers["Authorization"] = f"Bearer {secret}"
        request = urllib.request.Request(
            url + "/containers", method="POST", headers=headers,
            data=json.dumps({"template": "nginx", "captcha_token": token}).encode(),
        )  # fmt: skip
        with urllib.request.urlopen(request) as response:
            secret = secret or response.headers["Sprout-Owner-Token"]
    return secret


def report(rounds: list[dict[str, Measured]]) -> None:
    print(f"{len(rounds)} rounds; the medians over them:")
    print(f"{'endpoint':<20} {'req/s':>9} {'× hello':>8} {'p50 ms':>8} "
          f"{'p99 ms':>8} {'errors':>7}   ratio each round")  # fmt: skip
    for name in rounds[0]:
        loads = [measured[name].load for measured in rounds]
        ratios = [measured[name].ratio for measured in rounds]
        print(
            f"{name:<20} {statistics.median(x.requests_per_second for x in loads):>9.0f} "
            f"{statistics.median(ratios):>8.2f} {statistics.median(x.p50_ms for x in loads):>8.2f} "
            f"{statistics.median(x.p99_ms for x in loads):>8.2f} "
            f"{sum(x.non_2xx for x in loads):>7}   {' '.join(f'{r:.2f}' for r in ratios)}"
        )


if __name__ == "__main__":
    main()
