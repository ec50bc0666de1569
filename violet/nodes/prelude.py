"""Names the node subset gives a meaning to, importable so node modules read as Python.

Node bodies are never executed by VIOLET: the lowering parses them and the IR
defines what `clamp` and `select` mean (docs/semantics.md). These plain
definitions agree with the IR on finite inputs and keep linters and readers
oriented; they are not a backend.
"""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T", float, int)


def clamp(x: T, lo: T, hi: T) -> T:
    """min(max(x, lo), hi), with Python's min/max."""
    return min(max(x, lo), hi)


def select(cond: bool, if_true: T, if_false: T) -> T:
    """if_true when cond holds, else if_false (both are always evaluated)."""
    return if_true if cond else if_false
