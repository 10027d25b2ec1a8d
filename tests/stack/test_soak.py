"""A short soak (`tests.soak`): 20 visitors for 45 s through the local stack, with one of each
fault that matters (a worker job SIGKILLed, Redis stopped with SIGTERM and killed with
SIGKILL, a burst of Kubernetes API errors), then the invariants once the system settled.
Capacity is small and the waiting line short, so visitors wait, and some find it full.

The long soak is a command: `python -m tests.soak --visitors 200 --minutes 5`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.soak import Soak, SoakOptions

pytestmark = pytest.mark.slow

REQUIRED = ("kill_job", "redis_sigterm", "api_errors", "redis_sigkill")


def test_a_short_soak_with_faults_keeps_every_invariant(tmp_path: Path) -> None:
    options = SoakOptions(
        visitors=20,
        seconds=45,
        lifetime=60,
        capacity=12,  # below what 20 visitors hold: some wait in line,
        line=4,  # and, with the line full too, some meet capacity_full
        seed=3,
        data_dir=tmp_path,
        required_faults=REQUIRED,
        fault_gap=(7.0, 9.0),
        api_fault_seconds=(4.0, 5.0),
        think=(0.5, 3.0),
        hold=(2.0, 10.0),
        ramp=5.0,
        settle_timeout=90,
    )
    lines: list[str] = []
    report = Soak(options, log=lines.append).run()
    text = report.text()
    assert report.violations() == [], text

    made = [kind for _, kind, what in report.faults if not what.startswith("could not")]
    for kind in REQUIRED:
        assert kind in made, text
    assert report.acknowledged >= 8, text
    assert report.lost == [] and report.orphan_pods == [] and report.duplicate_pods == {}
    assert set(report.states_acked) <= {"running", "deleted", "failed"}, text
    assert report.errors.get("503 capacity_full", 0) > 0, text
    assert report.waited > 0 and report.line_samples > 0 and report.line_problems == [], text
    assert report.lag == 0 and report.pending_entries == 0
    # Containers did start. How fast is a figure, not an invariant: the report prints it, and
    # `python -m benchmarks.stack` measures click-to-running against its floor (a busy machine
    # slows every launch without anything being wrong).
    assert report.launch_server["n"] > 0, text
