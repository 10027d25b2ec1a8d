"""What the Prometheus metrics cost each request, in microseconds, on one core.

    python -m benchmarks.metrics [--requests 50000] [--repeats 5]

Measures `metrics.observe_request` alone (a prometheus-client Counter and Histogram), and
`shared.http.serve` answering a trivial route with the metrics on and with them replaced by a
no-op: the difference is what the metrics add to a request (more than the call alone: inside
a request the metrics' objects are no longer in the CPU's caches). No network and no Redis
(the route needs neither). The two variants alternate, round after round, and each keeps its
best round, to see the cost rather than the machine's noise. For information: no goal.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import flask

from shared import http, metrics
from shared.context import Context, LazyContext
from shared.settings import ApiSettings


def best_us(action: Callable[[], object], count: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.thread_time()  # CPU time: other processes on the machine do not count
        for _ in range(count):
            action()
        best = min(best, time.thread_time() - started)
    return best / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5_000, help="per round")
    parser.add_argument("--rounds", type=int, default=20)
    options = parser.parse_args()
    count, rounds = options.requests, options.rounds

    observe_us = best_us(
        lambda: metrics.observe_request("bench", "/containers/{container_id}", "GET", 200, 0.003),
        count * 10,
        rounds,
    )

    ctx = Context.create(
        ApiSettings(redis_url="redis://127.0.0.1:1/0", secret_key="b" * 40, cookie_secure=False)
    )
    context = LazyContext(lambda: ctx)
    routes = http.Routes(
        http.Route("GET", "/containers/{container_id}", lambda call, container_id: ok)
    )
    ok = flask.Response(b"{}", mimetype="application/json")
    app = flask.Flask("bench")
    with app.test_request_context("/containers/abcdefghijkl", environ_base={"REMOTE_ADDR": "::1"}):
        request = flask.request._get_current_object()  # type: ignore[attr-defined]

        def one() -> object:
            return http.serve(request, context, routes, function="bench")

        real = metrics.observe_request
        with_us = without_us = float("inf")
        try:
            for _ in range(rounds):
                metrics.observe_request = real
                with_us = min(with_us, best_us(one, count, 1))
                metrics.observe_request = lambda *args: None
                without_us = min(without_us, best_us(one, count, 1))
        finally:
            metrics.observe_request = real

    added = with_us - without_us
    print(f"metrics.observe_request alone:   {observe_us:6.2f} µs")
    print(f"serve, metrics on:               {with_us:6.2f} µs")
    print(f"serve, metrics replaced by no-op:{without_us:7.2f} µs")
    print(f"added per request:               {added:6.2f} µs")


if __name__ == "__main__":
    main()
