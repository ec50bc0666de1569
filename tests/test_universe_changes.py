"""A changing universe (listings, delistings, a tradable mask) and factors joined as of each scan."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from conftest import GRAPHS

from violet.api import compile_graph
from violet.errors import InputError
from violet.legacy.engine import BlueEngine
from violet.runtime.reactor import python_scan
from violet.scans.build import ScanSettings, build_scans, log_returns
from violet.scans.factors import AsOf, join_factors
from violet.scans.panel import generate_panel
from violet.table_io import input_columns

HOUR = 3_600_000_000


def direct_fraction(r: np.ndarray) -> float:
    """lambda_max / n of np.corrcoef over the columns given (none flat): an independent computation."""
    return float(np.linalg.eigvalsh(np.corrcoef(r.T))[-1]) / r.shape[1]


def test_vel_div_is_the_explained_fraction_over_the_assets_listed_throughout_the_window():
    panel = generate_panel(12, 80, seed=1)  # asset 4 flat; asset 5 listed from bar 26, asset 6 delisted at bar 60
    scans, _ = build_scans(panel, ScanSettings(fast=5, slow=20, score_lookback=3))
    r = log_returns(panel.close, 1.0)
    keep = [k for k in range(12) if k not in (4, 5)]  # first scan, bar 21: 5 not listed yet, 4 flat
    f = {(w, k): direct_fraction(r[k - w + 1:k + 1][:, keep]) for w in (5, 20) for k in (19, 20)}
    expected = (f[5, 20] - f[5, 19]) - (f[20, 20] - f[20, 19])
    assert scans.column("vel_div")[0].as_py() == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert scans.column("n_fast")[0].as_py() == scans.column("n_slow")[0].as_py() == 10
    n_fast = scans.column("n_fast").to_numpy()  # asset 5 joins the fast window once listed for its 6 closes
    ts = list(panel.ts_us)
    assert n_fast[scans.column("ts_us").to_pylist().index(ts[31])] == 11
    assert n_fast[scans.column("ts_us").to_pylist().index(ts[30])] == 10


def test_late_listings_and_delistings_are_tradable_only_with_a_price_and_a_score():
    panel = generate_panel(12, 80, seed=1)
    scans, universe = build_scans(panel, ScanSettings(fast=5, slow=20, score_lookback=3))
    ts = scans.column("ts_us").to_pylist()
    bar = {t: k for k, t in enumerate(panel.ts_us.tolist())}
    for row in (0, 20, 50):
        b = bar[ts[row]]
        tradable, price, score = (scans.column(c)[row].as_py() for c in ("tradable", "price", "score"))
        assert tradable[5] == (b >= 26 + 3) and tradable[6] == (b < 60)  # a score needs 3 bars of history
        assert (price[5] is None) == (b < 26) and (price[6] is None) == (b >= 60)
        assert [s is None for s in score] == [not t for t in tradable]
    columns, rejected = input_columns(compile_graph(GRAPHS / "blue_decision.toml").ir, scans, "scans", universe)
    assert not rejected.rows  # none of the scans is lost to the listing or the delisting
    assert np.isnan(columns["price"][0, 5]) and columns["price"][0, 0] == scans.column("price")[0].as_py()[0]


UNIVERSE = pa.table({"symbol": ["A", "B", "C"], "stable": [False] * 3, "exchange_max_leverage": [20] * 3})


def scans_table(prices: list[list], tradable: list[list] | None, scores: list[list]) -> pa.Table:
    n = len(prices)
    columns = {"scan_id": list(range(n)), "ts_us": [k * HOUR for k in range(n)], "vel_div": [-0.05] * n,
               "price": prices, "score": scores, "acb_boost": [1.0] * n, "acb_beta": [0.0] * n, "mc_scale": [1.0] * n,
               "ob_mult": [1.0] * n, "esof_score": [0.0] * n, "dc_status": ["NEUTRAL"] * n, "posture": ["APEX"] * n,
               "capital": [1e4] * n}
    if tradable is not None:
        columns["tradable"] = tradable
    return pa.table(columns)


@pytest.mark.parametrize("price, tradable, bad", [
    ([1.0, None, 3.0], [True, False, True], False),   # not tradable: no price, not checked
    ([1.0, 5.0, 3.0], [True, False, True], False),    # not tradable: its price is not looked at
    ([1.0, None, 3.0], [True, True, True], True),     # tradable without a price
    ([1.0, math.nan, 3.0], [True, True, True], True),  # poison on a tradable asset
    ([1.0, math.inf, 3.0], [True, True, True], True),
    ([1.0, 0.0, 3.0], [True, True, True], True),
    ([1.0, -2.0, 3.0], None, True),                   # no tradable column: every asset is tradable
    ([1.0, 2.0, 3.0], None, False),
])
def test_the_boundary_checks_only_tradable_assets(price, tradable, bad):
    ir = compile_graph(GRAPHS / "blue_decision.toml").ir
    table = scans_table([price], None if tradable is None else [tradable], [[0.0, 0.0, 0.0]])
    columns, rejected = input_columns(ir, table, "scans", UNIVERSE, skip_bad=True)
    assert bool(rejected.rows) == bad
    if bad:
        assert "field price: asset 1" in rejected.reasons[0]
    elif tradable is not None:
        assert math.isnan(columns["price"][0, 1]) and not columns["tradable"][0, 1]


def test_an_untradable_asset_is_never_selected_and_a_held_one_without_a_price_waits_for_max_hold():
    """Hand-computed: B scores best but is not tradable, so C is shorted at 3.0; then C has no price: its pnl
    is NaN, no price rule fires, and max hold (here 2 bars) closes it with a NaN pnl. The legacy engine agrees."""
    cg = compile_graph(GRAPHS / "blue_decision.toml", {"pos.max_hold_bars": 2})
    table = scans_table([[1.0, None, 3.0], [1.0, 2.0, None], [1.0, 2.0, None]],
                        [[True, False, True], [True, True, False], [True, True, False]],
                        [[0.0, 9.0, 1.0], [0.0, 1.0, None], [0.0, 1.0, None]])
    columns, rejected = input_columns(cg.ir, table, "scans", UNIVERSE)
    out = cg.batch(columns)
    assert out["selected"].tolist() == [2, 1, 1] and out["asset"].tolist() == [2, -1, 2]
    assert out["exit"].tolist() == [False, False, True] and math.isnan(out["pnl"][1]) and math.isnan(out["pnl"][2])
    assert out["bars_held"].tolist() == [0, 1, 2] and out["peak_pnl"][1] == 0.0
    engine = BlueEngine(stable=[False] * 3, exchange_max_leverage=[20] * 3, **{"pos.max_hold_bars": 2})
    for row in range(3):
        rec = engine.on_scan(**python_scan(cg.ir, {name: columns[name][row] for name in columns
                                                   if not cg.ir.input_spec(name).universe}))
        assert rec["selected"] == out["selected"][row] and rec["asset"] == out["asset"][row]
        assert rec["exit"] == out["exit"][row] and (math.isnan(rec["pnl"]) == math.isnan(out["pnl"][row]))
    assert engine.trades[0]["reason"] == "MAX_HOLD" and math.isnan(engine.trades[0]["pnl"])


# ------------------------------------------------------------ factors as of each scan


def asof(rows: dict[str, list], max_age_s: float = 7200.0) -> AsOf:
    return AsOf.of(pa.table(rows), max_age_s)


SCANS = np.array([10 * HOUR, 11 * HOUR, 12 * HOUR, 20 * HOUR], dtype=np.int64)


def test_a_factor_is_its_latest_value_at_or_before_the_scan_never_after():
    factors = asof({"ts_us": [10 * HOUR, 11 * HOUR - 1, 11 * HOUR + 1, 19 * HOUR],
                    "acb_boost": [1.5, 1.6, 9.9, 2.0], "posture": ["STALKER", None, "TURTLE", None]})
    joined = join_factors(SCANS, factors)
    # at 10h exactly: 1.5; at 11h: the value 1 us before (1.6), not the one 1 us after (9.9);
    # at 12h: 9.9 (published at 11h + 1 us); at 20h: 2.0 from 19h, one hour old
    assert joined.columns["acb_boost"].tolist() == [1.5, 1.6, 9.9, 2.0]
    # posture: null rows do not update it; at 20h the latest (TURTLE, 11h + 1 us) is 9 h old: stale, neutral
    assert joined.columns["posture"] == ["STALKER", "STALKER", "TURTLE", "APEX"]
    assert joined.stale == ["", "", "", "posture"] and joined.stale_counts == {"posture": 1}
    assert joined.columns["mc_scale"].tolist() == [1.0] * 4  # a factor not in the table stays neutral


def test_a_factor_before_its_first_value_is_neutral_and_stale_exactly_past_the_age():
    factors = asof({"ts_us": [11 * HOUR], "ob_mult": [0.7]}, max_age_s=3600.0)
    joined = join_factors(SCANS, factors)
    assert joined.columns["ob_mult"].tolist() == [1.0, 0.7, 0.7, 1.0]  # 12h: exactly 1 h old, still fresh
    assert joined.stale == ["", "", "", "ob_mult"]
    joined = join_factors(SCANS + 1, factors)  # one microsecond later, the 12h scan's value is stale
    assert joined.columns["ob_mult"].tolist() == [1.0, 0.7, 1.0, 1.0] and joined.stale_counts == {"ob_mult": 2}


def test_scans_build_joins_the_factors_as_of_each_bar():
    panel = generate_panel(8, 200, seed=2)
    ts = panel.ts_us[160]
    scans, _ = build_scans(panel, ScanSettings(fast=10, slow=50), asof({"ts_us": [ts - 1], "acb_boost": [1.7]}))
    rows = scans.column("ts_us").to_pylist()
    boost = scans.column("acb_boost").to_pylist()
    at = rows.index(ts)
    # published 1 us before bar 160: fresh on bars 160 and 161, stale (over 2 h old) from bar 162
    assert boost[at - 1] == 1.0 and boost[at] == boost[at + 1] == 1.7 and boost[at + 2] == 1.0
    assert [scans.column("stale_factors")[k].as_py() for k in (at - 1, at, at + 1, at + 2)] == ["", "", "", "acb_boost"]


@pytest.mark.parametrize("age", [-1.0, math.nan, math.inf])
def test_a_bad_factor_age_is_refused(age):
    with pytest.raises(InputError, match="factor-max-age"):
        asof({"ts_us": [0], "acb_boost": [1.0]}, age)
