"""Helpers for the CAPTCHA tests: a context with a cheap proof of work, and solving a challenge
the way the browser would (the tests read the answer from Redis when they play a person)."""

from __future__ import annotations

import random
import struct
from typing import Any

import redis

from shared import keys, metrics
from shared.captcha import pow
from shared.context import Context
from shared.settings import CaptchaSettings, LimitSettings, TemplateSettings
from tests.captcha_bots import Drag, human_drag, payload
from tests.clock import FakeClock
from tests.conftest import make_api_settings


def captcha_failures() -> dict[str, int]:
    """The CAPTCHA answers this process refused so far, by reason (`shared.metrics`)."""
    (family,) = metrics.CAPTCHA_FAILURES.collect()
    return {
        sample.labels["reason"]: int(sample.value)
        for sample in family.samples
        if sample.name.endswith("_total")
    }


# Where the proof of work is not the point, a few bits keep the tests fast.
CHEAP_POW = {"slider_difficulty": 4, "pow_difficulty": 6, "max_difficulty": 10}


def captcha_context(
    redis_url: str,
    clock: FakeClock,
    *,
    seed: int = 1,
    limits: dict[str, int] | None = None,
    **captcha: Any,
) -> Context:
    return Context.create(
        make_api_settings(redis_url=redis_url),
        LimitSettings(**(limits or {})),
        TemplateSettings(),
        clock=clock,
        captcha=CaptchaSettings(**{**CHEAP_POW, **captcha}),
        rng=random.Random(seed),
    )


def stored_answer(r: redis.Redis, challenge_id: str) -> int:
    """The answer the server keeps (what a person finds by looking at the picture)."""
    return int(r.hget(keys.captcha_challenge(challenge_id), "x"))  # type: ignore[arg-type]


def nonce_for(challenge: dict[str, Any]) -> str:
    return pow.solve(challenge["pow"]["salt"], challenge["pow"]["difficulty"])


def person_solves(
    challenge: dict[str, Any], answer: int, rng: random.Random, clock: FakeClock
) -> tuple[dict[str, Any], Drag]:
    """A person: looks for a moment, drags to the notch; the clock moves on meanwhile."""
    drag = human_drag(answer, rng, max_offset=challenge["width"] - challenge["piece_size"])
    clock.advance(rng.uniform(0.6, 2.5) + drag.duration_ms / 1000)
    return payload(challenge["challenge_id"], drag, nonce_for(challenge)), drag


def jpeg_markers(data: bytes) -> list[int]:
    """The markers of a JPEG's segments, up to the start of the scan (the image data)."""
    assert data[:2] == b"\xff\xd8"
    markers, at = [], 2
    while True:
        marker = data[at + 1]
        markers.append(marker)
        if marker == 0xDA:
            return markers
        at += 2 + struct.unpack(">H", data[at + 2 : at + 4])[0]


def png_chunks(data: bytes) -> list[bytes]:
    """The types of a PNG's chunks, in order."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(data):
        length = struct.unpack(">I", data[at : at + 4])[0]
        chunks.append(data[at + 4 : at + 8])
        at += 12 + length
    return chunks
