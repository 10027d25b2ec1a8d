"""Resource quantities ("500m", "1.5", "128Mi", "1e3") parsed the way apimachinery does.

Mirrors ``k8s.io/apimachinery/pkg/api/resource.Quantity``: decimal SI suffixes (n u m k M G T P E),
binary suffixes (Ki Mi Gi Ti Pi Ei) and decimal exponents, kept exact as fractions.
"""

from __future__ import annotations

import re
from fractions import Fraction

QUANTITY_PATTERN = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
_QUANTITY_RE = re.compile(QUANTITY_PATTERN)
_NUMBER_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)$")

_SUFFIXES: dict[str, Fraction] = {
    "": Fraction(1),
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 10**3),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
    "Ki": Fraction(2**10),
    "Mi": Fraction(2**20),
    "Gi": Fraction(2**30),
    "Ti": Fraction(2**40),
    "Pi": Fraction(2**50),
    "Ei": Fraction(2**60),
}


class QuantityError(ValueError):
    """The text is not a Kubernetes quantity (the API answers 400 for these)."""


def parse_quantity(value: object) -> Fraction:
    """The exact value of a quantity given as JSON string or number."""
    if isinstance(value, bool):
        raise QuantityError(f"quantities must match the regular expression '{QUANTITY_PATTERN}'")
    if isinstance(value, int | float):
        return Fraction(str(value))
    if not isinstance(value, str):
        raise QuantityError(f"quantities must match the regular expression '{QUANTITY_PATTERN}'")
    match = _QUANTITY_RE.match(value.strip())
    if not match or not _NUMBER_RE.match(match.group(1)):
        raise QuantityError(f"quantities must match the regular expression '{QUANTITY_PATTERN}'")
    number, suffix = match.groups()
    base = Fraction(number)
    if suffix in _SUFFIXES:
        return base * _SUFFIXES[suffix]
    exponent = re.fullmatch(r"[eE]([-+]?\d+)", suffix)
    if exponent:
        return base * Fraction(10) ** int(exponent.group(1))
    raise QuantityError("unable to parse quantity's suffix")
