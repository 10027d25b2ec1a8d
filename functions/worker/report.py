"""What one job did, counted by its threads: for its last log line, and for the metrics."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping

from functions.worker.metrics import JobMetrics


class JobReport:
    """The job's tally. Any thread `count`s (a metric, and maybe an outcome); the job's main
    thread `flush`es the metrics to Redis (at most once a second, unless forced)."""

    def __init__(self, metrics: JobMetrics) -> None:
        self.metrics = metrics
        self.outcomes: Counter[str] = Counter()  # by outcome, and "retried", "dead-lettered"
        self.deliveries = 0
        self.reconciles = 0
        self.api_calls = 0
        self.seconds = 0.0
        self.stopped_by = ""
        self._lock = threading.Lock()  # JobMetrics is not thread-safe

    def count(
        self,
        name: str,
        labels: Mapping[str, str] | None = None,
        value: float = 1,
        *,
        outcome: str = "",
        launch: float | None = None,
    ) -> None:
        """Add `value` to a metric; count `outcome`; observe a `launch` time (seconds)."""
        with self._lock:
            self.metrics.inc(name, labels, value)
            if launch is not None:
                self.metrics.observe_launch(launch)
            if outcome:
                self.outcomes[outcome] += 1

    def flush(self, *, force: bool = False) -> None:
        with self._lock:
            self.metrics.flush(force=force)

    def end(self, *, seconds: float, api_calls: int, reconciles: int) -> None:
        """The job is over: its last counts, sent to Redis now."""
        self.seconds, self.api_calls, self.reconciles = seconds, api_calls, reconciles
        self.count("sprout_worker_jobs_total", {"stopped_by": self.stopped_by or "error"})
        self.count("sprout_worker_job_seconds_total", value=seconds)
        self.count("sprout_worker_api_calls_total", value=api_calls)
        self.flush(force=True)

    @property
    def retried(self) -> int:
        return self.outcomes["retried"]

    @property
    def dead_lettered(self) -> int:
        return self.outcomes["dead-lettered"]

    def summary(self) -> str:
        outcomes = " ".join(f"{k}={v}" for k, v in sorted(self.outcomes.items()))
        return (
            f"job done in {self.seconds:.1f}s ({self.stopped_by}): deliveries={self.deliveries} "
            f"{outcomes} reconciles={self.reconciles} api_calls={self.api_calls}"
        )
