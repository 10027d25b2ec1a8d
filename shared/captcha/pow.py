"""Proof of work: find a decimal nonce n such that sha256(salt ":" n) starts with N zero bits.

The browser searches in a Web Worker (about 2**N hashes on average); the server checks one
hash. Any nonce that works is accepted, not only the smallest.
"""

from __future__ import annotations

import hashlib
import itertools

DIGEST_BITS = 256


def leading_zero_bits(digest: bytes) -> int:
    return DIGEST_BITS - int.from_bytes(digest, "big").bit_length()


def digest(salt: str, nonce: str) -> bytes:
    return hashlib.sha256(f"{salt}:{nonce}".encode()).digest()


def is_valid(salt: str, nonce: str, difficulty: int) -> bool:
    if not nonce.isascii() or not nonce.isdigit():
        return False
    return leading_zero_bits(digest(salt, nonce)) >= difficulty


def solve(salt: str, difficulty: int, start: int = 0) -> str:
    """The smallest nonce from `start` on that works (for tests, bots and benchmarks)."""
    prefix = hashlib.sha256(f"{salt}:".encode())
    whole, bits = divmod(difficulty, 8)
    zeros = bytes(whole)
    highest = 0xFF >> bits  # the byte after the zero bytes may be at most this
    for n in itertools.count(start):
        attempt = prefix.copy()
        attempt.update(b"%d" % n)
        value = attempt.digest()
        if value[:whole] == zeros and (bits == 0 or value[whole] <= highest):
            return str(n)
    raise AssertionError("unreachable")  # pragma: no cover
