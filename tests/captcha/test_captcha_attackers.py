"""Attacker bots against the real engine on real Redis, with hard ceilings, and the rates printed.

Each attempt is a fresh challenge from a fresh address (a botnet: the per-address challenge
limit and failure-driven difficulty would slow a single address down much further). The
proof of work is cheap here (`CHEAP_POW`): it prices attempts, it does not stop a bot that
pays, so it is not what these tests measure. Bots only use what the server hands out:
the piece's size and row, the pictures, the salt and the difficulty. Bots that never look
at the pictures get their challenges undrawn (`open_challenge` without `render`); that is
the same server state, minus 10 ms of drawing per attempt.

Bots that look at the pictures share one set of `SEEN` challenges, drawn once for the module:
each bot's answer to each is judged by `service.check`, every rule `verify` applies, without
taking the challenge out of Redis (which would leave it to the first bot alone). With three
notches drawn alike, guessing among them passes about one time in three: the ceilings say
that a bot does no better than that. A bot that does much worse than that has found a
difference between the notches too, the other way round (`near_chance`).
"""

from __future__ import annotations

import base64
import io
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from PIL import Image

from shared.captcha import pow, service
from shared.captcha.failures import Rejected
from shared.context import Context
from shared.errors import CaptchaFailed
from shared.models import CaptchaVerifyRequest
from tests import captcha_bots as bots
from tests.captcha_support import captcha_context, captcha_failures, jpeg_markers, png_chunks
from tests.clock import FakeClock

# 1,200 puzzles drawn and attacked: part of `make test` and CI, not of the fast loop
pytestmark = pytest.mark.slow

Bot = Callable[[service.Opened, random.Random], tuple[bots.Drag, bool]]
SEEN = 1200  # challenges every picture-reading bot is run on


@pytest.fixture
def ctx(redis_server, redis_client, clock) -> Context:
    return captcha_context(redis_server.url, clock, seed=20261126)


@dataclass
class Tally:
    passed: int = 0
    tries: int = 0
    refusals: Counter[str] = field(default_factory=Counter)  # the rule that refused, per try

    def add(self, refused: str | None) -> None:
        self.passed += refused is None
        self.tries += 1
        if refused:
            self.refusals[refused] += 1

    @property
    def rate(self) -> float:
        return self.passed / self.tries

    def report(self, capsys: pytest.CaptureFixture[str], name: str) -> float:
        refused = ", ".join(f"{k} {n}" for k, n in self.refusals.most_common()) or "nothing"
        with capsys.disabled():
            print(
                f"\n  captcha attacker: {name}: {self.passed}/{self.tries} passed"
                f" = {self.rate:.1%} (refused by: {refused})"
            )
        return self.rate


def send(
    ctx: Context, clock: FakeClock, client: str, body: dict[str, Any], wait_ms: float
) -> str | None:
    """Post a solution after a moment to look and `wait_ms`; None if it earned a pass, else
    the rule that refused it (the server's failure counters say which)."""
    clock.advance(1.0 + wait_ms / 1000)
    before = captcha_failures()
    try:
        service.verify(ctx, client=client, body=CaptchaVerifyRequest.model_validate(body))
    except CaptchaFailed:
        after = captcha_failures()
        return next(reason for reason, n in after.items() if n != before.get(reason, 0))
    return None


def run(ctx: Context, clock: FakeClock, bot: Bot, tries: int, seed: int) -> Tally:
    rng = random.Random(seed)
    tally = Tally()
    for i in range(tries):
        client = f"bot-{seed}-{i}"
        opened = service.open_challenge(ctx, client=client, action="create", mode="slider")
        drag, keyboard = bot(opened, rng)
        c = opened.challenge
        body = bots.payload(c.id, drag, pow.solve(c.salt, c.difficulty), keyboard=keyboard)
        tally.add(send(ctx, clock, client, body, drag.duration_ms))
    return tally


def slide_limit(opened: service.Opened) -> int:
    assert opened.layout is not None
    return 320 - opened.layout.size  # the piece's size is public; its answer is not used


def random_straight(opened: service.Opened, rng: random.Random) -> tuple[bots.Drag, bool]:
    return bots.straight_drag(rng.randint(0, slide_limit(opened)), rng), False


def random_human(opened: service.Opened, rng: random.Random) -> tuple[bots.Drag, bool]:
    limit = slide_limit(opened)
    return bots.human_drag(rng.randint(0, limit), rng, max_offset=limit), False


def random_keys(opened: service.Opened, rng: random.Random) -> tuple[bots.Drag, bool]:
    return bots.key_presses(rng.randint(1, slide_limit(opened)), rng), True


def knows_the_answer(opened: service.Opened, rng: random.Random) -> tuple[bots.Drag, bool]:
    return bots.human_drag(opened.challenge.x, rng, max_offset=slide_limit(opened)), False


def knows_the_answer_keys(opened: service.Opened, rng: random.Random) -> tuple[bots.Drag, bool]:
    return bots.key_presses(opened.challenge.x, rng), True


def test_random_offset_with_a_straight_drag_never_passes(ctx, clock, capsys):
    tally = run(ctx, clock, random_straight, 2000, seed=1)
    tally.report(capsys, "random offset + straight drag + valid PoW")
    assert tally.passed == 0


def test_random_offset_with_a_human_drag_rarely_passes(ctx, clock, capsys):
    tally = run(ctx, clock, random_human, 2000, seed=2)
    assert tally.report(capsys, "random offset + human-like drag + valid PoW") <= 0.05


def test_random_offset_with_key_presses_rarely_passes(ctx, clock, capsys):
    tally = run(ctx, clock, random_keys, 1000, seed=3)
    assert tally.report(capsys, "random offset + key presses + valid PoW") <= 0.05


def test_people_who_see_the_notch_get_through(ctx, clock, capsys):
    dragged = run(ctx, clock, knows_the_answer, 1000, seed=4)
    assert dragged.report(capsys, "knows the answer + human-like drag") >= 0.99
    pressed = run(ctx, clock, knows_the_answer_keys, 300, seed=5)
    assert pressed.report(capsys, "knows the answer + key presses") >= 0.99


def test_replays_never_pass(ctx, clock, capsys):
    rng = random.Random(6)
    originals, replays = Tally(), Tally()
    for i in range(200):
        client = f"victim-{i}"
        opened = service.open_challenge(ctx, client=client, action="create", mode="slider")
        drag, _ = knows_the_answer(opened, rng)
        c = opened.challenge
        body = bots.payload(c.id, drag, pow.solve(c.salt, c.difficulty))
        originals.add(send(ctx, clock, client, body, drag.duration_ms))
        # The same payload again from the same address, then on a fresh challenge.
        replays.add(send(ctx, clock, client, body, 0))
        fresh = service.open_challenge(ctx, client=client, action="create", mode="slider")
        again = dict(body, challenge_id=fresh.challenge.id)
        replays.add(send(ctx, clock, client, again, drag.duration_ms))
    assert originals.passed >= 198
    replays.report(capsys, "replay of a passing payload")
    assert replays.passed == 0


# Bots that look at the pictures ---------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """One challenge as the server handed it out: what the browser gets, and what it stored.
    The pictures stay encoded (1,200 decoded backgrounds would hold 200 MB); each bot
    decodes them again, the outline's candidates found once."""

    opened: service.Opened
    background: bytes  # JPEG
    piece: bytes  # PNG
    piece_y: int
    candidates: list[int]
    nonce: str

    def sight(self) -> bots.Sight:
        return bots.Sight.of(self.background, self.piece, self.piece_y, self.candidates)


@pytest.fixture(scope="module")
def seen(redis_server) -> Iterator[list[Seen]]:
    """`SEEN` fresh challenges, each opened for its own address and drawn by the service."""
    ctx = captcha_context(redis_server.url, FakeClock(), seed=20261127)
    challenges = []
    for i in range(SEEN):
        opened = service.open_challenge(ctx, client=f"seer-{i}", action="create", mode="slider")
        shown = service.render(opened).challenge
        assert shown.background and shown.piece and shown.piece_y is not None
        background = base64.b64decode(shown.background.split(",", 1)[1])
        piece = base64.b64decode(shown.piece.split(",", 1)[1])
        candidates = bots.Sight.of(background, piece, shown.piece_y).candidates
        nonce = pow.solve(shown.pow.salt, shown.pow.difficulty)
        challenges.append(Seen(opened, background, piece, shown.piece_y, candidates, nonce))
    ctx.close()
    yield challenges


def judged(ctx: Context, challenge: Seen, guess: int, rng: random.Random) -> str | None:
    """A person's drag to `guess`, submitted when it ends: None if every rule of `verify`
    lets it through, else the rule that refuses it."""
    stored = challenge.opened.challenge
    drag = bots.human_drag(guess, rng, max_offset=320 - stored.size)
    body = CaptchaVerifyRequest.model_validate(bots.payload(stored.id, drag, challenge.nonce))
    try:
        service.check(
            ctx.captcha,
            stored,
            client=stored.client,
            action=stored.action,
            body=body,
            now=stored.issued_at + 1.0 + drag.duration_ms / 1000,
        )
    except Rejected as rejection:
        return rejection.reason
    return None


def solve_by_sight(ctx: Context, seen: list[Seen], solver: bots.Solver, seed: int) -> Tally:
    rng = random.Random(seed)
    tally = Tally()
    for challenge in seen:
        tally.add(judged(ctx, challenge, solver(challenge.sight()), rng))
    return tally


def near_chance(rate: float, ceiling: float) -> bool:
    """At most `ceiling`, and not far under one in three: a score that keeps missing the real
    notch tells it apart as well as one that keeps finding it (invert it and it wins)."""
    return 0.27 <= rate <= ceiling


def test_a_person_who_sees_the_notch_passes_these_challenges(ctx, seen, capsys):
    """The yardstick for the bots below: the same judging lets a person through."""
    rng, tally = random.Random(7), Tally()
    for challenge in seen:
        tally.add(judged(ctx, challenge, challenge.opened.challenge.x, rng))
    assert tally.report(capsys, "knows the answer, judged like the bots below") >= 0.99


def test_the_pictures_hide_nothing_a_person_cannot_see(seen):
    """Every fully transparent pixel of the piece is (0, 0, 0, 0), the partly transparent
    ones (the outline) are all the rim's one colour, and neither picture carries metadata:
    nothing to read beyond what is drawn."""
    for challenge in seen:
        chunks = png_chunks(challenge.piece)
        assert set(chunks) == {b"IHDR", b"IDAT", b"IEND"} and chunks[-1] == b"IEND", chunks
        markers = jpeg_markers(challenge.background)
        assert not [m for m in markers if 0xE0 <= m <= 0xEF or m == 0xFE], markers
        piece = np.asarray(Image.open(io.BytesIO(challenge.piece)))
        assert piece.shape[2] == 4
        transparent = piece[piece[..., 3] == 0]
        assert len(transparent) > 0 and not transparent.any()
        outline = piece[(piece[..., 3] > 0) & (piece[..., 3] < 255)][:, :3]
        assert len(outline) > 0 and (outline == outline[0]).all()


def test_the_raw_bytes_of_the_piece_give_nothing_away(ctx, seen, capsys):
    tally = solve_by_sight(ctx, seen, bots.raw_bytes_solver, seed=8)
    assert near_chance(tally.report(capsys, "raw bytes: the piece's transparent pixels"), 0.35)


def test_the_opencv_edge_template_solver_is_held_near_one_in_three(ctx, seen, capsys):
    tally = solve_by_sight(ctx, seen, bots.opencv_solver, seed=9)
    assert near_chance(tally.report(capsys, "OpenCV Canny + template matching"), 0.40)


def test_piece_colours_against_each_fill_pick_no_better_than_chance(ctx, seen, capsys):
    tally = solve_by_sight(ctx, seen, bots.colour_match_solver, seed=10)
    assert near_chance(tally.report(capsys, "colour correlation: piece colours vs each fill"), 0.40)


def test_the_fill_mean_colour_picks_no_better_than_chance(ctx, seen, capsys):
    tally = solve_by_sight(ctx, seen, bots.fill_mean_solver, seed=11)
    assert near_chance(tally.report(capsys, "fill mean colour (3 numbers per notch)"), 0.40)


def test_outline_and_colour_correlation_picks_no_better_than_chance(ctx, seen, capsys):
    tally = solve_by_sight(ctx, seen, bots.colour_solver, seed=12)
    assert near_chance(tally.report(capsys, "outline + colour correlation"), 0.40)


def test_the_picture_carries_on_across_the_border_of_the_piece(ctx, seen, capsys):
    """The cue a person places the piece by, read by a program: no ceiling (what a person can
    see, a program can see; the proof of work and the quotas price the rest). The floor says
    the cue is still there: below it, people would be guessing too."""
    tally = solve_by_sight(ctx, seen, bots.continuity_solver, seed=13)
    assert tally.report(capsys, "edge continuity across the piece's border (no ceiling)") >= 0.6
