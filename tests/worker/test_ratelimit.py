"""The API call cap: average rate, bursts, and fairness across threads."""

from __future__ import annotations

import threading
import time

from functions.worker.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_burst_then_steady_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(20, clock=clock, sleep=clock.sleep)
    for _ in range(20):  # a full bucket: no waiting
        limiter.acquire()
    assert clock.now == 100.0
    for _ in range(40):
        limiter.acquire()
    assert abs(clock.now - 102.0) < 1e-9  # then exactly 20 per second


def test_idle_time_refills_up_to_the_burst_only() -> None:
    clock = Clock()
    limiter = RateLimiter(10, burst=5, clock=clock, sleep=clock.sleep)
    clock.now += 3600
    start = clock.now
    for _ in range(5):
        limiter.acquire()
    assert clock.now == start
    limiter.acquire()
    assert abs(clock.now - start - 0.1) < 1e-9


def test_threads_share_the_cap() -> None:
    limiter = RateLimiter(200, burst=1)
    started = time.monotonic()

    def calls() -> None:
        for _ in range(10):
            limiter.acquire()

    threads = [threading.Thread(target=calls) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert time.monotonic() - started >= 79 / 200 - 0.01  # 80 calls at 200/s, one at once
