"""Drawing one slider puzzle: where things go (`plan`), then the pictures (`draw`).

Every puzzle is new: a procedural background (gradient, waves, colour blobs, random shapes),
a jigsaw piece of 38-48 px with random knobs, and three notches of the piece's shape at the
same height: the real one and two decoys. The piece is cut from the clean picture with its
own brightness jitter, bevel and rim; a person places it where the picture carries on across
its border, the one cue the pictures give.

The pictures show only what a person sees:
- the notches are drawn alike and before the piece: one flat grey per puzzle, shaded like a
  hollow, keeps nothing of what was under any of them, so the background comes out the same
  byte for byte whichever of the three is real (then noise and a JPEG round trip at a random
  quality over the whole picture, colour at full resolution);
- the piece's fully transparent pixels are (0, 0, 0, 0) and its partly transparent outline
  is the rim's colour alone: no picture hides in what the browser does not draw;
- neither image carries metadata (PNG: IHDR, IDAT, IEND; JPEG: no APPn or COM segment).

Placement: the three notches sit on a circle of the allowed x positions, a random rotation
apart, at least a piece width plus `NOTCH_GAP` from each other; one of the three, chosen at
random, is the answer. So the answer's x is uniform over its range, and nothing in the
notches' positions tells which of them is real.

`plan` draws from the RNG it is given (the OS CSPRNG in production): the answer lives there.
`draw` is deterministic given the plan (its own seed feeds numpy), so tests can repeat it.
"""

from __future__ import annotations

import base64
import functools
import io
import math
import random
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

WIDTH = 320
HEIGHT = 160
PIECE_MIN = 38
PIECE_MAX = 48
NOTCH_GAP = 6  # px between neighbouring notches, at least
LEFT_MARGIN = 10  # between the resting piece (x = 0) and the leftmost notch
EDGE_MARGIN = 4  # between a notch and the other edges of the picture
SUPERSAMPLE = 4  # the piece outline is drawn this much larger, then shrunk (anti-aliased)

Floats = npt.NDArray[np.float32]
Bytes = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Shape:
    """A jigsaw outline in a `size`-px square."""

    size: int
    knobs: tuple[int, int, int, int]  # top, right, bottom, left: 1 tab, -1 blank, 0 flat
    along: tuple[float, float, float, float]  # each knob's centre along its side, 0..1
    radius: float  # knob radius as a fraction of `size`


@dataclass(frozen=True)
class Layout:
    shape: Shape
    y: int  # top of the piece and of every notch
    x: int  # the answer: left edge of the real notch
    decoys: tuple[int, int]
    seed: int  # feeds everything `draw` makes up

    @property
    def size(self) -> int:
        return self.shape.size

    @property
    def notches(self) -> tuple[int, ...]:
        return tuple(sorted((self.x, *self.decoys)))


@dataclass(frozen=True)
class Puzzle:
    background: bytes  # JPEG, WIDTH x HEIGHT
    piece: bytes  # PNG with alpha, size x size

    def background_url(self) -> str:
        return "data:image/jpeg;base64," + base64.b64encode(self.background).decode()

    def piece_url(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.piece).decode()


def notch_range(size: int) -> tuple[int, int]:
    """The lowest and highest left edge a notch of `size` may have (inclusive)."""
    return size + LEFT_MARGIN, WIDTH - size - EDGE_MARGIN


def max_offset(size: int) -> int:
    """How far the piece can slide."""
    return WIDTH - size


# Planning ------------------------------------------------------------------------------------


def plan(rng: random.Random) -> Layout:
    size = rng.randint(PIECE_MIN, PIECE_MAX)
    shape = _random_shape(rng, size)
    y = rng.randint(EDGE_MARGIN, HEIGHT - size - EDGE_MARGIN)
    low, high = notch_range(size)
    span = high - low + 1
    spacing = size + NOTCH_GAP
    extra = span - 3 * spacing  # free room to share among the three gaps (always > 0)
    a, b = sorted((rng.randint(0, extra), rng.randint(0, extra)))
    offsets = (0, spacing + a, 2 * spacing + b)
    rotation = rng.randrange(span)
    positions = [low + (rotation + offset) % span for offset in offsets]
    answer = positions.pop(rng.randrange(3))
    return Layout(shape, y, answer, (positions[0], positions[1]), rng.getrandbits(128))


def _random_shape(rng: random.Random, size: int) -> Shape:
    while True:
        knobs = tuple(rng.choice((-1, -1, 0, 1, 1)) for _ in range(4))
        if 1 in knobs and sum(1 for k in knobs if k) >= 2:
            break
    along = tuple(rng.uniform(0.38, 0.62) for _ in range(4))
    return Shape(size, knobs, along, rng.uniform(0.12, 0.145))  # type: ignore[arg-type]


# Drawing -------------------------------------------------------------------------------------


def draw(layout: Layout) -> Puzzle:
    g = np.random.default_rng(layout.seed)
    clean = _scenery(g)
    mask = outline_mask(layout.shape)
    rim, lit, shade = _edges(mask)
    hollow = _hollow(clean, mask, rim, lit, shade, layout, g)
    picture = clean.astype(np.float32)
    for left in layout.notches:
        _carve(picture, mask, hollow, left, layout.y)
    picture += g.standard_normal(picture.shape, dtype=np.float32) * np.float32(g.uniform(2, 6))
    background = _jpeg(_to_bytes(picture), int(g.integers(55, 86)))
    piece = _piece(clean, mask, rim, lit, shade, layout, g)
    return Puzzle(background, piece)


def outline_mask(shape: Shape) -> Floats:
    """The piece's coverage, 0..1 per pixel, anti-aliased."""
    big = shape.size * SUPERSAMPLE
    radius = shape.radius * big
    margin = math.ceil(1.4 * radius) + SUPERSAMPLE
    body = big - 2 * margin
    image = Image.new("L", (big, big), 0)
    pen = ImageDraw.Draw(image)
    pen.rectangle((margin, margin, big - margin - 1, big - margin - 1), fill=255)
    # Blanks first, then tabs, so a blank never bites into a tab.
    for wanted in (-1, 1):
        for side, (kind, along) in enumerate(zip(shape.knobs, shape.along, strict=True)):
            if kind != wanted:
                continue
            centre = margin + along * body
            shift = 0.4 * radius * kind  # tabs sit outside the body's edge, blanks inside
            cx, cy = {
                0: (centre, margin - shift),
                1: (big - margin + shift, centre),
                2: (centre, big - margin + shift),
                3: (margin - shift, centre),
            }[side]
            box = (cx - radius, cy - radius, cx + radius, cy + radius)
            pen.ellipse(box, fill=255 if kind > 0 else 0)
    small = image.resize((shape.size, shape.size), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32) / np.float32(255)


@functools.cache
def _grid() -> tuple[Floats, Floats]:
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    return xs / np.float32(WIDTH), ys / np.float32(WIDTH)


def _scenery(g: np.random.Generator) -> Bytes:
    xs, ys = _grid()
    angle = g.uniform(0, 2 * math.pi)
    ramp = xs * np.float32(math.cos(angle)) + ys * np.float32(math.sin(angle))
    ramp = (ramp - ramp.min()) / np.float32(ramp.max() - ramp.min())
    low, high = g.uniform(20, 235, (2, 3)).astype(np.float32)
    picture = low + (high - low) * ramp[..., None]
    for _ in range(int(g.integers(1, 3))):
        direction = g.uniform(0, 2 * math.pi)
        frequency = np.float32(g.uniform(3, 18) * 2 * math.pi)
        along = xs * np.float32(math.cos(direction)) + ys * np.float32(math.sin(direction))
        wave = np.sin(along * frequency + np.float32(g.uniform(0, 2 * math.pi)))
        tint = g.uniform(-1, 1, 3).astype(np.float32) * np.float32(g.uniform(6, 22))
        picture += wave[..., None] * tint
    rows, columns = int(g.integers(3, 7)), int(g.integers(6, 13))
    seeds = g.integers(0, 256, (rows, columns, 3), dtype=np.uint8)
    blobs = Image.fromarray(seeds).resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC)
    weight = np.float32(g.uniform(0.25, 0.5))
    picture = picture * (1 - weight) + np.asarray(blobs, dtype=np.float32) * weight
    image = Image.fromarray(_to_bytes(picture))
    pen = ImageDraw.Draw(image, "RGBA")
    for _ in range(int(g.integers(8, 17))):
        colour = (*(int(c) for c in g.integers(0, 256, 3)), int(g.integers(70, 220)))
        cx, cy = g.uniform(-20, WIDTH + 20), g.uniform(-20, HEIGHT + 20)
        w, h = g.uniform(8, 70, 2)
        kind = int(g.integers(0, 4))
        if kind == 0:
            pen.ellipse((cx - w, cy - h, cx + w, cy + h), fill=colour)
        elif kind == 1:
            pen.rectangle((cx - w, cy - h, cx + w, cy + h), fill=colour)
        elif kind == 2:
            corners = int(g.integers(3, 7))
            turns = np.sort(g.uniform(0, 2 * math.pi, corners))
            reach = g.uniform(0.5, 1.0, corners)
            pen.polygon(
                [
                    (cx + w * r * math.cos(t), cy + h * r * math.sin(t))
                    for t, r in zip(turns, reach, strict=True)
                ],
                fill=colour,
            )
        else:
            end = (cx + g.uniform(-120, 120), cy + g.uniform(-60, 60))
            pen.line(((cx, cy), end), fill=colour, width=int(g.integers(2, 9)))
    return np.asarray(image, dtype=np.uint8)


def _edges(mask: Floats) -> tuple[Floats, Floats, Floats]:
    """The 1-px rim inside the outline, and its upper-left (lit) and lower-right halves."""
    padded = np.pad(mask, 1)
    neighbours = [padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:]]
    eroded = np.minimum.reduce([mask, *neighbours])
    rim = mask - eroded
    lit = np.clip(mask - padded[:-2, :-2], 0, 1)  # mask minus itself moved down-right
    shade = np.clip(mask - padded[2:, 2:], 0, 1)
    return rim, lit, shade


def _hollow(
    clean: Bytes,
    mask: Floats,
    rim: Floats,
    lit: Floats,
    shade: Floats,
    layout: Layout,
    g: np.random.Generator,
) -> Floats:
    """What every notch of the puzzle shows: one flat grey, about half as bright as the
    picture along the notches' row, shaded like a hollow (the upper-left wall in shadow, the
    lower-right one lit) with a faint rim. Nothing of what was under a notch shows, and all
    three look alike: only the picture around them tells them apart."""
    size = mask.shape[0]
    row = clean[layout.y : layout.y + size].astype(np.float32)
    brightness = float((row @ np.array([0.299, 0.587, 0.114], np.float32)).mean())
    grey = float(np.clip(brightness * g.uniform(0.4, 0.55), 22, 100))
    walls = shade * np.float32(g.uniform(25, 45)) - lit * np.float32(g.uniform(20, 40))
    return mask * np.float32(grey) + walls + rim * np.float32(g.uniform(25, 55))


def _carve(picture: Floats, mask: Floats, hollow: Floats, left: int, top: int) -> None:
    """Cut one notch: the picture gives way to the hollow where the outline covers it."""
    size = mask.shape[0]
    cover = mask[..., None]
    inside = picture[top : top + size, left : left + size]
    inside *= 1 - cover
    inside += hollow[..., None]


def _piece(
    clean: Bytes,
    mask: Floats,
    rim: Floats,
    lit: Floats,
    shade: Floats,
    layout: Layout,
    g: np.random.Generator,
) -> bytes:
    """The picture under the real notch, with its own brightness, a bevel and a light rim.
    Only what a person sees is stored: the outline's partly transparent pixels are the rim's
    colour alone (not the picture at full strength, faded by alpha), and the fully
    transparent ones are (0, 0, 0, 0)."""
    size, top, left = layout.size, layout.y, layout.x
    cut = clean[top : top + size, left : left + size].astype(np.float32)
    cut = cut * np.float32(g.uniform(0.82, 1.18)) + np.float32(g.uniform(-12, 12))
    bevel = lit * np.float32(g.uniform(45, 80)) - shade * np.float32(g.uniform(35, 65))
    cut += bevel[..., None]
    light = int(g.integers(225, 256))  # the rim's grey
    glow = (rim * np.float32(g.uniform(0.35, 0.6)))[..., None]
    cut = cut * (1 - glow) + np.float32(light) * glow
    alpha = _to_bytes(mask * np.float32(255))
    colour = _to_bytes(cut)
    colour[(alpha > 0) & (alpha < 255)] = light
    colour[alpha == 0] = 0
    rgba = np.dstack((colour, alpha))
    out = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(out, "PNG", compress_level=3)
    return out.getvalue()


def _to_bytes(values: Floats) -> Bytes:
    return np.clip(values, 0, 255).astype(np.uint8)


def _jpeg(pixels: Bytes, quality: int) -> bytes:
    # Colour at full resolution (4:4:4). The usual 4:2:0 keeps colour at half resolution,
    # coded in 16x16 blocks, and the colours around a notch rang deep into its flat fill,
    # sign flipped: since the picture carries on around the real notch, its fill's mean
    # colour sat farthest from the piece's in half the puzzles.
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=quality, subsampling=0)
    return strip_jpeg_metadata(out.getvalue())


def strip_jpeg_metadata(data: bytes) -> bytes:
    """Drop every APPn (JFIF, EXIF, XMP, ICC) and COM segment; keep what decodes the image."""
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG")
    out = bytearray(data[:2])
    at = 2
    while at < len(data):
        if data[at] != 0xFF:
            raise ValueError("malformed JPEG segment")
        marker = data[at + 1]
        if marker == 0xDA:  # start of scan: the rest is image data
            out += data[at:]
            break
        end = at + 2 + int.from_bytes(data[at + 2 : at + 4], "big")
        if not (0xE0 <= marker <= 0xEF or marker == 0xFE):
            out += data[at:end]
        at = end
    return bytes(out)
