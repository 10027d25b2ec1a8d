"""Is this drag (or this run of key presses) plausibly a person moving the slider?

A track is what the browser saw while the piece moved: points `(x, y, t)` with `x` the
piece's left offset in image pixels, `y` the pointer's vertical drift from where the drag
began (0 for keys), `t` milliseconds since the drag (or the first key press) began. The
pointer track starts with the point where the pointer went down.

Pointer rules: enough points; times never go backwards (equal times are tolerated: browsers
coarsen their timers); a plausible duration, no longer than the challenge has existed; a start
at the piece's resting place (0) and an end at the submitted offset; no step too far at once;
some vertical drift, but not wild; varying speed; and slowing down at the end.

Keyboard rules: only the slider's own steps (±1, ±10 px, Home, End, or nothing at an edge),
y always 0, no two presses faster than a key can repeat, the last one at the submitted offset.

Each rule raises `Rejected` with its own reason. These rules stop naive bots; a bot that fakes
a human-like drag passes them, and the offset and the proof of work are what hold it back.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from shared.captcha.failures import Rejected

KEY_STEPS = frozenset({0, 1, 10})  # arrows ±1, Page Up / Page Down ±10 (frontend contract)


class Point(Protocol):
    @property
    def x(self) -> float: ...
    @property
    def y(self) -> float: ...
    @property
    def t(self) -> float: ...


@dataclass(frozen=True)
class TrackRules:
    min_points: int = 8
    min_duration_ms: float = 200
    max_duration_ms: float = 60_000
    duration_slack_ms: float = 1_000  # the track may outlast the challenge by this (clocks)
    start_tolerance: float = 2  # px from 0 where the first point must be
    end_tolerance: float = 1  # px between the last point and the submitted x
    edge_tolerance: float = 2  # px outside [0, max offset] a point may be
    max_step: float = 80  # px between consecutive points, either axis
    min_drift: float = 1  # px of vertical range, at least ...
    max_drift: float = 100  # ... and at most
    min_speed_variation: float = 0.3  # coefficient of variation of the step speeds
    ending_window: int = 3  # steps: the speed over the last ones is at most ...
    max_ending_speed: float = 0.6  # ... this share of the fastest stretch as long
    min_key_interval_ms: float = 15  # faster than any key repeat


def check(
    points: Sequence[Point],
    *,
    x: int,
    max_offset: int,
    keyboard: bool,
    elapsed_ms: float,
    rules: TrackRules = TrackRules(),
) -> None:
    """Raise `Rejected` unless the track is plausible for a piece ending at `x`."""
    if not points:
        raise Rejected("track_points")
    xs = [p.x for p in points]
    ts = [p.t for p in points]
    if min(xs) < -rules.edge_tolerance or max(xs) > max_offset + rules.edge_tolerance:
        raise Rejected("track_points")
    if any(later < earlier for earlier, later in itertools.pairwise(ts)):
        raise Rejected("track_time")
    if ts[-1] - ts[0] > min(rules.max_duration_ms, elapsed_ms + rules.duration_slack_ms):
        raise Rejected("track_duration")
    if abs(xs[-1] - x) > rules.end_tolerance:
        raise Rejected("track_end")
    if keyboard:
        _check_keys(points, max_offset, rules)
    else:
        _check_drag(points, rules)


def _check_keys(points: Sequence[Point], max_offset: int, rules: TrackRules) -> None:
    previous_x, previous_t = 0.0, -math.inf
    for point in points:
        step = abs(point.x - previous_x)
        lands_on_edge = point.x in (0, max_offset)
        if point.y != 0 or point.x != int(point.x):
            raise Rejected("track_keys")
        if step not in KEY_STEPS and not lands_on_edge:
            raise Rejected("track_keys")
        if point.t - previous_t < rules.min_key_interval_ms:
            raise Rejected("track_keys")
        previous_x, previous_t = point.x, point.t


def _check_drag(points: Sequence[Point], rules: TrackRules) -> None:
    if len(points) < rules.min_points:
        raise Rejected("track_points")
    xs = [p.x for p in points]
    ys = [p.y for p in points]
    ts = [p.t for p in points]
    if not rules.min_duration_ms <= ts[-1] - ts[0]:
        raise Rejected("track_duration")
    if abs(xs[0]) > rules.start_tolerance:
        raise Rejected("track_start")
    steps = list(itertools.pairwise(points))
    if any(abs(b.x - a.x) > rules.max_step or abs(b.y - a.y) > rules.max_step for a, b in steps):
        raise Rejected("track_jump")
    drift = max(ys) - min(ys)
    if not rules.min_drift <= drift <= rules.max_drift:
        raise Rejected("track_jitter")
    speeds = [abs(b.x - a.x) / (b.t - a.t) for a, b in steps if b.t > a.t]
    if len(speeds) < 2 or _variation(speeds) < rules.min_speed_variation:
        raise Rejected("track_speed")
    if _ending_speed(points, rules.ending_window) > rules.max_ending_speed:
        raise Rejected("track_ending")


def _variation(values: list[float]) -> float:
    mean = sum(values) / len(values)
    if mean <= 0:
        return 0.0
    variance = sum((v - mean) ** 2 for v in values) / len(values)
    return math.sqrt(variance) / mean


def _ending_speed(points: Sequence[Point], window: int) -> float:
    """Speed over the last `window` steps, as a share of the fastest `window` steps.

    A hand homing in on a target ends slowly (a reach, or a small correction, slows down to
    a stop); a script dragging at a steady pace ends as fast as it went.
    """
    lengths = [abs(b.x - a.x) for a, b in itertools.pairwise(points)]
    times = [b.t - a.t for a, b in itertools.pairwise(points)]
    speeds = [
        sum(lengths[i : i + window]) / elapsed
        for i in range(max(1, len(lengths) - window + 1))
        if (elapsed := sum(times[i : i + window])) > 0
    ]
    if not speeds or max(speeds) <= 0:
        return math.inf
    final = sum(lengths[-window:]) / max(sum(times[-window:]), 1e-9)
    return final / max(speeds)
