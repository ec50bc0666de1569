"""BLUE's mirror, a LONG lane, as a desk writes it: one long at a time on the lowest score.

Reference of graphs/examples/long_lane.toml. A long is wanted when vel_div is at or above
long_threshold (and the posture is not HIBERNATE and some asset is eligible); the asset is the lowest
score among non-stable assets (ties to the lowest index); the sizing is BLUE's legacy sizer fed the
mirrored signal (-vel_div against -long_threshold and -long_extreme); exit-v7's rules run on the
long's pnl, (price - entry) / entry. As in BLUE, an entry executes only when no position was open at
the start of the scan."""

from __future__ import annotations

import math

from violet.legacy.exits import exit_params, exit_reason
from violet.legacy.sizing import size

LONG_THRESHOLD = 0.02
LONG_EXTREME = 0.05


class LongEngine:
    """Parameters as the graph names them: long_threshold, long_extreme, sz.<sizing>, pos.<exit>."""

    def __init__(self, stable, exchange_max_leverage, **params):
        self.stable = list(stable)
        self.exchange_max_leverage = list(exchange_max_leverage)
        self.position = None
        self.trades = []
        self.exit = exit_params(params)
        self.long_threshold = params.pop("long_threshold", LONG_THRESHOLD)
        self.long_extreme = params.pop("long_extreme", LONG_EXTREME)
        self.sizing = {name.removeprefix("sz."): params.pop(name) for name in list(params) if name.startswith("sz.")}
        if params:
            raise TypeError(f"LongEngine has no parameter {sorted(params)[0]!r}")

    def on_scan(self, scan_id, vel_div, price, score, acb_boost, acb_beta, mc_scale, ob_mult, esof_score,
                dc_status, posture, capital):
        rec = {"action": "NONE", "asset": -1, "exit": False, "exit_reason": "NONE", "pnl": math.nan, "trade": False}
        had_position = self.position is not None
        if had_position:
            self._check_exit(scan_id, price, rec)
        best = -1
        for k in range(len(score)):
            if not self.stable[k] and (best == -1 or score[k] < score[best]):
                best = k
        rec["selected"] = best
        wants = posture != "HIBERNATE" and vel_div >= self.long_threshold and best != -1
        rec["leverage"] = rec["notional"] = math.nan
        if not wants:
            return rec
        sized = size(-vel_div, acb_boost, acb_beta, mc_scale, ob_mult, esof_score, dc_status, posture, capital,
                     self.exchange_max_leverage[best], vd_threshold=-self.long_threshold,
                     vd_extreme=-self.long_extreme, **self.sizing)
        rec["leverage"], rec["notional"] = sized["leverage"], sized["notional"]
        if not had_position:
            rec.update(action="ENTER_LONG", asset=best)
            self.position = {"asset": best, "entry_price": price[best], "entry_scan": scan_id, "bars_held": 0,
                             "peak_pnl": 0.0, "leverage": sized["leverage"], "notional": sized["notional"]}
        return rec

    def _check_exit(self, scan_id, price, rec):
        pos = self.position
        pnl = (price[pos["asset"]] - pos["entry_price"]) / pos["entry_price"]
        reason = exit_reason(pos, pnl, self.exit)
        rec["pnl"] = pnl
        if reason is None:
            return
        rec.update(action="EXIT", exit=True, exit_reason=reason, asset=pos["asset"], trade=True)
        self.trades.append({"entry_scan": pos["entry_scan"], "exit_scan": scan_id, "asset": pos["asset"],
                            "reason": reason, "leverage": pos["leverage"], "notional": pos["notional"], "pnl": pnl})
        self.position = None
