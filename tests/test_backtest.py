"""Backtest accounting on a hand-computed example (docs/backtest.md), and `violet backtest` end to end."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import GRAPHS
from hypothesis import given, settings
from hypothesis import strategies as st
from test_runtime import write_scans

from violet.tools.backtest import Costs, backtest

HOUR_US = 3_600_000_000
PRICES = np.array([[100.0], [100.0], [95.0], [90.0], [90.0]])
SCANS = np.arange(10, 15)
TS = np.arange(5) * HOUR_US
SHORT = {"entry_scan": [11], "exit_scan": [13], "asset": [0], "notional": [1000.0], "pnl": [0.1]}


def test_one_short_by_hand():
    """Short 1,000 at 100 on scan 11, marked at 95 on scan 12, closed at 90 on scan 13 (the graph's pnl 0.10);
    10 bps fee and 5 bps slippage a side: 1.5 on entry, 1.5 on exit."""
    result = backtest(PRICES, SCANS, TS, SHORT, Costs(10_000.0, 10.0, 5.0, side=-1), ["BTCUSDT"])
    assert result.curve["equity"].tolist() == [10_000.0, 9_998.5, 10_048.5, 10_097.0, 10_097.0]
    assert result.curve["drawdown"].tolist() == [0.0, 1 - 9_998.5 / 10_000.0, 0.0, 0.0, 0.0]  # 0.00015, rounded
    assert result.curve["bar_return"][1] == 9_998.5 / 10_000.0 - 1 and result.curve["bar_return"][4] == 0.0
    trade = {k: v[0] for k, v in result.trades.items()}
    assert trade == {"entry_scan": 11, "exit_scan": 13, "asset": 0, "notional": 1000.0, "bars": 2, "gross": 100.0,
                     "fees": 2.0, "slippage": 1.0, "funding": 0.0, "net": 97.0}
    s = result.summary
    assert s["total_return"] == 10_097.0 / 10_000.0 - 1 and s["max_drawdown"] == 1 - 9_998.5 / 10_000.0
    assert s["bars_per_year"] == 8766.0 and s["hit_rate"] == 1.0 and s["average_hold_bars"] == 2.0
    assert s["turnover"] == 0.2  # 1,000 in and 1,000 out over 10,000
    r = result.curve["bar_return"]
    assert s["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(8766), rel=1e-12)
    assert s["sortino"] == pytest.approx(r.mean() / math.sqrt(np.mean(np.minimum(r, 0) ** 2)) * math.sqrt(8766))
    assert result.per_symbol == {"BTCUSDT": {"trades": 1.0, "net": 97.0, "wins": 1.0, "hit_rate": 1.0}}


def test_funding_is_received_by_a_short_and_paid_by_a_long():
    """A rate of 0.0001 a bar, positive (longs pay shorts): held over scans 12 and 13, 0.1 a bar on 1,000."""
    rates = np.full((5, 1), 0.0001)
    short = backtest(PRICES, SCANS, TS, SHORT, Costs(side=-1), ["X"], rates)
    long = backtest(PRICES, SCANS, TS, {**SHORT, "pnl": [-0.1]}, Costs(side=1), ["X"], rates)
    assert short.trades["funding"] == [pytest.approx(0.2)] and long.trades["funding"] == [pytest.approx(-0.2)]
    assert long.curve["equity"][2] == 10_000.0 - 50.0 - 0.1  # a long marked down 5% and one bar of funding paid


def test_a_trade_faces_the_side_its_lane_declares():
    """The trade stream's side (a two-lane portfolio's long lane: +1) wins over Costs.side, which only values
    trades of no declared side (0): the long marked down 5% on scan 12 whatever --side says."""
    rates = np.full((5, 1), 0.0001)
    declared = backtest(PRICES, SCANS, TS, {**SHORT, "pnl": [-0.1], "side": np.array([1])}, Costs(side=-1), ["X"], rates)
    undeclared = backtest(PRICES, SCANS, TS, {**SHORT, "pnl": [-0.1], "side": np.array([0])}, Costs(side=1), ["X"], rates)
    assert declared.curve["equity"][2] == undeclared.curve["equity"][2] == 10_000.0 - 50.0 - 0.1
    assert declared.trades["funding"] == undeclared.trades["funding"] == [pytest.approx(-0.2)]


def test_violet_backtest_writes_the_curve_trades_and_png(tmp_path):
    scans = write_scans(tmp_path / "scans.parquet", n_scans=300)
    out = tmp_path / "bt.parquet"
    done = subprocess.run([sys.executable, "-m", "violet.cli", "backtest", str(GRAPHS / "blue_decision.toml"),
                           "--input", str(scans), "-o", str(out), "--fee-bps", "4", "--png", str(tmp_path / "bt.png")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    curve, trades = pq.read_table(out), pq.read_table(tmp_path / "bt.trades.parquet")
    assert curve.num_rows == 300 and trades.num_rows > 0
    net = sum(trades.column("net").to_pylist())
    assert curve.column("equity").to_pylist()[-1] == pytest.approx(10_000.0 + net, abs=1e-6)  # every trade closed
    assert (tmp_path / "bt.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "max drawdown" in done.stdout
    bad = subprocess.run([sys.executable, "-m", "violet.cli", "backtest", str(GRAPHS / "blue_sizing.toml"),
                          "--input", str(scans), "-o", str(out)], capture_output=True, text=True)
    assert bad.returncode == 2 and "no per-asset input 'price'" in bad.stderr


def reference(prices, trades, capital, fee_bps, slippage_bps, side, funding, per_year):
    """docs/backtest.md's rules in numpy, trade by trade (an independent model of the compiled accounting):
    the curve, then each figure as the numpy expression the docs give."""
    n = len(prices)
    cash, marks = np.zeros(n), np.zeros(n)
    rate = (fee_bps + slippage_bps) / 1e4
    net, paid_all, fees_all, slip_all = [], [], [], []
    for e, x, a, q, pnl in zip(*(trades[f] for f in ("entry_scan", "exit_scan", "asset", "notional", "pnl"))):
        gross = q * pnl
        fees, slip = 2 * q * fee_bps / 1e4, 2 * q * slippage_bps / 1e4
        cash[e] -= q * rate
        cash[x] += gross - q * rate
        marks[e:x] += side * q * (prices[e:x, a] - prices[e, a]) / prices[e, a]
        flows = -side * q * funding[e + 1:x + 1, a] if funding is not None else np.zeros(x - e)
        cash[e + 1:x + 1] += flows
        paid = float(flows.sum()) if funding is not None else 0.0
        net.append(gross - fees - slip + paid)
        paid_all.append(paid), fees_all.append(fees), slip_all.append(slip)
    equity = capital + np.cumsum(cash) + marks
    r = equity / np.concatenate([[capital], equity[:-1]]) - 1.0
    drawdown = 1.0 - equity / np.maximum.accumulate(np.concatenate([[capital], equity]))[1:]
    std = float(np.std(r, ddof=1))
    downside = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2)))
    net_a = np.array(net)
    return equity, drawdown, {
        "max_drawdown": float(drawdown.max()), "total_return": equity[-1] / capital - 1.0,
        "sharpe": float(np.mean(r)) / std * math.sqrt(per_year) if std else math.nan,
        "sortino": float(np.mean(r)) / downside * math.sqrt(per_year) if downside else math.nan,
        "hit_rate": float((net_a > 0).mean()) if len(net) else math.nan,
        "turnover": 2.0 * float(np.sum(np.array(trades["notional"], dtype=float))) / capital,
        "net_pnl": float(net_a.sum()), "funding": float(np.sum(paid_all)), "fees": float(np.sum(fees_all))}


@st.composite
def runs(draw):
    """Random prices (T x N), non-overlapping-or-not trades on them, costs, a side, maybe funding."""
    n_rows, n_assets = draw(st.integers(3, 300)), draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    prices = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.02, (n_rows, n_assets)), axis=0))
    k = draw(st.integers(0, 40))
    entry = rng.integers(0, n_rows - 1, k)
    exit_ = np.minimum(entry + rng.integers(1, 60, k), n_rows - 1)
    trades = {"entry_scan": entry.tolist(), "exit_scan": exit_.tolist(), "asset": rng.integers(0, n_assets, k).tolist(),
              "notional": rng.uniform(100, 5000, k).tolist(), "pnl": rng.normal(0, 0.03, k).tolist()}
    funding = rng.normal(0, 1e-4, (n_rows, n_assets)) if draw(st.booleans()) else None
    costs = Costs(draw(st.sampled_from([1_000.0, 10_000.0])), draw(st.sampled_from([0.0, 4.0, 7.5])),
                  draw(st.sampled_from([0.0, 1.0, 2.5])), draw(st.sampled_from([-1, 1])))
    return prices, trades, costs, funding


@given(runs(), st.sampled_from([1, 1_000_003]))
@settings(max_examples=60, deadline=None)
def test_the_compiled_accounting_is_the_numpy_model_bit_for_bit(run, spacing):
    """The compiled `account` (violet backtest's and every sweep instance's) equals docs/backtest.md's
    formulas written in numpy, bit for bit: its sums are numpy's pairwise sums, in numpy's order. Scan ids
    counted up find their rows by a table, ids a million apart by a search: the same rows."""
    prices, trades, costs, funding = run
    n_rows = len(prices)
    by_scan = {**trades, "entry_scan": [e * spacing + 10 for e in trades["entry_scan"]],
               "exit_scan": [x * spacing + 10 for x in trades["exit_scan"]]}  # the scans' ids: rows x spacing + 10
    ids = np.arange(n_rows) * spacing + 10
    result = backtest(prices, ids, np.arange(n_rows) * HOUR_US, by_scan, costs, [], funding)
    equity, drawdown, figures = reference(prices, trades, costs.capital, costs.fee_bps, costs.slippage_bps,
                                          costs.side, funding, 8766.0)
    assert equity.tobytes() == result.curve["equity"].tobytes()
    assert drawdown.tobytes() == result.curve["drawdown"].tobytes()
    assert repr({k: float(v) for k, v in figures.items()}) == repr({k: result.summary[k] for k in figures})


def test_scan_rows_come_from_a_table_or_a_search_and_the_last_row_wins():
    """`Rows`: ids counted up (the scans' own) get a table, ids far apart the sorted search; either way a
    repeated id is its last row, and an id no scan has is not found."""
    from violet.tools.backtest import Rows, _rows

    for ids, by_table in ((np.array([10, 11, 12, 11, 14]), True), (np.array([10, 11, 12, 11, 10**12]), False)):
        rows = Rows.of(ids)
        assert (rows.table.size > 0) == by_table
        out = np.empty(4, np.int64)
        assert _rows(*rows.args, np.array([11, 10, 12, ids[-1]]), out) and out.tolist() == [3, 0, 2, 4]
        assert not _rows(*rows.args, np.array([13]), out) and not _rows(*rows.args, np.array([9]), out)
