"""Who solves CAPTCHAs in the tests: people (simulated) and the bots we must keep out.

A track is what the frontend sends (`frontend/.../slider-captcha.tsx`): the first point where
the pointer went down (x 0, y 0, t 0), then one point per pointer move, `x` the piece's offset
clamped to [0, max offset] and rounded to 0.1, `y` the vertical drift, `t` whole
milliseconds; pointer moves come once per frame and only when the pointer moved a pixel.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

Track = list[dict[str, float]]
FRAME_MS = 1000 / 60


@dataclass(frozen=True)
class Drag:
    track: Track
    x: int  # what the frontend submits: the last offset, rounded
    duration_ms: float


def _min_jerk(progress: float) -> float:
    p = min(1.0, max(0.0, progress))
    return p**3 * (10 - 15 * p + 6 * p * p)


def human_drag(target: float, rng: random.Random, *, max_offset: int) -> Drag:
    """A person dragging the piece to `target`: a fast reach (often past it or short of it),
    then one or two slow corrections, with tremor, vertical drift and uneven frames."""
    final = target + rng.uniform(-2.4, 2.4)
    if rng.random() < 0.45:
        first_aim = final + rng.choice((-1, 1)) * rng.uniform(3, 14)
    else:
        first_aim = final + rng.uniform(-2, 2)
    aims = [first_aim]
    if abs(first_aim - final) > 2 or rng.random() < 0.3:
        aims.append(final)
    # Submovements: (start time, duration, from, to).
    moves: list[tuple[float, float, float, float]] = []
    clock, position = rng.uniform(40, 220), 0.0
    for index, aim in enumerate(aims):
        distance = abs(aim - position)
        if index == 0:
            duration = 260 + 1.6 * distance + rng.uniform(0, 450)
        else:
            duration = rng.uniform(140, 320)
            clock += rng.uniform(60, 260)  # a pause to look
        moves.append((clock, duration, position, aim))
        clock += duration
        position = aim
    end = clock
    sway = rng.uniform(-7, 7)
    points: Track = [{"x": 0.0, "y": 0.0, "t": 0.0}]
    last_pointer = (0, 0)
    walk = 0.0
    t = rng.uniform(4, FRAME_MS)
    while t <= end + FRAME_MS:
        position = 0.0
        for start, duration, origin, aim in moves:
            if t >= start:
                position = origin + (aim - origin) * _min_jerk((t - start) / duration)
        walk += rng.gauss(0, 0.25)
        drift = sway * math.sin(math.pi * min(1.0, t / end)) + walk
        pointer = (round(position + rng.gauss(0, 0.25)), round(drift))
        if pointer != last_pointer:
            last_pointer = pointer
            x = float(min(max_offset, max(0, pointer[0])))
            points.append({"x": x, "y": float(pointer[1]), "t": float(round(t))})
        t += rng.uniform(15.0, 18.4) + (FRAME_MS if rng.random() < 0.03 else 0.0)
    return Drag(points, round(points[-1]["x"]), points[-1]["t"])


def straight_drag(target: float, rng: random.Random) -> Drag:
    """A script: a straight line at constant speed, evenly spaced in time."""
    steps = rng.randint(15, 60)
    duration = rng.uniform(300, 1500)
    points = [
        {"x": round(target * i / steps, 1), "y": 0.0, "t": float(round(duration * i / steps))}
        for i in range(steps + 1)
    ]
    return Drag(points, round(target), points[-1]["t"])


def key_presses(target: int, rng: random.Random) -> Drag:
    """A keyboard user: Page Up while far, then arrows, at a person's pace."""
    points: Track = []
    x, t = 0, 0.0
    while x != target:
        step = 10 if target - x >= 10 else (1 if target > x else -1)
        x += step
        points.append({"x": float(x), "y": 0.0, "t": float(round(t))})
        t += rng.uniform(110, 420)
    return Drag(points, target, points[-1]["t"] if points else 0.0)


def _decode(data: bytes, flags: int) -> npt.NDArray[np.uint8]:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if image is None:
        raise ValueError("not an image")
    return image.astype(np.uint8)


def opencv_solver(background: bytes, piece: bytes, piece_y: int) -> int:
    """The classic attack: Canny edges of the background against the piece's outline,
    template matching along the piece's (public) row, right of the resting piece."""
    scene = _decode(background, cv2.IMREAD_GRAYSCALE)
    cutout = _decode(piece, cv2.IMREAD_UNCHANGED)
    size = cutout.shape[0]
    outline = cv2.Canny(cutout[..., 3], 100, 200)
    edges = cv2.Canny(cv2.GaussianBlur(scene, (3, 3), 0), 50, 150)
    band = edges[piece_y : piece_y + size, :]
    scores = cv2.matchTemplate(band, outline, cv2.TM_CCOEFF_NORMED)[0]
    scores[:size] = -1  # the answer is never under the resting piece
    return int(np.argmax(scores))


def colour_solver(background: bytes, piece: bytes, piece_y: int) -> int:
    """A stronger attack (informational, no ceiling): find the three notch candidates by
    outline, then pick the one whose (darkened, blurred) fill best correlates with the piece."""
    scene = _decode(background, cv2.IMREAD_COLOR)
    cutout = _decode(piece, cv2.IMREAD_UNCHANGED)
    size = cutout.shape[0]
    gray = cv2.cvtColor(scene, cv2.COLOR_BGR2GRAY)
    outline = cv2.Canny(cutout[..., 3], 100, 200)
    edges = cv2.Canny(cv2.GaussianBlur(gray, (3, 3), 0), 50, 150)
    scores = cv2.matchTemplate(edges[piece_y : piece_y + size, :], outline, cv2.TM_CCOEFF_NORMED)[0]
    scores[:size] = -1
    candidates: list[int] = []
    for x in np.argsort(-scores):
        if all(abs(int(x) - c) > size // 2 for c in candidates):
            candidates.append(int(x))
        if len(candidates) == 3:
            break
    inner = cv2.erode(cutout[..., 3], np.ones((5, 5), np.uint8)) > 200
    reference = cv2.GaussianBlur(cutout[..., :3].astype(np.float32), (7, 7), 2)[inner]

    def likeness(x: int) -> float:
        fill = scene[piece_y : piece_y + size, x : x + size].astype(np.float32)[inner]
        a = reference - reference.mean(axis=0)
        b = fill - fill.mean(axis=0)
        return float((a * b).sum() / (np.sqrt((a * a).sum() * (b * b).sum()) + 1e-6))

    return max(candidates, key=likeness)


def payload(challenge_id: str, drag: Drag, nonce: str, *, keyboard: bool = False) -> dict[str, Any]:
    return {
        "challenge_id": challenge_id,
        "x": drag.x,
        "track": drag.track,
        "input": "keyboard" if keyboard else "pointer",
        "pow_nonce": nonce,
    }
