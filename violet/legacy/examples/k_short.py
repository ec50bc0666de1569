"""Up to K shorts at once, one per asset, as a desk writes it: a dict of open positions keyed by asset.

Reference of graphs/examples/k_short.toml. Each scan, the open positions are checked in asset order
(take-profit at tp_pct, else MAX_HOLD after max_hold scans) and closed ones leave the book; then the
non-stable assets not held at the start of the scan whose score is at or above enter_score are sorted
by score, highest first (ties to the lower index), and shorted while fewer than k are open. The
record's per-asset outputs are lists over the universe; trades are listed as they close, in asset
order."""

from __future__ import annotations

import math

K = 3
ENTER_SCORE = 1.0
TP_PCT = 0.01
MAX_HOLD = 24
LEVERAGE = 2.0
NOTIONAL = 1000.0


class KShortEngine:
    """Parameters as the graph names them: k, enter_score, tp_pct, max_hold, leverage, notional."""

    def __init__(self, stable, **params):
        self.stable = list(stable)
        self.positions = {}
        self.trades = []
        self.k = params.pop("k", K)
        self.enter_score = params.pop("enter_score", ENTER_SCORE)
        self.tp_pct = params.pop("tp_pct", TP_PCT)
        self.max_hold = params.pop("max_hold", MAX_HOLD)
        self.leverage = params.pop("leverage", LEVERAGE)
        self.notional = params.pop("notional", NOTIONAL)
        if params:
            raise TypeError(f"KShortEngine has no parameter {sorted(params)[0]!r}")

    def on_scan(self, scan_id, price, score):
        n = len(price)
        action = ["NONE"] * n
        pnl = [math.nan] * n
        held_at_start = set(self.positions)
        for asset in sorted(self.positions):
            pos = self.positions[asset]
            pos["bars"] += 1
            pnl[asset] = (pos["entry_price"] - price[asset]) / pos["entry_price"]
            if pnl[asset] >= self.tp_pct:
                reason = "TAKE_PROFIT"
            elif pos["bars"] >= self.max_hold:
                reason = "MAX_HOLD"
            else:
                continue
            action[asset] = "EXIT"
            self.trades.append({"entry_scan": pos["entry_scan"], "exit_scan": scan_id, "asset": asset,
                                "reason": reason, "bars_held": pos["bars"], "pnl": pnl[asset],
                                "notional": self.notional})
            del self.positions[asset]
        candidates = [a for a in range(n) if not self.stable[a] and a not in held_at_start
                      and score[a] >= self.enter_score]
        for asset in sorted(candidates, key=lambda a: (-score[a], a)):
            if len(self.positions) >= self.k:
                break
            action[asset] = "ENTER_SHORT"
            self.positions[asset] = {"entry_price": price[asset], "entry_scan": scan_id, "bars": 0}
        return {"action": action, "open": len(self.positions), "candidates": len(candidates), "pnl": pnl,
                "leverage": self.leverage, "notional": self.notional}
