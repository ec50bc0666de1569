"""Names the node subset gives a meaning to, importable so node modules read as Python.

Node bodies are never executed by VIOLET: the lowering parses them and the IR
defines what `clamp` and `select` mean (docs/semantics.md). These plain
definitions agree with the IR on finite inputs and keep linters and readers
oriented; they are not a backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T", float, int)


def clamp(x: T, lo: T, hi: T) -> T:
    """min(max(x, lo), hi), with Python's min/max."""
    return min(max(x, lo), hi)


def select(cond: bool, if_true: T, if_false: T) -> T:
    """if_true when cond holds, else if_false (both are always evaluated)."""
    return if_true if cond else if_false


def _picked(x: Sequence[T], mask: Sequence[bool] | bool) -> list[T]:
    """The masked values, in index order (a scalar mask: all of them or none)."""
    return [v for k, v in enumerate(x) if (mask[k] if isinstance(mask, Sequence) else mask)]


def mean(x: Sequence[float], mask: Sequence[bool] | bool = True) -> float:
    """The masked values added left to right, divided by how many there are."""
    picked = _picked(x, mask)
    total = 0.0
    for v in picked:
        total += v
    return total / len(picked)


def count(mask: Sequence[bool]) -> int:
    """How many entries of the mask are true."""
    return len(_picked(mask, mask))


def rank(x: Sequence[T], mask: Sequence[bool] | bool = True) -> list[int]:
    """Per asset: how many masked non-NaN values are smaller, or equal at a lower index; -1 for an
    unmasked or NaN one."""
    ranked = [k for k in _picked(range(len(x)), mask) if x[k] == x[k]]
    return [sum(1 for j in ranked if x[j] < x[k] or (x[j] == x[k] and j < k)) if k in ranked else -1
            for k in range(len(x))]
