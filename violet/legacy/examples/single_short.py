"""One asset shorted on BLUE's signal, left by take-profit or stop-loss, as a desk writes it.

Reference of graphs/examples/single_short.toml, the strategy VIOLET is compared with vectorbt on
(benchmarks/bench_vectorbt.py). A short of `notional` on the asset numbered `asset` is wanted when
vel_div is at or below vd_threshold; it enters at the scan's price only when no position was open at
the start of the scan (so never on the scan that closed one); every later scan, exit-v7 with the
stop-loss on and neither the trailing rule nor a time stop: STOP_LOSS when the short's return is at
or below -sl_pct, else TAKE_PROFIT at or above tp_pct."""

from __future__ import annotations

import math

from violet.legacy.exits import exit_params, exit_reason

ASSET = 0
VD_THRESHOLD = -0.01
TP_PCT = 0.01
SL_PCT = 0.02
NOTIONAL = 1000.0
NO_TIME_STOP = 1_000_000_000


class SingleShortEngine:
    """Parameters as the graph names them: asset, vd_threshold, tp_pct, sl_pct, notional,
    pos.trail_* (off by default)."""

    def __init__(self, **params):
        self.position = None
        self.trades = []
        self.asset = params.pop("asset", ASSET)
        self.vd_threshold = params.pop("vd_threshold", VD_THRESHOLD)
        self.notional = params.pop("notional", NOTIONAL)
        self.exit = exit_params(params)
        self.exit.update(sl_enabled=True, sl_pct=params.pop("sl_pct", SL_PCT), tp_pct=params.pop("tp_pct", TP_PCT),
                         max_hold_bars=NO_TIME_STOP)
        if params:
            raise TypeError(f"SingleShortEngine has no parameter {sorted(params)[0]!r}")

    def on_scan(self, scan_id, vel_div, price):
        rec = {"enter": False, "exit": False, "exit_reason": "NONE", "pnl": math.nan, "trade": False}
        pos = self.position
        if pos is not None:
            pnl = (pos["entry_price"] - price[self.asset]) / pos["entry_price"]
            reason = exit_reason(pos, pnl, self.exit)
            rec["pnl"] = pnl
            if reason is not None:
                rec.update(exit=True, exit_reason=reason, trade=True)
                self.trades.append({"entry_scan": pos["entry_scan"], "exit_scan": scan_id, "asset": self.asset,
                                    "notional": self.notional, "reason": reason, "pnl": pnl})
                self.position = None
        elif vel_div <= self.vd_threshold:
            rec["enter"] = True
            self.position = {"entry_price": price[self.asset], "entry_scan": scan_id, "bars_held": 0, "peak_pnl": 0.0}
        return rec
