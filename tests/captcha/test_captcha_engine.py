"""The CAPTCHA engine without Redis: puzzle geometry and pictures, proof of work, track rules."""

from __future__ import annotations

import dataclasses
import io
import itertools
import random
import secrets
from collections import Counter
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from shared.captcha import pow, puzzle, track
from shared.captcha.failures import REASONS, Rejected
from shared.errors import ConfigError
from shared.models import TrackPoint
from shared.settings import MAX_PERSON_BITS, CaptchaSettings, load
from tests.captcha_bots import Track, human_drag, key_presses
from tests.captcha_support import jpeg_markers, png_chunks

# Chi-squared critical values at p = 0.001 (so a fair generator fails 1 run in 1000; the
# seeds are fixed, so a run is repeatable either way).
CHI2_CRITICAL_19_DF = 43.82
CHI2_CRITICAL_2_DF = 13.82


def chi_squared(observed: list[int], expected: list[float] | None = None) -> float:
    if expected is None:
        expected = [sum(observed) / len(observed)] * len(observed)
    return sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))


# Puzzle: geometry ----------------------------------------------------------------------------


def test_notches_never_overlap_each_other_the_resting_piece_or_the_edges() -> None:
    rng = random.Random(20261126)
    for _ in range(20_000):
        layout = puzzle.plan(rng)
        size = layout.size
        assert puzzle.PIECE_MIN <= size <= puzzle.PIECE_MAX
        assert puzzle.EDGE_MARGIN <= layout.y <= puzzle.HEIGHT - size - puzzle.EDGE_MARGIN
        low, high = puzzle.notch_range(size)
        notches = layout.notches
        assert len(set(notches)) == 3 and layout.x in notches
        assert all(low <= left <= high for left in notches)
        assert low >= size  # right of the piece at rest
        gaps = [b - a for a, b in itertools.pairwise(notches)]
        assert min(gaps) >= size + puzzle.NOTCH_GAP, (notches, size)


def test_answer_is_uniform_over_its_range_chi_squared() -> None:
    # x's range depends on the piece size; bin where x falls in its own range, and expect
    # each bin to get the share of that range's positions it covers.
    rng = random.Random(7)
    observed, expected = [0] * 20, [0.0] * 20
    sizes: Counter[int] = Counter()
    for _ in range(40_000):
        layout = puzzle.plan(rng)
        low, high = puzzle.notch_range(layout.size)
        observed[(layout.x - low) * 20 // (high - low + 1)] += 1
        sizes[layout.size] += 1
    for size, count in sizes.items():
        low, high = puzzle.notch_range(size)
        span = high - low + 1
        for offset in range(span):
            expected[offset * 20 // span] += count / span
    statistic = chi_squared(observed, expected)
    print(f"answer x over 20 bins: chi2 = {statistic:.1f} (critical {CHI2_CRITICAL_19_DF})")
    assert statistic < CHI2_CRITICAL_19_DF


def test_the_real_notch_is_equally_often_left_middle_and_right() -> None:
    rng = random.Random(9)
    ranks = [0, 0, 0]
    for _ in range(15_000):
        layout = puzzle.plan(rng)
        ranks[layout.notches.index(layout.x)] += 1
    assert chi_squared(ranks) < CHI2_CRITICAL_2_DF, ranks


def test_the_system_csprng_plans_puzzles() -> None:
    layout = puzzle.plan(secrets.SystemRandom())
    assert layout.x in layout.notches


def test_piece_shapes_vary() -> None:
    rng = random.Random(3)
    shapes = {puzzle.plan(rng).shape.knobs for _ in range(300)}
    assert len(shapes) > 20
    for knobs in shapes:
        assert 1 in knobs and sum(1 for k in knobs if k) >= 2


# Puzzle: pictures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def drawn() -> list[tuple[puzzle.Layout, puzzle.Puzzle]]:
    rng = random.Random(5)
    return [(layout, puzzle.draw(layout)) for layout in (puzzle.plan(rng) for _ in range(12))]


def test_images_carry_no_metadata(drawn) -> None:
    for _, picture in drawn:
        markers = jpeg_markers(picture.background)
        assert not [m for m in markers if 0xE0 <= m <= 0xEF or m == 0xFE], markers
        assert set(png_chunks(picture.piece)) == {b"IHDR", b"IDAT", b"IEND"}
        for data in (picture.background, picture.piece):
            image = Image.open(io.BytesIO(data))
            assert not set(image.info) & {"exif", "icc_profile", "xmp", "comment", "jfif", "dpi"}
            assert not image.getexif()


def test_pictures_have_the_promised_sizes_and_the_piece_is_see_through(drawn) -> None:
    for layout, picture in drawn:
        background = Image.open(io.BytesIO(picture.background))
        assert (background.format, background.mode, background.size) == ("JPEG", "RGB", (320, 160))
        piece = Image.open(io.BytesIO(picture.piece))
        assert (piece.format, piece.mode, piece.size) == ("PNG", "RGBA", (layout.size,) * 2)
        alpha = np.asarray(piece)[..., 3]
        assert alpha[0, 0] == 0 and alpha[layout.size // 2, layout.size // 2] == 255
        assert picture.background_url().startswith("data:image/jpeg;base64,")
        assert picture.piece_url().startswith("data:image/png;base64,")


def test_backgrounds_differ_and_drawing_a_plan_repeats(drawn) -> None:
    layout, first = drawn[0]
    assert puzzle.draw(layout) == first
    pixels = [np.asarray(Image.open(io.BytesIO(p.background)), np.float32) for _, p in drawn]
    for a, b in itertools.pairwise(pixels):
        assert np.abs(a - b).mean() > 20  # no shared photo underneath


def test_the_background_is_the_same_whichever_notch_is_real(drawn) -> None:
    """The three notches are drawn alike and before the piece: swap which one is the answer
    and the background comes out byte for byte the same. So nothing an attacker can measure
    in the background alone (fill colours, shading, noise, compression) tells them apart."""
    for layout, picture in drawn[:4]:
        for decoy in layout.decoys:
            others = tuple(x for x in layout.notches if x != decoy)
            swapped = dataclasses.replace(layout, x=decoy, decoys=(others[0], others[1]))
            redrawn = puzzle.draw(swapped)
            assert redrawn.background == picture.background
            assert redrawn.piece != picture.piece


def test_every_notch_shows_the_same_flat_tone(drawn) -> None:
    """Nothing of what was under a notch is left in it: the same grey fills all three."""
    for layout, picture in drawn:
        pixels = np.asarray(Image.open(io.BytesIO(picture.background)), np.float32)
        deep = _eroded(puzzle.outline_mask(layout.shape) > 0.99, 3)
        fills = [
            pixels[layout.y : layout.y + layout.size, left : left + layout.size][deep]
            for left in layout.notches
        ]
        means = np.array([fill.mean(axis=0) for fill in fills])
        # Apart only by noise and compression (colour bleeds a little from around a notch).
        assert np.ptp(means, axis=0).max() < 10, means
        assert np.ptp(means.mean(axis=0)) < 10, means  # grey: the channels agree
        for fill in fills:
            assert fill.std(axis=0).max() < 16  # flat, bar the noise


def _eroded(mask: npt.NDArray[np.bool_], steps: int) -> npt.NDArray[np.bool_]:
    for _ in range(steps):
        padded = np.pad(mask, 1)
        mask = mask & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return mask


def test_notches_are_darker_than_their_surroundings(drawn) -> None:
    for layout, picture in drawn:
        pixels = np.asarray(Image.open(io.BytesIO(picture.background)), np.float32).mean(axis=2)
        mask = puzzle.outline_mask(layout.shape) > 0.99
        for left in layout.notches:
            inside = pixels[layout.y : layout.y + layout.size, left : left + layout.size][mask]
            band = pixels[layout.y : layout.y + layout.size, left - 30 : left - 2]
            assert inside.mean() < band.mean() + 5


def test_strip_jpeg_metadata_removes_exif_and_comments() -> None:
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010E] = "secret description"
    Image.new("RGB", (8, 8), "red").save(out, "JPEG", exif=exif, comment=b"hello")
    stripped = puzzle.strip_jpeg_metadata(out.getvalue())
    assert b"secret" not in stripped and b"hello" not in stripped
    assert Image.open(io.BytesIO(stripped)).size == (8, 8)
    with pytest.raises(ValueError, match="not a JPEG"):
        puzzle.strip_jpeg_metadata(b"GIF89a")


# Proof of work -------------------------------------------------------------------------------


def test_leading_zero_bits() -> None:
    assert pow.leading_zero_bits(b"\x00" * 32) == 256
    assert pow.leading_zero_bits(b"\x80" + b"\x00" * 31) == 0
    assert pow.leading_zero_bits(b"\x00\x01" + b"\xff" * 30) == 15


def test_solve_finds_the_smallest_nonce_and_is_valid_checks_it() -> None:
    salt = "c2FsdC1mb3ItdGVzdHM"
    nonce = pow.solve(salt, 12)
    assert pow.is_valid(salt, nonce, 12)
    assert pow.leading_zero_bits(pow.digest(salt, nonce)) >= 12
    assert all(not pow.is_valid(salt, str(n), 12) for n in range(int(nonce)))
    assert not pow.is_valid(salt, nonce + "a", 0)
    assert not pow.is_valid(salt, "", 0)
    assert not pow.is_valid(salt, "١٢", 0)  # Arabic-Indic digits are digits, not ASCII


def test_difficulty_tables_are_checked_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = CaptchaSettings()
    assert (settings.slider_difficulty, settings.pow_difficulty) == (16, 17)
    assert settings.max_difficulty == MAX_PERSON_BITS
    monkeypatch.setenv(
        "SPROUT_CAPTCHA_LOAD_LEVELS", '[{"at": 0.6, "bits": 2}, {"at": 0.9, "bits": 4}]'
    )
    assert [(level.at, level.bits) for level in load(CaptchaSettings).load_levels] == [
        (0.6, 2),
        (0.9, 4),
    ]
    refusals = [
        ("SPROUT_CAPTCHA_MAX_DIFFICULTY", str(MAX_PERSON_BITS + 1), "less than or equal to 19"),
        ("SPROUT_CAPTCHA_POW_DIFFICULTY", str(MAX_PERSON_BITS + 1), "less than or equal to 19"),
        ("SPROUT_CAPTCHA_LOAD_LEVELS", '[{"at": 0.9, "bits": 1}, {"at": 0.5, "bits": 2}]', "rise"),
        ("SPROUT_CAPTCHA_FAILURE_LEVELS", '[{"at": 1, "bits": 2}, {"at": 3, "bits": 2}]', "rise"),
        ("SPROUT_CAPTCHA_NETWORK_FAILURE_LEVELS", '[{"at": 0.5, "bits": 1}]', "a count"),
        ("SPROUT_CAPTCHA_FAILURE_LEVELS", '[{"at": 65, "bits": 1}]', "from 1 to 64"),
        ("SPROUT_CAPTCHA_LOAD_LEVELS", '[{"at": 0.5, "bits": 0}]', "greater than or equal to 1"),
    ]
    for variable, value, words in refusals:
        with monkeypatch.context() as env:
            env.setenv(variable, value)
            with pytest.raises(ConfigError, match=words) as refused:
                load(CaptchaSettings)
            assert variable in str(refused.value)
    with pytest.raises(ConfigError, match="SLIDER_DIFFICULTY: Value error, above max_difficulty"):
        load(CaptchaSettings, slider_difficulty=12, max_difficulty=10)


# Track rules ---------------------------------------------------------------------------------


MAX_OFFSET = 276
TARGET = 150


def points(raw: Track) -> list[TrackPoint]:
    return [TrackPoint(**p) for p in raw]


def verdict(raw: Track, x: int, *, keyboard: bool = False, elapsed_ms: float = 10_000) -> str:
    try:
        track.check(
            points(raw), x=x, max_offset=MAX_OFFSET, keyboard=keyboard, elapsed_ms=elapsed_ms
        )
    except Rejected as rejection:
        return rejection.reason
    return "pass"


@pytest.fixture
def drag() -> Track:
    made = human_drag(TARGET, random.Random(4), max_offset=MAX_OFFSET)
    assert verdict(made.track, made.x) == "pass"
    return made.track


def straight(target: float, count: int, duration: float, wobble: bool) -> Track:
    return [
        {
            "x": target * i / count,
            "y": float((i * 7) % 3 - 1) if wobble else 0.0,
            "t": duration * i / count,
        }
        for i in range(count + 1)
    ]


def _copy(raw: Track) -> Track:
    return [dict(p) for p in raw]


def few_points(raw: Track) -> tuple[Track, int]:
    return [raw[0], *raw[-4:]], round(raw[-1]["x"])


def outside(raw: Track) -> tuple[Track, int]:
    out = _copy(raw)
    out[len(out) // 2]["x"] = MAX_OFFSET + 5
    return out, round(raw[-1]["x"])


def backwards(raw: Track) -> tuple[Track, int]:
    out = _copy(raw)
    middle = len(out) // 2
    out[middle]["t"], out[middle + 1]["t"] = out[middle + 1]["t"], out[middle]["t"]
    return out, round(raw[-1]["x"])


def too_long(raw: Track) -> tuple[Track, int]:
    out = _copy(raw)
    for p in out:
        p["t"] *= 50
    return out, round(raw[-1]["x"])


def too_short(raw: Track) -> tuple[Track, int]:
    out = _copy(raw)
    for p in out:
        p["t"] *= 0.1
    return out, round(raw[-1]["x"])


def late_start(raw: Track) -> tuple[Track, int]:
    out = _copy(raw)
    out[0]["x"] = 12
    return out, round(raw[-1]["x"])


def wrong_end(raw: Track) -> tuple[Track, int]:
    return raw, round(raw[-1]["x"]) + 3


def jump(raw: Track) -> tuple[Track, int]:
    out = _copy(raw)
    out[len(out) // 2]["y"] += 90
    return out, round(raw[-1]["x"])


def flat(raw: Track) -> tuple[Track, int]:
    out = _copy(raw)
    for p in out:
        p["y"] = 0
    return out, round(raw[-1]["x"])


def wobbly(raw: Track) -> tuple[Track, int]:
    out = _copy(raw)
    for i, p in enumerate(out):
        p["y"] = 150 * i / len(out)  # drifting off the slider
    return out, round(raw[-1]["x"])


def steady(raw: Track) -> tuple[Track, int]:
    return straight(TARGET, 40, 900, wobble=True), TARGET


def no_braking(raw: Track) -> tuple[Track, int]:
    # Speeds up all the way and lets go at full speed.
    out = [
        {"x": round(TARGET * (i / 40) ** 2, 1), "y": float(i % 3 == 0), "t": 20.0 * i}
        for i in range(41)
    ]
    return out, TARGET


POINTER_CASES: dict[str, Callable[[Track], tuple[Track, int]]] = {
    "track_points": few_points,
    "track_points:outside": outside,
    "track_time": backwards,
    "track_duration:long": too_long,
    "track_duration:short": too_short,
    "track_start": late_start,
    "track_end": wrong_end,
    "track_jump": jump,
    "track_jitter:flat": flat,
    "track_jitter:wild": wobbly,
    "track_speed": steady,
    "track_ending": no_braking,
}


@pytest.mark.parametrize("case", sorted(POINTER_CASES))
def test_each_pointer_rule_rejects_on_its_own(drag: Track, case: str) -> None:
    mutated, x = POINTER_CASES[case](drag)
    assert verdict(mutated, x) == case.split(":")[0]


def test_equal_timestamps_are_tolerated(drag: Track) -> None:
    coarse = _copy(drag)
    for p in coarse:
        p["t"] = p["t"] // 33 * 33  # a browser clamping its timer to ~33 ms
    assert verdict(coarse, round(drag[-1]["x"])) == "pass"


def test_track_may_not_outlast_the_challenge(drag: Track) -> None:
    x = round(drag[-1]["x"])
    assert verdict(drag, x, elapsed_ms=drag[-1]["t"]) == "pass"
    assert verdict(drag, x, elapsed_ms=drag[-1]["t"] - 1_500) == "track_duration"


def test_empty_pointer_track_is_refused() -> None:
    assert verdict([], 100) == "track_points"


def test_keyboard_tracks() -> None:
    presses = key_presses(TARGET, random.Random(2)).track
    assert verdict(presses, TARGET, keyboard=True) == "pass"
    home_end: Track = [{"x": MAX_OFFSET, "y": 0.0, "t": 0.0}, {"x": 0.0, "y": 0.0, "t": 400.0}]
    assert (
        verdict([*home_end, *(dict(p, t=p["t"] + 800) for p in presses)], TARGET, keyboard=True)
        == "pass"
    )
    stepped = _copy(presses)
    stepped[3]["x"] += 5
    assert verdict(stepped, TARGET, keyboard=True) == "track_keys"
    rushed = _copy(presses)
    rushed[4]["t"] = rushed[3]["t"] + 5
    assert verdict(rushed, TARGET, keyboard=True) == "track_keys"
    lifted = _copy(presses)
    lifted[2]["y"] = 1
    assert verdict(lifted, TARGET, keyboard=True) == "track_keys"
    assert verdict(presses, TARGET + 2, keyboard=True) == "track_end"
    # A pointer track sent as keys fails, and key presses sent as a drag fail.
    assert verdict(
        human_drag(TARGET, random.Random(1), max_offset=MAX_OFFSET).track, TARGET, keyboard=True
    ) in {"track_keys", "track_end"}
    assert verdict(presses, TARGET) != "pass"


def test_reasons_are_known() -> None:
    with pytest.raises(ValueError, match="unknown reason"):
        Rejected("bogus")
    assert len(set(REASONS)) == len(REASONS)
