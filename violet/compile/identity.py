"""What "the same value" means, once: for `violet diff`, the divergence monitor and `journal verify`.

Floats are the same when their 64-bit patterns are (-0.0 is not 0.0, one ULP is a difference), except
that every NaN is one value: LLVM may legally flip a NaN's sign (docs/semantics.md). An int and a float
are the same only when the int has exactly that float's value. Everything else compares with ==.
Records (a decision, a trade) are compared field by field in a given order, and the first field that
differs is what a report names; streams of records (trades) record by record (`stream_differences`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

CANONICAL_NAN = 0x7FF8000000000000


def float_bits(x: float) -> int:
    """A float64's bit pattern as an unsigned int."""
    return int(np.float64(x).view(np.uint64))


def identity_bits(x: float) -> int:
    """The bits identity compares: the float's own, with every NaN as the canonical quiet NaN."""
    return CANONICAL_NAN if x != x else float_bits(x)


def identity_view(values: np.ndarray) -> np.ndarray:
    """identity_bits over a float64 array."""
    return np.where(np.isnan(values), np.uint64(CANONICAL_NAN), values.view(np.uint64))


def plain(value: Any) -> Any:
    """A numpy scalar or array as the Python value a reference or the journal hands back."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value.item() if isinstance(value, np.generic) else value


def same(a: Any, b: Any) -> bool:
    """The same value under VIOLET's identity (see the module's doc); lists element by element."""
    a, b = plain(a), plain(b)
    if isinstance(a, list) or isinstance(b, list):
        return isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, float) or isinstance(b, float):
        return _numbers(a, b) and identity_bits(float(a)) == identity_bits(float(b))
    return bool(a == b)


def _numbers(a: Any, b: Any) -> bool:
    """Both are numbers, and an int among them has an exact float64 value."""
    return all(not isinstance(x, bool) and (isinstance(x, float) or (isinstance(x, int) and _exact(x)))
               for x in (a, b))


def _exact(x: int) -> bool:
    try:
        return float(x) == x
    except OverflowError:  # beyond the largest float64
        return False


def first_difference(fields: Iterable[str], mine: Mapping[str, Any], theirs: Mapping[str, Any]) -> str | None:
    """The first field (in `fields` order) whose values are not the same; a field one side lacks differs."""
    for name in fields:
        if name not in mine or name not in theirs or not same(mine[name], theirs[name]):
            return name
    return None


@dataclass(frozen=True)
class Difference:
    """Record `index` of two streams differs: in `field` (its first differing field), or in "count" where
    one stream has no record `index` (`mine` and `theirs` are then the two lengths)."""

    index: int
    field: str
    mine: Any
    theirs: Any


def stream_differences(fields: Sequence[str], mine: Sequence[Mapping[str, Any]],
                       theirs: Sequence[Mapping[str, Any]]) -> list[Difference]:
    """Two record streams (trades, in the order they close) compared record k with record k on `fields`:
    one Difference per pair that differs, then one "count" Difference where the shorter stream ends.
    The one comparison of trade streams: `violet diff`, the divergence monitor and `journal verify`."""
    found = []
    for k, (a, b) in enumerate(zip(mine, theirs)):
        name = first_difference(fields, a, b)
        if name is not None:
            found.append(Difference(k, name, a.get(name), b.get(name)))
    if len(mine) != len(theirs):
        found.append(Difference(min(len(mine), len(theirs)), "count", len(mine), len(theirs)))
    return found


def bits(value: Any) -> str:
    """A value as a report shows it: a float's bit pattern in hex, anything else as text."""
    value = plain(value)
    return f"0x{float_bits(value):016x}" if isinstance(value, float) else str(value)
