"""BLUE's position sizing, piece by piece (ALPHA_SPEC.md, "Sizing" and "L3").

Each node is one line of the reference model, written in the order the
model evaluates it: no reassociation, the cube as a multiply chain.
"""

from __future__ import annotations

from math import ceil

from violet.nodes.prelude import clamp, select
from violet.nodes.registry import node


@node
def conviction(vel_div: float, vd_threshold: float, vd_extreme: float) -> float:
    """s: how far vel_div is below the threshold, as a fraction of the way to the extreme."""
    return clamp((vd_threshold - vel_div) / (vd_threshold - vd_extreme), 0.0, 1.0)


@node
def base_leverage(s: float, min_leverage: float, max_leverage: float) -> float:
    """The base cubic: min_leverage + (max_leverage - min_leverage) * s^3."""
    return min_leverage + (max_leverage - min_leverage) * (s * s * s)


@node
def regime_mult(s: float, acb_boost: float, acb_beta: float, mc_scale: float) -> float:
    """The regime size multiplier: ACB boost * (1 + beta * s^3) * Monte-Carlo scale."""
    return acb_boost * (1.0 + acb_beta * (s * s * s)) * mc_scale


@node
def esof_fold(esof_score: float, esof_gain: float, esof_min: float, esof_max: float) -> float:
    """The EsoF size modulation: 1 + gain * score, kept in [esof_min, esof_max]."""
    return clamp(1.0 + esof_gain * esof_score, esof_min, esof_max)


@node
def leverage_cap(regime: float, ob_mult: float, esof: float, max_leverage: float,
                 abs_max_leverage: float, stalker: bool, stalker_cap: float) -> float:
    """cmax: the scaled maximum, capped absolutely, and again for the STALKER posture."""
    cmax = min(max_leverage * regime * ob_mult * esof, abs_max_leverage)
    return select(stalker, min(cmax, stalker_cap), cmax)


@node
def bounded_leverage(raw: float, cmax: float, min_leverage: float) -> float:
    """The conviction leverage: raw limited to cmax, never below min_leverage."""
    return max(min_leverage, min(raw, cmax))


@node
def exchange_leverage(leverage: float, exchange_max_leverage: int) -> int:
    """L3: the integer leverage set on the exchange, ceil(leverage) in [1, symbol max]."""
    return min(max(ceil(leverage), 1), exchange_max_leverage)
