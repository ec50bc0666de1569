"""The interval domain of the range analysis: [lo, hi] and a NaN flag, and the helpers the op rules share.

It sits below `violet.compile.ops` (each op's interval rule builds these) and
below `violet.compile.ranges` (which runs the rules over an IR), so neither
imports the other for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from violet.dag.types import INT64_MAX, INT64_MIN, DType

INF = math.inf


@dataclass(frozen=True)
class Interval:
    """The numbers a value can take (inclusive), and whether it can be NaN."""

    lo: float
    hi: float
    nan: bool = False

    def __str__(self) -> str:
        text = f"[{_num(self.lo)}, {_num(self.hi)}]" if self.lo <= self.hi else "(no number)"
        return text + (" or NaN" if self.nan else "")

    def union(self, other: Interval) -> Interval:
        return Interval(min(self.lo, other.lo), max(self.hi, other.hi), self.nan or other.nan)

    def intersect(self, other: Interval) -> Interval:
        """The numbers in both (NaN only if both can be)."""
        return Interval(max(self.lo, other.lo), min(self.hi, other.hi), self.nan and other.nan)

    def saturated(self, lo: float, hi: float) -> Interval:
        """The values once clamped to [lo, hi] (a format that saturates): each bound moved inside it."""
        if self.empty:
            return self
        return Interval(min(max(self.lo, lo), hi), min(max(self.hi, lo), hi), self.nan)

    def within(self, lo: float, hi: float) -> bool:
        """Proven to lie in [lo, hi] and never NaN."""
        return not self.nan and lo <= self.lo and self.hi <= hi

    @property
    def empty(self) -> bool:
        """No number at all: the value is only NaN (or never computed)."""
        return self.lo > self.hi


def _num(x: float) -> str:
    return repr(int(x)) if float(x).is_integer() and abs(x) < 2**63 else repr(x)


BOOL = Interval(0, 1)


def point(value: float | int | bool) -> Interval:
    """One value's interval; an integer stays an int, so int64 bounds stay exact beyond 2**53."""
    if isinstance(value, float) and math.isnan(value):
        return Interval(INF, -INF, True)
    v = value if isinstance(value, float) else int(value)
    return Interval(v, v)


def wrapped(exact: Interval, dtype: DType) -> Interval:
    """An int64 result whose exact range leaves int64 wraps around: then nothing is proven."""
    if dtype == DType.I64 and (exact.lo < INT64_MIN or exact.hi > INT64_MAX):
        return Interval(INT64_MIN, INT64_MAX)
    return exact
