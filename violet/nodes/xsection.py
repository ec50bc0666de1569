"""Cross-sectional nodes: each asset's value against the other assets of the same scan, under a mask.

Bind `x` to a float64 vector and `mask` to a bool vector (or a bool: true is every asset) and the body
sees vectors: `mean`, `count` and `rank` reduce over the universe (docs/semantics.md, "Reductions over
the universe"), the rest applies per asset. An asset outside the mask gets NaN (0.0 / 0.0).
"""

from __future__ import annotations

from math import sqrt

from violet.nodes.prelude import count, mean, rank, select
from violet.nodes.registry import node


@node
def demean(x: float, mask: bool) -> float:
    """x minus the mean of the masked assets' x; NaN outside the mask."""
    return select(mask, x - mean(x, mask), 0.0 / 0.0)


@node
def zscore(x: float, mask: bool) -> float:
    """(x - mean) / std over the masked assets, std the population's (the mean square deviation, divided
    by the count, not count - 1); NaN outside the mask, and everywhere when the masked values are all
    equal (std 0: 0 / 0) or one of them is NaN."""
    dev = x - mean(x, mask)
    return select(mask, dev / sqrt(mean(dev * dev, mask)), 0.0 / 0.0)


@node
def rank_pct(x: float, mask: bool) -> float:
    """rank / (n - 1) as float64, n the masked assets whose x is not NaN: 0.0 for the smallest, 1.0 for
    the largest, ties by index; NaN for an asset outside the mask or whose x is NaN, and NaN when only
    one asset is ranked (0 / 0)."""
    r = rank(x, mask)
    n = count(mask and x == x)
    return select(r >= 0, float(r) / float(n - 1), 0.0 / 0.0)
