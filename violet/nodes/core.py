"""General-purpose nodes: small pieces of arithmetic worth naming."""

from __future__ import annotations

from violet.nodes.prelude import clamp
from violet.nodes.registry import node


@node
def clamp01(x: float) -> float:
    """x limited to [0, 1]."""
    return clamp(x, 0.0, 1.0)


@node
def cube(x: float) -> float:
    """x**3 as the multiply chain (x*x)*x."""
    return x * x * x


@node
def lerp(lo: float, hi: float, t: float) -> float:
    """lo + (hi - lo) * t, evaluated in that order."""
    return lo + (hi - lo) * t

