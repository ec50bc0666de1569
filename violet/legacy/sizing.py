"""BLUE's sizing as the legacy engine writes it: imperative Python, one function.

This is the reference for `violet diff graphs/blue_sizing.toml --reference
violet.legacy.sizing:size`. It shares no code with the compiler or the node
library: the arithmetic is transcribed from ALPHA_SPEC.md the way the
orchestrator and the leverage module compute it.
"""

from __future__ import annotations

import math

VD_THRESHOLD = -0.02
VD_EXTREME = -0.05
MIN_LEVERAGE = 0.5
MAX_LEVERAGE = 8.0
ABS_MAX_LEVERAGE = 9.0
STALKER_CAP = 2.0
FRACTION = 0.20
DC_MULT = {"CONFIRM": 1.25, "NEUTRAL": 1.0, "CONTRADICT": 0.75}
ESOF_GAIN = 0.10
ESOF_MIN = 0.80
ESOF_MAX = 1.20


def size(vel_div, acb_boost, acb_beta, mc_scale, ob_mult, esof_score, dc_status, posture, capital,
         exchange_max_leverage, *, vd_threshold=VD_THRESHOLD, vd_extreme=VD_EXTREME, min_leverage=MIN_LEVERAGE,
         max_leverage=MAX_LEVERAGE, abs_max_leverage=ABS_MAX_LEVERAGE, stalker_cap=STALKER_CAP, fraction=FRACTION,
         dc_mult_confirm=DC_MULT["CONFIRM"], dc_mult_neutral=DC_MULT["NEUTRAL"],
         dc_mult_contradict=DC_MULT["CONTRADICT"], esof_gain=ESOF_GAIN, esof_min=ESOF_MIN, esof_max=ESOF_MAX):
    """Size one entry: the five-factor conviction, the EsoF fold and the exchange leverage.

    The model's constants are keyword parameters (named as the graph names them), so a diff at any
    parameter point compares like with like."""
    s = (vd_threshold - vel_div) / (vd_threshold - vd_extreme)
    s = min(max(s, 0.0), 1.0)
    s3 = s * s * s
    base = min_leverage + (max_leverage - min_leverage) * s3

    regime = acb_boost * (1 + acb_beta * s3) * mc_scale
    esof = 1 + esof_gain * esof_score
    if esof < esof_min:
        esof = esof_min
    if esof > esof_max:
        esof = esof_max
    dc = {"CONFIRM": dc_mult_confirm, "NEUTRAL": dc_mult_neutral, "CONTRADICT": dc_mult_contradict}[dc_status]

    raw = base * dc * regime * ob_mult * esof
    cmax = min(max_leverage * regime * ob_mult * esof, abs_max_leverage)
    if posture == "STALKER":
        cmax = min(cmax, stalker_cap)
    leverage = max(min_leverage, min(raw, cmax))
    notional = capital * fraction * leverage

    exch_lev = math.ceil(leverage)
    if exch_lev < 1:
        exch_lev = 1
    if exch_lev > exchange_max_leverage:
        exch_lev = exchange_max_leverage
    margin = notional / exch_lev

    return {
        "s": s, "base": base, "dc": dc, "regime": regime, "esof": esof, "raw": raw, "cmax": cmax,
        "leverage": leverage, "notional": notional, "exch_lev": exch_lev, "margin": margin,
    }
