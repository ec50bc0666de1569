"""BLUE's short and the LONG lane as one book, as a desk runs them: the two engines side by side.

Reference of graphs/examples/two_lane.toml. Each scan goes to the short engine (BLUE's, whole) and then
to the long one; an asset without a price on the scan is barred from the long's pick as a stablecoin is.
The record is the two engines' records with their names prefixed `short_` and `long_`; the book's trades
are both engines' in the order they close: by scan, the short's before the long's, each tagged with its
lane."""

from __future__ import annotations

from violet.legacy.engine import BlueEngine
from violet.legacy.examples.long_lane import LongEngine


class TwoLaneEngine:
    """Parameters as the graph names them: `short.<BLUE's parameter>` and `long.<the LONG lane's>`."""

    def __init__(self, stable, exchange_max_leverage, **params):
        lanes = {"short": {}, "long": {}}
        for name, value in params.items():
            lane, _, rest = name.partition(".")
            if lane not in lanes or not rest:
                raise TypeError(f"TwoLaneEngine has no parameter {name!r}")
            lanes[lane][rest] = value
        self.stable = list(stable)
        self.short = BlueEngine(stable, exchange_max_leverage, **lanes["short"])
        self.long = LongEngine(stable, exchange_max_leverage, **lanes["long"])
        self.trades = []

    def on_scan(self, scan_id, ts_us, vel_div, price, score, acb_boost, acb_beta, mc_scale, ob_mult, esof_score,
                dc_status, posture, capital, tradable):
        factors = dict(acb_boost=acb_boost, acb_beta=acb_beta, mc_scale=mc_scale, ob_mult=ob_mult,
                       esof_score=esof_score, dc_status=dc_status, posture=posture, capital=capital)
        short = self.short.on_scan(scan_id, ts_us, vel_div, price, score, tradable=tradable, **factors)
        self.long.stable = [s or not t for s, t in zip(self.stable, tradable)]
        long = self.long.on_scan(scan_id, vel_div, price, score, **factors)
        for lane, engine in (("short", self.short), ("long", self.long)):
            while engine.trades:
                self.trades.append({"lane": lane, **engine.trades.pop(0)})
        return {**{f"short_{k}": v for k, v in short.items()}, **{f"long_{k}": v for k, v in long.items()}}
