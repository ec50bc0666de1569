"""Exit-v7 as the legacy engines write it: one scan of an open position, then the first rule that holds.

Shared by BLUE's engine and the example engines (violet/legacy/examples/), which hold a position the
same way: a dict with `bars_held` and `peak_pnl`, mutated in place."""

from __future__ import annotations

TP_PCT = 0.0095
MAX_HOLD_BARS = 120
SL_ENABLED = False
SL_PCT = 0.05
TRAIL_ENABLED = False
TRAIL_ACTIVATE = 0.006
TRAIL_DISTANCE = 0.003

EXIT_PARAMS = {"tp_pct": TP_PCT, "max_hold_bars": MAX_HOLD_BARS, "sl_enabled": SL_ENABLED, "sl_pct": SL_PCT,
               "trail_enabled": TRAIL_ENABLED, "trail_activate": TRAIL_ACTIVATE, "trail_distance": TRAIL_DISTANCE}


def exit_params(params: dict, prefix: str = "pos.") -> dict:
    """The exit's parameters, taken (popped) from an engine's keywords named `<prefix><name>`."""
    return {name: params.pop(prefix + name, default) for name, default in EXIT_PARAMS.items()}


def exit_reason(pos: dict, pnl: float, p: dict) -> str | None:
    """Count one more bar held and the peak pnl, then STOP_LOSS, TAKE_PROFIT, TRAILING, MAX_HOLD in
    that order; None while the position stays open."""
    pos["bars_held"] += 1
    pos["peak_pnl"] = max(pos["peak_pnl"], pnl)
    if p["sl_enabled"] and pnl <= -p["sl_pct"]:
        return "STOP_LOSS"
    if pnl >= p["tp_pct"]:
        return "TAKE_PROFIT"
    if p["trail_enabled"] and pos["peak_pnl"] >= p["trail_activate"] and pos["peak_pnl"] - pnl >= p["trail_distance"]:
        return "TRAILING"
    if pos["bars_held"] >= p["max_hold_bars"]:
        return "MAX_HOLD"
    return None
