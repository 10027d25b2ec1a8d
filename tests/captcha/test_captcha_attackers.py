"""Attacker bots against the real engine on real Redis, with hard ceilings, and the rates printed.

Each attempt is a fresh challenge from a fresh address (a botnet: the per-address challenge
limit and failure-driven difficulty would slow a single address down much further). The
proof of work is cheap here (`CHEAP_POW`): it prices attempts, it does not stop a bot that
pays, so it is not what these tests measure. Bots only use what the server hands out:
the piece's size and row, the pictures, the salt and the difficulty. Bots that never look
at the pictures get their challenges undrawn (`open_challenge` without `render`); that is
the same server state, minus 10 ms of drawing per attempt.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from shared.captcha import pow, service
from shared.context import Context
from shared.errors import CaptchaFailed
from shared.models import CaptchaVerifyRequest
from tests import captcha_bots as bots
from tests.captcha_support import captcha_context, captcha_failures
from tests.clock import FakeClock

Bot = Callable[[service.Opened, random.Random], tuple[bots.Drag, bool]]
Solver = Callable[[bytes, bytes, int], int]


@pytest.fixture
def ctx(redis_server, redis_client, clock) -> Context:
    return captcha_context(redis_server.url, clock, seed=20261126)


@dataclass
class Tally:
    passed: int = 0
    tries: int = 0
    before: dict[str, int] = field(default_factory=captcha_failures)  # failures so far

    def add(self, passed: bool) -> None:
        self.passed += passed
        self.tries += 1

    @property
    def rate(self) -> float:
        return self.passed / self.tries

    def refused(self) -> str:
        """Which rules turned the failed attempts away (failures counted since the start)."""
        now = captcha_failures()
        counts = {k: n - self.before.get(k, 0) for k, n in now.items()}
        ranked = sorted(((n, k) for k, n in counts.items() if n), reverse=True)
        return ", ".join(f"{k} {n}" for n, k in ranked) or "nothing"

    def report(self, capsys: pytest.CaptureFixture[str], name: str) -> float:
        with capsys.disabled():
            print(
                f"\n  captcha attacker: {name}: {self.passed}/{self.tries} passed"
                f" = {self.rate:.1%} (refused by: {self.refused()})"
            )
        return self.rate


def send(ctx: Context, clock: FakeClock, client: str, body: dict[str, Any], wait_ms: float) -> bool:
    """Post a solution after a moment to look and `wait_ms`; True if it earned a pass."""
    clock.advance(1.0 + wait_ms / 1000)
    try:
        service.verify(ctx, client=client, body=CaptchaVerifyRequest.model_validate(body))
    except CaptchaFailed:
        return False
    return True


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


def solve_by_sight(ctx: Context, clock: FakeClock, solver: Solver, tries: int, seed: int) -> Tally:
    rng = random.Random(seed)
    tally = Tally()
    for i in range(tries):
        client = f"seer-{seed}-{i}"
        opened = service.open_challenge(ctx, client=client, action="create", mode="slider")
        shown = service.render(opened).challenge
        assert shown.background and shown.piece and shown.piece_size and shown.piece_y is not None
        background = base64.b64decode(shown.background.split(",", 1)[1])
        piece = base64.b64decode(shown.piece.split(",", 1)[1])
        guess = solver(background, piece, shown.piece_y)
        drag = bots.human_drag(guess, rng, max_offset=320 - shown.piece_size)
        nonce = pow.solve(shown.pow.salt, shown.pow.difficulty)
        body = bots.payload(shown.challenge_id, drag, nonce)
        tally.add(send(ctx, clock, client, body, drag.duration_ms))
    return tally


def test_opencv_edge_template_solver_is_held_near_one_in_three(ctx, clock, capsys):
    tally = solve_by_sight(ctx, clock, bots.opencv_solver, 400, seed=7)
    assert tally.report(capsys, "OpenCV Canny + template matching") <= 0.45


def test_a_colour_aware_solver_beats_the_decoys(ctx, clock, capsys):
    """Known weakness, measured rather than hidden: decoys stop an outline matcher, not a
    solver that also compares the piece's colours with each notch's (darkened) fill. What
    a person can see, a program can see; the proof of work and the quotas carry the rest."""
    tally = solve_by_sight(ctx, clock, bots.colour_solver, 150, seed=8)
    rate = tally.report(capsys, "outline + colour correlation (informational, no ceiling)")
    assert rate > 0.5, "the decoys got stronger than this test says: update it and the docs"
