"""The BLUE decision graph on hand-built scans, and on generated scan sequences.

Every reason code and every exit rule is driven by a scan whose expected
values are worked out by hand in the test; each case is checked on the
compiled kernels, the interpreter and the legacy engine.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import GRAPHS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from violet.compile.interp import Interpreter
from violet.compile.lower import lower
from violet.compile.numba_backend import compile_ir
from violet.dag.graph import load_graph
from violet.legacy.engine import BlueEngine
from violet.compile.identity import identity_view
from violet.tools.diff import compare_trades, diff_interpreter, diff_reference

ACTION = ["NONE", "ENTER_SHORT", "EXIT"]
REASON = ["ENTER_SHORT", "POSTURE_HIBERNATE", "NO_SIGNAL", "NO_ELIGIBLE_ASSET", "POSITION_OPEN",
          "STOP_LOSS", "TAKE_PROFIT", "TRAILING", "MAX_HOLD"]
DC = ["CONFIRM", "NEUTRAL", "CONTRADICT"]
POSTURE = ["APEX", "STALKER", "TURTLE", "HIBERNATE"]

NEUTRAL = dict(vel_div=-0.05, acb_boost=1.0, acb_beta=0.0, mc_scale=1.0, ob_mult=1.0, esof_score=0.0,
               dc_status="NEUTRAL", posture="APEX", capital=10000.0)
UNIVERSE = dict(stable=[True, False, False], exchange_max_leverage=[20, 5, 10])


@pytest.fixture(scope="module")
def decision():
    ir = lower(load_graph(GRAPHS / "blue_decision.toml"))
    return ir, compile_ir(ir), Interpreter(ir)


def columns(scans: list[dict], universe: dict = UNIVERSE) -> dict[str, np.ndarray]:
    """Scan dicts (enums as names) -> the graph's input columns (enums as codes)."""
    rows = [{**NEUTRAL, "scan_id": k, "ts_us": k * 3_600_000_000, **scan} for k, scan in enumerate(scans)]
    cols = {name: np.array([r[name] for r in rows]) for name in rows[0]}
    cols["dc_status"] = np.array([DC.index(v) for v in cols["dc_status"]])
    cols["posture"] = np.array([POSTURE.index(v) for v in cols["posture"]])
    cols["price"] = np.array([r["price"] for r in rows], dtype=float)
    cols["score"] = np.array([r["score"] for r in rows], dtype=float)
    cols["tradable"] = np.ones(cols["score"].shape, dtype=bool)  # every asset trades (the universe changes: test_universe_changes)
    cols["stable"] = np.array(universe["stable"])
    cols["exchange_max_leverage"] = np.array(universe["exchange_max_leverage"])
    return cols


def run_all(decision, scans: list[dict], params: dict | None = None, universe: dict = UNIVERSE):
    """Compiled outputs, after checking the interpreter agrees bit for bit (and the legacy, at defaults)."""
    ir, cg, interp = decision
    cols = columns(scans, universe)
    got, state = cg.scan(cols, params)
    want, want_state = interp.scan(cols, params)
    for name in got:
        g, w = got[name], want[name]
        if g.dtype == np.float64:
            g, w = identity_view(g), identity_view(w)
        assert np.array_equal(g, w), name
    assert state == want_state
    if params is None:
        report = diff_reference(cg, cols, BlueEngine, "legacy")
        assert report.ok, report.render()
    return got


def named(out: dict, row: int) -> tuple[str, str]:
    return ACTION[out["action"][row]], REASON[out["reason"][row]]


def test_posture_hibernate_decides_no_entry(decision):
    out = run_all(decision, [dict(price=[1.0, 2.0, 3.0], score=[0.0, 1.0, 2.0], posture="HIBERNATE")])
    assert named(out, 0) == ("NONE", "POSTURE_HIBERNATE")
    assert math.isnan(out["leverage"][0]) and out["exch_lev"][0] == 0
    assert out["selected"][0] == 2  # selection still runs: highest eligible score


def test_no_signal_above_threshold(decision):
    out = run_all(decision, [dict(price=[1.0, 2.0, 3.0], score=[0.0, 1.0, 2.0], vel_div=-0.01)])
    assert named(out, 0) == ("NONE", "NO_SIGNAL")
    # exactly at the threshold is a signal: only vel_div > vd_threshold is NO_SIGNAL
    out = run_all(decision, [dict(price=[1.0, 2.0, 3.0], score=[0.0, 1.0, 2.0], vel_div=-0.02)])
    assert named(out, 0) == ("ENTER_SHORT", "ENTER_SHORT")
    assert out["s"][0] == 0.0 and out["leverage"][0] == 0.5  # s = 0 -> base = min_leverage


def test_no_eligible_asset_when_all_stable(decision):
    only_stables = dict(stable=[True, True, True], exchange_max_leverage=[20, 5, 10])
    out = run_all(decision, [dict(price=[1.0, 2.0, 3.0], score=[3.0, 2.0, 1.0])], universe=only_stables)
    assert named(out, 0) == ("NONE", "NO_ELIGIBLE_ASSET")
    assert out["selected"][0] == -1


def test_enter_short_full_conviction_hand_computed(decision):
    # vel_div = vd_extreme: s = 0.03/0.03 = 1 exactly; neutral factors: regime = 1, esof = 1, dc = 1
    # base = 0.5 + 7.5 * 1 = 8; raw = 8; cmax = min(8, 9) = 8; leverage = 8
    # notional = 10000 * 0.2 * 8 = 16000 (10000 * 0.2 rounds to exactly 2000.0)
    # the stablecoin (asset 0) has the highest score but is not eligible: asset 2 wins (score 5 > 1)
    # exch_lev = min(max(ceil(8), 1), 10) = 8; margin = 16000 / 8 = 2000
    out = run_all(decision, [dict(price=[1.0, 2.0, 4.0], score=[9.0, 1.0, 5.0])])
    assert named(out, 0) == ("ENTER_SHORT", "ENTER_SHORT")
    assert out["asset"][0] == 2 and out["selected"][0] == 2
    assert (out["s"][0], out["base"][0], out["regime"][0], out["esof"][0], out["dc"][0]) == (1.0, 8.0, 1.0, 1.0, 1.0)
    assert (out["raw"][0], out["cmax"][0], out["leverage"][0]) == (8.0, 8.0, 8.0)
    assert (out["notional"][0], out["exch_lev"][0], out["margin"][0]) == (16000.0, 8, 2000.0)


def test_exchange_leverage_capped_by_symbol(decision):
    # asset 1 wins (score 5); its exchange limit is 5: exch_lev = min(8, 5) = 5, margin = 16000 / 5 = 3200
    out = run_all(decision, [dict(price=[1.0, 2.0, 4.0], score=[9.0, 5.0, 1.0])])
    assert (out["asset"][0], out["exch_lev"][0], out["margin"][0]) == (1, 5, 3200.0)


def test_ties_go_to_the_lowest_index(decision):
    out = run_all(decision, [dict(price=[1.0, 2.0, 4.0], score=[0.0, 7.0, 7.0])])
    assert out["selected"][0] == 1


def test_take_profit_then_slot_rule(decision):
    # scan 0 enters asset 2 at 100. scan 1: pnl = (100 - 99) / 100 = 0.01 >= 0.0095 -> TAKE_PROFIT;
    # the decision still wants to enter on scan 1 but the slot frees only after it: no entry on the
    # closing scan; scan 2 enters again.
    scans = [dict(price=[1.0, 1.0, 100.0], score=[0.0, 1.0, 2.0])] + \
            [dict(price=[1.0, 1.0, 99.0], score=[0.0, 1.0, 2.0])] * 2
    out = run_all(decision, scans)
    assert [named(out, k) for k in range(3)] == [("ENTER_SHORT", "ENTER_SHORT"), ("EXIT", "TAKE_PROFIT"),
                                                  ("ENTER_SHORT", "ENTER_SHORT")]
    assert out["entry_reason"][1] == REASON.index("ENTER_SHORT")  # decided every scan, gated by the slot
    assert out["pnl"][1] == (100.0 - 99.0) / 100.0 and out["bars_held"][1] == 1
    assert (out["trade_entry_scan"][1], out["trade_exit_scan"][1], out["trade_asset"][1]) == (0, 1, 2)
    assert out["trade_leverage"][1] == 8.0 and out["trade_notional"][1] == 16000.0


def test_position_open_while_holding(decision):
    scans = [dict(price=[1.0, 1.0, 100.0], score=[0.0, 1.0, 2.0]), dict(price=[1.0, 1.0, 100.0], score=[0.0, 1.0, 2.0])]
    out = run_all(decision, scans)
    assert named(out, 1) == ("NONE", "POSITION_OPEN")
    assert out["pnl"][1] == 0.0 and out["bars_held"][1] == 1 and out["pos_asset"][1] == 2


def test_max_hold(decision):
    # flat price: pnl = 0 never takes profit; bars_held reaches max_hold_bars = 3 on the third scan after entry
    flat = dict(price=[1.0, 1.0, 50.0], score=[0.0, 1.0, 2.0])
    out = run_all(decision, [flat] * 4, params={"pos.max_hold_bars": 3})
    assert [named(out, k)[1] for k in range(4)] == ["ENTER_SHORT", "POSITION_OPEN", "POSITION_OPEN", "MAX_HOLD"]
    assert out["bars_held"][3] == 3


def test_stop_loss_has_priority_over_max_hold(decision):
    # pnl = (100 - 106) / 100 = -0.06 <= -0.05, and bars_held = 1 >= max_hold_bars = 1: STOP_LOSS comes first
    scans = [dict(price=[1.0, 1.0, 100.0], score=[0.0, 1.0, 2.0]), dict(price=[1.0, 1.0, 106.0], score=[0.0, 1.0, 2.0])]
    out = run_all(decision, scans, params={"pos.sl_enabled": True, "pos.max_hold_bars": 1})
    assert named(out, 1) == ("EXIT", "STOP_LOSS")
    off = run_all(decision, scans, params={"pos.max_hold_bars": 1})  # stop-loss disabled (the default)
    assert named(off, 1) == ("EXIT", "MAX_HOLD")


def test_take_profit_has_priority_over_max_hold(decision):
    scans = [dict(price=[1.0, 1.0, 100.0], score=[0.0, 1.0, 2.0]), dict(price=[1.0, 1.0, 99.0], score=[0.0, 1.0, 2.0])]
    out = run_all(decision, scans, params={"pos.max_hold_bars": 1})
    assert named(out, 1) == ("EXIT", "TAKE_PROFIT")


def test_trailing(decision):
    # entry 100; 99.3: pnl = 0.007 (>= activate 0.006, < tp 0.0095), peak 0.007;
    # 99.8: pnl = 0.002, peak - pnl = 0.005 >= distance 0.003 -> TRAILING
    scans = [dict(price=[1.0, 1.0, p], score=[0.0, 1.0, 2.0]) for p in (100.0, 99.3, 99.8)]
    out = run_all(decision, scans, params={"pos.trail_enabled": True})
    assert named(out, 1) == ("NONE", "POSITION_OPEN") and named(out, 2) == ("EXIT", "TRAILING")
    assert out["peak_pnl"][2] == (100.0 - 99.3) / 100.0
    assert out["pnl"][2] == (100.0 - 99.8) / 100.0


# ---------------------------------------------------------------- generated sequences

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
positive = st.floats(1e-6, 1e6, allow_nan=False, allow_infinity=False)


@st.composite
def sequences(draw):
    n = draw(st.integers(1, 5))
    t = draw(st.integers(1, 40))
    start = draw(st.lists(positive, min_size=n, max_size=n))
    steps = draw(st.lists(st.lists(st.floats(-0.03, 0.03), min_size=n, max_size=n), min_size=t, max_size=t))
    prices = np.array(start) * np.cumprod(1.0 + np.array(steps), axis=0)
    scans = [dict(price=list(prices[k]), score=draw(st.lists(finite, min_size=n, max_size=n)),
                  vel_div=draw(st.floats(-0.1, 0.03)), acb_boost=draw(st.floats(0, 3)), acb_beta=draw(st.floats(0, 2)),
                  mc_scale=draw(st.floats(0, 2)), ob_mult=draw(st.floats(0, 2)), esof_score=draw(st.floats(-20, 20)),
                  dc_status=draw(st.sampled_from(DC)), posture=draw(st.sampled_from(POSTURE)),
                  capital=draw(positive)) for k in range(t)]
    universe = dict(stable=draw(st.lists(st.booleans(), min_size=n, max_size=n)),
                    exchange_max_leverage=draw(st.lists(st.integers(1, 125), min_size=n, max_size=n)))
    return scans, universe


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequences())
def test_generated_sequences_compiled_interpreter_legacy(decision, seq):
    scans, universe = seq
    ir, cg, _ = decision
    cols = columns(scans, universe)
    assert diff_interpreter(cg, cols).ok
    report = diff_reference(cg, cols, BlueEngine, "legacy")
    assert report.ok, report.render()


def test_a_wrong_trade_is_caught(decision):
    """The trade comparison can fail: a legacy trade with a different pnl is reported."""
    ir, cg, _ = decision
    cols = columns([dict(price=[1.0, 1.0, 100.0], score=[0.0, 1.0, 2.0]),
                    dict(price=[1.0, 1.0, 99.0], score=[0.0, 1.0, 2.0])])
    got = cg.batch(cols)
    trades = [{"entry_scan": 0, "exit_scan": 1, "asset": 2, "reason": "TAKE_PROFIT", "leverage": 8.0,
               "notional": 16000.0, "pnl": 0.010000000000000002}]
    report = compare_trades(ir, got, trades)
    assert report.mismatches == 1 and "field pnl" in report.first
    trades[0]["pnl"] = 0.01
    assert compare_trades(ir, got, trades).ok
