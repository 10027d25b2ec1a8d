"""Requests/s and latency of the API functions, as ratios of a bare functions-framework target.

    python -m benchmarks.api [--seconds 5] [--connections 16]

Each function runs alone through the functions-framework CLI (gunicorn, as deployed), against
a real redis-server; wrk drives it. The baseline, a target that only returns "hello", is
measured in the same run so the ratios hold on a noisy machine. Goals: create ≥ 0.5×,
the GETs ≥ 0.6× the baseline's requests/s.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import urllib.request
from pathlib import Path

import redis

from benchmarks.serving import ROOT, Load, function_server, wrk
from deploy.local.redis_server import RedisServer
from shared import passes
from shared.identity import client_hash

SECRET = "benchmark-secret-key-0123456789abcdefghij"
GOALS = {"POST /containers": 0.5, "GET /containers": 0.6, "GET /rate-limit": 0.6}


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
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as data:
        server = RedisServer(Path(data)).start()
        env = {
            "SPROUT_REDIS_URL": server.url,
            "SPROUT_SECRET_KEY": SECRET,
            "SPROUT_COOKIE_SECURE": "false",
            # wrk plays the trusted proxy for many visitors, each within the default limits;
            # only the global capacity is lifted so that every create is admitted.
            "SPROUT_TRUSTED_PROXIES": "127.0.0.1/32",
            "SPROUT_LIMIT_CAPACITY": "100000000",
        }
        client = redis.Redis.from_url(server.url, decode_responses=True)
        try:
            results = run(client, env, options.seconds, options.connections)
        finally:
            client.close()
            server.stop()
    report(results)


def run(
    client: redis.Redis, env: dict[str, str], seconds: int, connections: int
) -> dict[str, Load]:
    results: dict[str, Load] = {}
    hello = ROOT / "benchmarks" / "hello" / "main.py"
    with function_server(hello, "hello", env) as url:
        results["hello (baseline)"] = wrk(url + "/", seconds=seconds, connections=connections)

    containers = ROOT / "functions" / "containers" / "main.py"
    with function_server(containers, "containers", env) as url:
        results["POST /containers"] = wrk(
            url + "/containers", seconds=seconds, connections=connections,
            script=create_script(visitors(client, 60_000)),
        )  # fmt: skip
        peer = client_hash(SECRET, "127.0.0.1")
        owner = owner_with_containers(url, client, peer, count=3)
        results["GET /containers"] = wrk(
            url + "/containers", seconds=seconds, connections=connections,
            headers={"Authorization": f"Bearer {owner}"},
        )  # fmt: skip

    ratelimit = ROOT / "functions" / "ratelimit" / "main.py"
    with function_server(ratelimit, "ratelimit", env) as url:
        results["GET /rate-limit"] = wrk(
            url + "/rate-limit", seconds=seconds, connections=connections,
            headers={"Authorization": f"Bearer {owner}"},
        )  # fmt: skip
    return results


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


def report(results: dict[str, Load]) -> None:
    baseline = results["hello (baseline)"].requests_per_second
    print(f"{'endpoint':<20} {'req/s':>9} {'× hello':>8} {'goal':>6} {'p50 ms':>8} "
          f"{'p99 ms':>8} {'errors':>7}")  # fmt: skip
    for name, load in results.items():
        ratio = load.requests_per_second / baseline
        goal = GOALS.get(name)
        verdict = "" if goal is None else (f"≥{goal}" + (" ok" if ratio >= goal else " MISS"))
        print(
            f"{name:<20} {load.requests_per_second:>9.0f} {ratio:>8.2f} {verdict:>6} "
            f"{load.p50_ms:>8.2f} {load.p99_ms:>8.2f} {load.non_2xx:>7}"
        )


if __name__ == "__main__":
    main()
