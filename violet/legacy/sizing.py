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
         exchange_max_leverage):
    """Size one entry: the five-factor conviction, the EsoF fold and the exchange leverage."""
    s = (VD_THRESHOLD - vel_div) / (VD_THRESHOLD - VD_EXTREME)
    s = min(max(s, 0.0), 1.0)
    s3 = s * s * s
    base = MIN_LEVERAGE + (MAX_LEVERAGE - MIN_LEVERAGE) * s3

    regime = acb_boost * (1 + acb_beta * s3) * mc_scale
    esof = 1 + ESOF_GAIN * esof_score
    if esof < ESOF_MIN:
        esof = ESOF_MIN
    if esof > ESOF_MAX:
        esof = ESOF_MAX
    dc = DC_MULT[dc_status]

    raw = base * dc * regime * ob_mult * esof
    cmax = min(MAX_LEVERAGE * regime * ob_mult * esof, ABS_MAX_LEVERAGE)
    if posture == "STALKER":
        cmax = min(cmax, STALKER_CAP)
    leverage = max(MIN_LEVERAGE, min(raw, cmax))
    notional = capital * FRACTION * leverage

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
