"""BLUE's per-scan decision as the legacy engine writes it: a class with mutable position state.

This is the reference for `violet diff graphs/blue_decision.toml --reference
violet.legacy.engine:BlueEngine`. It shares no code with the compiler or the
node library (only the legacy sizer beside it), and keeps the habits of the
original: a position dict mutated in place, plain loops over the universe,
`_check_exit` before `_try_entry`, trades appended to a list.

Protocol used by `violet diff` for stateful graphs: the class is built with
the universe columns as keyword arguments; `on_scan(**scan)` takes one scan
(vectors as lists, enums as names) and returns its decision record; `trades`
lists the closed trades.
"""

from __future__ import annotations

import math

from violet.legacy.exits import exit_params, exit_reason
from violet.legacy.sizing import VD_THRESHOLD, size

SIZING_FIELDS = ("s", "base", "dc", "regime", "esof", "raw", "cmax", "leverage", "notional", "margin")


class BlueEngine:
    """One short at a time over a fixed universe; decides every scan.

    An asset not tradable on a scan is never picked; its price there is NaN, so a position held in it
    has a NaN pnl (no price rule fires; max hold still closes it).

    Parameters come as keywords named as blue_decision names them: `vd_threshold` (the entry signal and
    the sizing), `sz.<name>` (the sizing's, see sizing.size) and `pos.<name>` (the exit's); any other
    name is refused, so a diff at a parameter point never silently compares against the defaults."""

    def __init__(self, stable, exchange_max_leverage, **params):
        self.stable = list(stable)
        self.exchange_max_leverage = list(exchange_max_leverage)
        self.position = None
        self.trades = []
        self.exit = exit_params(params)
        self.vd_threshold = params.pop("vd_threshold", VD_THRESHOLD)
        self.sizing = {"vd_threshold": self.vd_threshold}
        for name in [n for n in params if n.startswith("sz.") and n != "sz.vd_threshold"]:
            self.sizing[name.removeprefix("sz.")] = params.pop(name)
        if params:
            raise TypeError(f"BlueEngine has no parameter {sorted(params)[0]!r}")

    def on_scan(self, scan_id, ts_us, vel_div, price, score, acb_boost, acb_beta, mc_scale, ob_mult, esof_score,
                dc_status, posture, capital, tradable):
        rec = {"action": "NONE", "reason": None, "asset": -1, "exit": False, "exit_reason": "NONE",
               "pnl": math.nan, "bars_held": 0, "peak_pnl": math.nan,
               "pos_asset": self.position["asset"] if self.position else -1}
        had_position = self.position is not None
        exited = self._check_exit(scan_id, price, rec)
        self._try_entry(scan_id, vel_div, price, score, tradable, acb_boost, acb_beta, mc_scale, ob_mult, esof_score,
                        dc_status, posture, capital, rec, slot_free=not had_position)
        if exited:
            rec["action"] = "EXIT"
            rec["reason"] = rec["exit_reason"]
        return rec

    def _check_exit(self, scan_id, price, rec):
        pos = self.position
        if pos is None:
            return False
        px = price[pos["asset"]]
        pnl = (pos["entry_price"] - px) / pos["entry_price"]
        reason = exit_reason(pos, pnl, self.exit)
        rec["pnl"] = pnl
        rec["bars_held"] = pos["bars_held"]
        rec["peak_pnl"] = pos["peak_pnl"]
        if reason is None:
            return False
        rec["exit"] = True
        rec["exit_reason"] = reason
        rec["asset"] = pos["asset"]
        self.trades.append({"entry_scan": pos["entry_scan"], "exit_scan": scan_id, "asset": pos["asset"],
                            "reason": reason, "leverage": pos["leverage"], "notional": pos["notional"], "pnl": pnl})
        self.position = None
        return True

    def _try_entry(self, scan_id, vel_div, price, score, tradable, acb_boost, acb_beta, mc_scale, ob_mult, esof_score,
                   dc_status, posture, capital, rec, slot_free):
        best = -1
        for i in range(len(score)):
            if self.stable[i] or not tradable[i]:  # no stablecoin, nor an asset without a price on this scan
                continue
            if best == -1 or score[i] > score[best]:
                best = i
        rec["selected"] = best

        for field in SIZING_FIELDS:
            rec[field] = math.nan
        rec["ob_mult"] = math.nan
        rec["exch_lev"] = 0

        if posture == "HIBERNATE":
            reason = "POSTURE_HIBERNATE"
        elif vel_div > self.vd_threshold:
            reason = "NO_SIGNAL"
        elif best == -1:
            reason = "NO_ELIGIBLE_ASSET"
        else:
            reason = "ENTER_SHORT"
        rec["entry_reason"] = reason
        if reason != "ENTER_SHORT":
            rec["reason"] = reason
            return

        sized = size(vel_div, acb_boost, acb_beta, mc_scale, ob_mult, esof_score, dc_status, posture, capital,
                     self.exchange_max_leverage[best], **self.sizing)
        for field in SIZING_FIELDS:
            rec[field] = sized[field]
        rec["ob_mult"] = ob_mult
        rec["exch_lev"] = sized["exch_lev"]

        if not slot_free:
            rec["reason"] = "POSITION_OPEN"
            return
        rec["action"] = "ENTER_SHORT"
        rec["reason"] = "ENTER_SHORT"
        rec["asset"] = best
        self.position = {"asset": best, "entry_price": price[best], "entry_scan": scan_id, "bars_held": 0,
                         "peak_pnl": 0.0, "leverage": sized["leverage"], "notional": sized["notional"]}
