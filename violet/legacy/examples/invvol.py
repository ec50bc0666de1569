"""Inverse-volatility sizing, as a desk writes it: a price history per asset, volatility from a window.

Reference of graphs/examples/invvol_sizing.toml. Every scan: each asset's log return against the
previous scan's price joins that asset's window of the last WINDOW returns; the volatility is the
window's sample standard deviation (sums oldest first, as docs/semantics.md defines rolling_std);
BLUE's pick (the highest score among non-stable assets) is sized so that leverage * volatility is the
target, capped at the maximum leverage. Until an asset has WINDOW returns its volatility is NaN, and
so is the sizing."""

from __future__ import annotations

import math
from collections import deque

WINDOW = 24
TARGET_VOL = 0.01
MAX_LEVERAGE = 5.0
FRACTION = 0.20


class InvVolSizer:
    """Keeps the last price and the last WINDOW log returns of every asset."""

    def __init__(self, stable, target_vol=TARGET_VOL, max_leverage=MAX_LEVERAGE, fraction=FRACTION):
        self.stable = list(stable)
        self.target_vol, self.max_leverage, self.fraction = target_vol, max_leverage, fraction
        self.last = None
        self.returns = [deque(maxlen=WINDOW) for _ in self.stable]

    def on_scan(self, price, score, capital):
        for k, window in enumerate(self.returns):
            window.append(_log(price[k] / self.last[k]) if self.last is not None else math.nan)
        self.last = list(price)
        best = -1
        for k in range(len(score)):
            if not self.stable[k] and (best == -1 or score[k] > score[best]):
                best = k
        vol = _volatility(self.returns[best]) if best >= 0 else math.nan
        leverage = min(_ratio(self.target_vol, vol), self.max_leverage)
        return {"asset": best, "vol": vol, "leverage": leverage, "notional": capital * self.fraction * leverage}


def _volatility(window):
    """Sample standard deviation of a full window (NaN until it is full), sums oldest first."""
    if len(window) < WINDOW:
        return math.nan
    values = list(window)
    total = values[0]
    for v in values[1:]:
        total = total + v
    mean = total / WINDOW
    squares = (values[0] - mean) * (values[0] - mean)
    for v in values[1:]:
        squares = squares + (v - mean) * (v - mean)
    return math.sqrt(squares / (WINDOW - 1))


def _log(x):
    """math.log, with the C library's -inf where Python raises: a price ratio that underflows to 0."""
    return math.log(x) if x > 0.0 else -math.inf


def _ratio(a, b):
    """a / b, a flat asset's zero volatility giving +inf (capped by the caller) as the hardware does."""
    return a / b if b != 0.0 else math.copysign(math.inf, a)
