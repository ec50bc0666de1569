"""A cross-sectional z-score selector, as a desk writes it: loops over the universe.

Reference of graphs/examples/zscore_selector.toml. The z-score is the population one (divide by the
count), sums run left to right over the eligible assets in universe order, and an asset whose |z| is
above the cap is an outlier, never picked; ties go to the lowest index."""

from __future__ import annotations

import math

Z_CAP = 3.0


class ZScoreSelector:
    """Stateless: every scan scores the eligible (non-stable) assets and picks the highest z."""

    def __init__(self, stable, z_cap=Z_CAP):
        self.eligible = [k for k in range(len(stable)) if not stable[k]]
        self.z_cap = z_cap

    def on_scan(self, score):
        n = len(self.eligible)
        mean = _total([score[k] for k in self.eligible]) / n if n else math.nan
        spread = _total([(score[k] - mean) * (score[k] - mean) for k in self.eligible]) / n if n else math.nan
        sd = math.sqrt(spread)
        best, best_z = -1, math.nan
        for k in self.eligible:
            z = _ratio(score[k] - mean, sd)
            if abs(z) <= self.z_cap and (best == -1 or z > best_z):
                best, best_z = k, z
        return {"asset": best, "z": best_z, "n": n, "mean": mean, "sd": sd}


def _total(values):
    """Left to right from the first value (0.0 for none)."""
    total = values[0] if values else 0.0
    for v in values[1:]:
        total = total + v
    return total


def _ratio(a, b):
    """a / b with IEEE's division by zero (the desk's guard): +-inf, or NaN for 0 / 0."""
    if b != 0.0:
        return a / b
    if a == 0.0 or a != a:
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)
