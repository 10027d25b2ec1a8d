"""Who solves CAPTCHAs in the tests: people (simulated) and the bots we must keep out.

A track is what the frontend sends (`frontend/.../slider-captcha.tsx`): the first point where
the pointer went down (x 0, y 0, t 0), then one point per pointer move, `x` the piece's offset
clamped to [0, max offset] and rounded to 0.1, `y` the vertical drift, `t` whole
milliseconds; pointer moves come once per frame and only when the pointer moved a pixel.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

Track = list[dict[str, float]]
Pixels = npt.NDArray[np.uint8]
Floats = npt.NDArray[np.float32]
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


def _decode(data: bytes, flags: int) -> Pixels:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if image is None:
        raise ValueError("not an image")
    return image.astype(np.uint8)


@dataclass(frozen=True)
class Sight:
    """What a bot has to look at: the two pictures as OpenCV decodes them (the background
    BGR, the piece BGRA, colour channels exactly as stored), the piece's (public) row, and
    the three places along it that look most like the piece's outline, best first: the
    real notch and the two decoys, when the notches are drawn alike."""

    scene: Pixels
    cutout: Pixels
    y: int
    candidates: list[int]

    @classmethod
    def of(
        cls, background: bytes, piece: bytes, piece_y: int, candidates: list[int] | None = None
    ) -> Sight:
        """Decoded; `candidates` when already found in the same pictures, else found here."""
        scene = _decode(background, cv2.IMREAD_COLOR)
        cutout = _decode(piece, cv2.IMREAD_UNCHANGED)
        if candidates is None:
            candidates = _notch_candidates(scene, cutout, piece_y)
        return cls(scene, cutout, piece_y, candidates)

    @property
    def size(self) -> int:
        return int(self.cutout.shape[0])

    @property
    def alpha(self) -> Pixels:
        return self.cutout[..., 3]

    def under(self, x: int) -> Floats:
        """The background where the piece would sit at offset `x`."""
        return self.scene[self.y : self.y + self.size, x : x + self.size].astype(np.float32)


Solver = Callable[[Sight], int]  # where a bot drags the piece, from what it sees


def _outline_scores(scene: Pixels, cutout: Pixels, y: int) -> Floats:
    """How well the background's edges along the piece's row match the piece's outline, per x."""
    size = cutout.shape[0]
    gray = cv2.cvtColor(scene, cv2.COLOR_BGR2GRAY)
    outline = cv2.Canny(cutout[..., 3], 100, 200)
    edges = cv2.Canny(cv2.GaussianBlur(gray, (3, 3), 0), 50, 150)
    scores: Floats = cv2.matchTemplate(edges[y : y + size, :], outline, cv2.TM_CCOEFF_NORMED)[0]
    scores[:size] = -1  # the answer is never under the resting piece
    return scores


def _notch_candidates(scene: Pixels, cutout: Pixels, y: int) -> list[int]:
    scores = _outline_scores(scene, cutout, y)
    size = cutout.shape[0]
    candidates: list[int] = []
    for x in np.argsort(-scores, kind="stable"):
        if all(abs(int(x) - c) > size // 2 for c in candidates):
            candidates.append(int(x))
        if len(candidates) == 3:
            break
    return candidates


def _correlation(a: Floats, b: Floats) -> float:
    """Pearson correlation of two sets of colours (per-channel means removed, channels
    pooled): blind to a brightness and contrast change. -inf when either set is flat."""
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    spread = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum()) / spread if spread > 1e-6 else -math.inf


def _best(sight: Sight, likeness: Callable[[int], float]) -> int:
    """The likeliest notch candidate; on a tie (nothing to tell them apart) the best outline."""
    return max(sight.candidates, key=likeness)  # max keeps the first of equals


def _solid(sight: Sight, depth: float) -> npt.NDArray[np.bool_]:
    """The piece's opaque pixels at least `depth` px in from its border (past the bevel)."""
    opaque = (sight.alpha == 255).astype(np.uint8)
    inward = cv2.distanceTransform(np.pad(opaque, 1), cv2.DIST_L2, 3)[1:-1, 1:-1]
    return np.asarray(inward >= depth)


def opencv_solver(sight: Sight) -> int:
    """The classic attack: Canny edges of the background against the piece's outline,
    template matching along the piece's (public) row, right of the resting piece."""
    return int(np.argmax(_outline_scores(sight.scene, sight.cutout, sight.y)))


def colour_solver(sight: Sight) -> int:
    """Find the three notch candidates by outline, then pick the one whose fill best
    correlates with the piece (blurred a little, as a fill made from the picture would be)."""
    inner = cv2.erode(sight.alpha, np.ones((5, 5), np.uint8)) > 200
    blurred = cv2.GaussianBlur(sight.cutout[..., :3].astype(np.float32), (7, 7), 2)
    reference = np.asarray(blurred, np.float32)[inner]
    return _best(sight, lambda x: _correlation(reference, sight.under(x)[inner]))


def raw_bytes_solver(sight: Sight) -> int:
    """No vision: the colour channels of the piece's fully transparent pixels, as stored (a
    person never sees them), matched against the background at each notch candidate. Around
    the outline the picture is not carved, so a piece cut with its surroundings kept in its
    invisible pixels matches there, exactly."""
    hidden = sight.alpha == 0
    stored = sight.cutout[..., :3][hidden].astype(np.float32)
    return _best(sight, lambda x: _correlation(stored, sight.under(x)[hidden]))


def colour_match_solver(sight: Sight) -> int:
    """Piece colours against each notch fill, pixel by pixel: how closely one brightness and
    contrast change, the same for every channel, turns the (slightly blurred) piece into the
    fill. A fill made by darkening what was under the notch keeps the piece's colours, so the
    real notch fits with little left over."""
    inner = _solid(sight, 2)
    blurred = cv2.GaussianBlur(sight.cutout[..., :3].astype(np.float32), (0, 0), 1.5)[inner]
    design = np.stack([blurred.ravel(), np.ones(blurred.size, np.float32)], axis=1)

    def fit(x: int) -> float:
        fill = sight.under(x)[inner].ravel()
        coefficients = np.linalg.lstsq(design, fill, rcond=None)[0]
        left_over = fill - design @ coefficients
        return -float((left_over * left_over).mean())

    return _best(sight, fit)


def fill_mean_solver(sight: Sight) -> int:
    """Three numbers per notch: the fill's mean colour, compared with the piece's. A fill
    made from what was under the notch, darkened, keeps the piece's hue."""
    inner = _solid(sight, 3)
    piece_hue = _hue(sight.cutout[..., :3][inner].astype(np.float32).mean(axis=0))
    return _best(
        sight,
        lambda x: -float(np.abs(_hue(sight.under(x)[inner].mean(axis=0)) - piece_hue).sum()),
    )


def _hue(colour: Floats) -> Floats:
    """A colour's chromaticity: its channels as shares of their sum (brightness removed)."""
    shares: Floats = colour / max(float(colour.sum()), 1.0)
    return shares


def continuity_solver(sight: Sight) -> int:
    """What a person looks for: does the picture carry on across the piece's border? Pairs
    each background pixel just outside the notch's outline with the nearest piece pixel just
    inside it, and takes the candidate where the two rings correlate best."""
    pad = 6
    inner_ring = _solid(sight, 2.5) & ~_solid(sight, 5.5)
    covered = np.pad((sight.alpha > 0).astype(np.uint8), pad)
    outward = cv2.distanceTransform(1 - covered, cv2.DIST_L2, 3)
    outer_ring = (outward >= 2) & (outward < 5)
    inner_at = np.argwhere(inner_ring) + pad  # in the padded square's coordinates
    outer_at = np.argwhere(outer_ring)
    nearest = np.argmin(((outer_at[:, None, :] - inner_at[None, :, :]) ** 2).sum(axis=2), axis=1)
    inside = sight.cutout[..., :3][inner_ring].astype(np.float32)[nearest]
    height, width = sight.scene.shape[:2]

    def carries_on(x: int) -> float:
        rows = outer_at[:, 0] + sight.y - pad
        columns = outer_at[:, 1] + x - pad
        seen = (rows >= 0) & (rows < height) & (columns >= 0) & (columns < width)
        outside = sight.scene[rows[seen], columns[seen]].astype(np.float32)
        return _correlation(inside[seen], outside)

    return _best(sight, carries_on)


def payload(challenge_id: str, drag: Drag, nonce: str, *, keyboard: bool = False) -> dict[str, Any]:
    return {
        "challenge_id": challenge_id,
        "x": drag.x,
        "track": drag.track,
        "input": "keyboard" if keyboard else "pointer",
        "pow_nonce": nonce,
    }
