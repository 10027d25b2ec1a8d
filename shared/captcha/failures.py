"""Why a CAPTCHA answer was refused, counted per reason on the server.

The client always gets the same 403 (`shared.errors.CaptchaFailed`) whatever the reason;
the reason goes to a log line (`captcha_failed reason=...`) and to the counter
`sprout_captcha_failures_total` (`shared.metrics`), so operators can see which rule rejects
people.
"""

from __future__ import annotations

# Every reason, in the order the checks run.
REASONS = (
    "missing",  # no such challenge: never issued, expired in Redis, or already used
    "binding",  # issued to another address or for another action
    "expired",  # older than its TTL by the server's clock
    "too_fast",  # answered sooner than a person could
    "pow",  # the proof-of-work nonce does not hold
    "offset",  # the piece is not within the tolerance of the notch
    "track_points",  # too few points, or values out of range
    "track_time",  # timestamps go backwards
    "track_duration",  # the drag is implausibly short or long, or longer than the challenge
    "track_start",  # does not start where the piece rests
    "track_end",  # does not end at the submitted offset
    "track_jump",  # a step too far at once
    "track_jitter",  # a perfectly straight (or wildly wobbling) hand
    "track_speed",  # constant speed: a machine
    "track_ending",  # no slowing down at the end
    "track_keys",  # key presses that are not the slider's steps, or too fast
)


class Rejected(Exception):
    """One check failed; `reason` is one of `REASONS`. Never shown to the client."""

    def __init__(self, reason: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown reason {reason!r}")
        super().__init__(reason)
        self.reason = reason
