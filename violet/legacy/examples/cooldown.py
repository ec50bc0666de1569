"""A short engine with a per-asset cooldown after a stop-loss, as a desk writes it.

Reference of graphs/examples/cooldown_short.toml. BLUE's selection (the highest score among
non-stable assets) skips any asset still cooling down; a short is wanted when vel_div is at or below
vd_threshold; the position is fixed-size (leverage and notional are parameters) and leaves by exit-v7
with the stop-loss on. A STOP_LOSS on an asset bars it for `cooldown_bars` scans: after every scan
each asset's counter drops by one (never below zero), and the stopped asset's is set to
cooldown_bars. An asset is known by its number in the universe table's `index` column (the graph
compares that column with the position's asset)."""

from __future__ import annotations

import math

from violet.legacy.exits import exit_params, exit_reason

VD_THRESHOLD = -0.02
COOLDOWN_BARS = 48
LEVERAGE = 2.0
NOTIONAL = 1000.0
SL_PCT = 0.01


class CooldownEngine:
    """Parameters as the graph names them: vd_threshold, cooldown_bars, leverage, notional, sl_pct,
    pos.<exit rule> (the stop-loss is always on)."""

    def __init__(self, stable, index, **params):
        self.stable = list(stable)
        self.index = list(index)
        self.cooldown = [0] * len(self.stable)
        self.position = None
        self.trades = []
        self.vd_threshold = params.pop("vd_threshold", VD_THRESHOLD)
        self.cooldown_bars = params.pop("cooldown_bars", COOLDOWN_BARS)
        self.leverage = params.pop("leverage", LEVERAGE)
        self.notional = params.pop("notional", NOTIONAL)
        self.exit = exit_params(params)
        self.exit.update(sl_enabled=True, sl_pct=params.pop("sl_pct", SL_PCT))
        if params:
            raise TypeError(f"CooldownEngine has no parameter {sorted(params)[0]!r}")

    def on_scan(self, scan_id, vel_div, price, score):
        rec = {"action": "NONE", "asset": -1, "exit": False, "exit_reason": "NONE", "pnl": math.nan,
               "trade": False, "cooling": sum(1 for c in self.cooldown if c > 0)}
        had_position = self.position is not None
        stopped = self._check_exit(scan_id, price, rec) if had_position else None
        best = -1
        for k in range(len(score)):
            if not self.stable[k] and self.cooldown[k] == 0 and (best == -1 or score[k] > score[best]):
                best = k
        rec["selected"] = best
        if vel_div <= self.vd_threshold and best != -1 and not had_position:
            rec.update(action="ENTER_SHORT", asset=best)
            self.position = {"asset": best, "entry_price": price[best], "entry_scan": scan_id, "bars_held": 0,
                             "peak_pnl": 0.0}
        self.cooldown = [max(c - 1, 0) for c in self.cooldown]
        for k in range(len(self.cooldown)):
            if stopped is not None and self.index[k] == stopped:
                self.cooldown[k] = self.cooldown_bars
        return rec

    def _check_exit(self, scan_id, price, rec):
        """Exit-v7 on the short; the asset's index if it was stopped out, else None."""
        pos = self.position
        pnl = (pos["entry_price"] - price[pos["asset"]]) / pos["entry_price"]
        reason = exit_reason(pos, pnl, self.exit)
        rec["pnl"] = pnl
        if reason is None:
            return None
        rec.update(action="EXIT", exit=True, exit_reason=reason, asset=pos["asset"], trade=True)
        self.trades.append({"entry_scan": pos["entry_scan"], "exit_scan": scan_id, "asset": pos["asset"],
                            "reason": reason, "pnl": pnl})
        self.position = None
        return pos["asset"] if reason == "STOP_LOSS" else None
