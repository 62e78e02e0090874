"""How every figure of the portal states a share: one decimal of a percentage, none of
nothing (a page shows "—" rather than a 0 % or 100 % that counts no case)."""

from __future__ import annotations


def pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None
