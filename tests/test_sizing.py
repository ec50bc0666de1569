"""The sizing graph on hand-computed cases: interpreter, compiled kernels and the legacy form, bit for bit.

Inputs are chosen so each step is exact in float64 (or its rounding is stated),
so the expected values below are worked out by hand, not by the code under test.
"""

from __future__ import annotations

import math

import pytest
from conftest import GRAPHS

from violet.compile.interp import Interpreter
from violet.compile.lower import lower
from violet.compile.numba_backend import compile_ir
from violet.dag.graph import load_graph
from violet.legacy.sizing import size

NEUTRAL = dict(vel_div=-0.05, acb_boost=1.0, acb_beta=0.0, mc_scale=1.0, ob_mult=1.0, esof_score=0.0,
               dc_status="NEUTRAL", posture="APEX", capital=10000.0, exchange_max_leverage=20)
DC = ["CONFIRM", "NEUTRAL", "CONTRADICT"]
POSTURE = ["APEX", "STALKER", "TURTLE", "HIBERNATE"]


@pytest.fixture(scope="module")
def sizing():
    ir = lower(load_graph(GRAPHS / "blue_sizing.toml"))
    return Interpreter(ir), compile_ir(ir)


def sized(sizing, **row) -> dict:
    """The outputs, after checking interpreter == compiled == legacy bit for bit."""
    interp, cg = sizing
    row = {**NEUTRAL, **row}
    coded = {**row, "dc_status": DC.index(row["dc_status"]), "posture": POSTURE.index(row["posture"])}
    results = [interp.step(coded), cg.step(coded), size(**row)]
    for name, value in results[0].items():
        for other in results[1:]:
            assert math.isclose(other[name], value, rel_tol=0, abs_tol=0) or (value != value and other[name] != other[name])
            assert type(other[name]) in (int, float) and float(other[name]).hex() == float(value).hex(), name
    return results[0]


def test_full_conviction_neutral_factors(sizing):
    # s = 0.03 / 0.03 = 1; base = 0.5 + 7.5 = 8; regime = 1 * (1 + 0) * 1 = 1; esof = 1; dc = 1
    # raw = 8; cmax = min(8, 9) = 8; leverage = 8; notional = 10000 * 0.2 * 8 = 16000 (10000 * 0.2 is exactly 2000.0)
    # exch_lev = min(max(ceil(8), 1), 20) = 8; margin = 16000 / 8 = 2000
    r = sized(sizing)
    assert (r["s"], r["base"], r["regime"], r["esof"], r["dc"]) == (1.0, 8.0, 1.0, 1.0, 1.0)
    assert (r["raw"], r["cmax"], r["leverage"], r["notional"], r["exch_lev"], r["margin"]) == \
        (8.0, 8.0, 8.0, 16000.0, 8, 2000.0)


def test_no_conviction_above_the_threshold(sizing):
    # vel_div = 0 > -0.02: s = clamp(-0.02 / 0.03, 0, 1) = 0; base = 0.5; raw = 0.5; leverage = 0.5
    r = sized(sizing, vel_div=0.0)
    assert (r["s"], r["base"], r["raw"], r["leverage"], r["exch_lev"]) == (0.0, 0.5, 0.5, 0.5, 1)
    assert r["notional"] == 1000.0 and r["margin"] == 1000.0  # 2000 * 0.5; exch_lev 1


@pytest.mark.parametrize("dc, mult", [("CONFIRM", 1.25), ("NEUTRAL", 1.0), ("CONTRADICT", 0.75)])
def test_direction_confirmation(sizing, dc, mult):
    # raw = 8 * mult; cmax = 8 (the dc factor is not in cmax): leverage = min(8 * mult, 8)
    r = sized(sizing, dc_status=dc)
    assert r["dc"] == mult and r["raw"] == 8.0 * mult and r["leverage"] == min(8.0 * mult, 8.0)


def test_stalker_cap(sizing):
    r = sized(sizing, posture="STALKER")
    assert r["cmax"] == 2.0 and r["leverage"] == 2.0 and r["exch_lev"] == 2 and r["notional"] == 4000.0


def test_absolute_cap(sizing):
    # regime = 2 * (1 + 0) * 1 = 2: raw = 16, cmax = min(8 * 2, 9) = 9, leverage = 9
    r = sized(sizing, acb_boost=2.0)
    assert (r["regime"], r["raw"], r["cmax"], r["leverage"], r["exch_lev"]) == (2.0, 16.0, 9.0, 9.0, 9)
    assert r["margin"] == 18000.0 / 9


@pytest.mark.parametrize("score, esof", [(-5.0, 0.8), (5.0, 1.2), (-10.0, 0.8), (0.0, 1.0)])
def test_esof_fold_clamps(sizing, score, esof):
    # 1 + 0.1 * -5 = 0.5 -> 0.8; 1 + 0.1 * 5 = 1.5 -> 1.2
    assert sized(sizing, esof_score=score)["esof"] == esof


def test_exchange_limit_and_ceiling(sizing):
    # acb_boost 0.75: regime 0.75, raw = 8 * 0.75 = 6, cmax = min(6, 9) = 6: leverage 6, ceil 6, limit 5 -> 5
    r = sized(sizing, acb_boost=0.75, exchange_max_leverage=5)
    assert (r["leverage"], r["exch_lev"], r["margin"]) == (6.0, 5, 12000.0 / 5)
    # ob_mult 0.65625 (exact): raw = 8 * 0.65625 = 5.25, cmax 5.25, leverage 5.25 -> exch_lev ceil = 6
    r = sized(sizing, ob_mult=0.65625)
    assert (r["leverage"], r["exch_lev"]) == (5.25, 6)


def test_regime_uses_the_cube(sizing):
    # vel_div = -0.035: s = 0.015 / 0.03 (rounded) ~ 0.5; regime = 1 * (1 + 1 * s^3) * 1
    r = sized(sizing, vel_div=-0.035, acb_beta=1.0)
    s = (-0.02 - -0.035) / (-0.02 - -0.05)
    assert r["s"] == s and r["regime"] == 1.0 * (1 + 1.0 * (s * s * s)) * 1.0
    assert r["base"] == 0.5 + 7.5 * (s * s * s)
