"""`violet sweep`: a grid of parameter sets, each over the whole history in one compiled loop."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import GRAPHS
from test_runtime import write_scans

from violet.compile.lower import lower
from violet.compile.numba_backend import compile_ir
from violet.dag.graph import load_graph
from violet.dag.types import DType
from violet.tools.grid import Grid, grid_values, product
from violet.tools.sweep import summarize, sweep
from violet.table_io import input_columns, read_table

DECISION = GRAPHS / "blue_decision.toml"


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    path = write_scans(tmp_path_factory.mktemp("sweep") / "scans.parquet", n_scans=400)
    ir = lower(load_graph(DECISION))
    columns, _ = input_columns(ir, read_table(path), str(path), read_table(path.with_name("scans.universe.parquet")))
    return path, compile_ir(ir), columns


def test_grid_values_and_their_combinations():
    assert grid_values("f", "0.1:0.3:3", DType.F64) == ["0.1", "0.2", "0.3"]
    assert grid_values("f", "-0.01:-0.1:10", DType.F64)[1] == "-0.02"  # computed in decimal, then rounded once
    assert grid_values("n", "4, 6,8", DType.I64) == ["4", "6", "8"]
    sets = Grid({"a": np.array([1, 2]), "b": np.array([0.5, 0.25, 0.125])}).points()
    assert len(sets) == 6 and sets[0] == {"a": 1, "b": 0.5} and sets[1] == {"a": 1, "b": 0.25} and sets[-1] == {
        "a": 2, "b": 0.125}


def test_doubling_the_fraction_doubles_every_notional_and_nothing_else(history):
    """notional = capital * fraction * leverage: a power-of-two fraction scales it exactly, so its mean doubles
    bit for bit, while the trades, their pnl (a return) and the leverage are the same."""
    _, cg, columns = history
    low, high = sweep(cg, columns, [{"sz.fraction": 0.125}, {"sz.fraction": 0.25}])
    assert low["trades"] > 0 and low["trades"] == high["trades"] and low["pnl_sum"] == high["pnl_sum"]
    assert high["mean_notional"] == 2 * low["mean_notional"] and high["mean_margin"] == 2 * low["mean_margin"]
    assert high["mean_leverage"] == low["mean_leverage"]


def same(a: dict, b: dict) -> bool:
    """Equal rows, a NaN equal to a NaN (a mean over no number)."""
    return a.keys() == b.keys() and all(a[k] == b[k] or (np.isnan(a[k]) and np.isnan(b[k])) for k in a)


def test_a_sweep_row_is_the_run_with_those_parameters(history):
    """Each row equals the history run alone with its parameters; threads change nothing."""
    _, cg, columns = history
    sets = product(cg.ir, {"vd_threshold": [-0.01, -0.03], "pos.max_hold_bars": [6, 48]}).points()
    rows = sweep(cg, columns, sets, threads=2)
    for params, row in zip(sets, rows):
        assert same(row, {**params, **summarize(cg.ir, cg.scan(columns, params)[0])})
    assert len({row["trades"] for row in rows}) > 1  # the parameters matter
    assert all(same(a, b) for a, b in zip(rows, sweep(cg, columns, sets, threads=1)))


def test_the_cli_writes_one_row_per_set_and_refuses_a_bad_grid(history, tmp_path):
    path, _, _ = history
    out = tmp_path / "sweep.parquet"
    done = subprocess.run([sys.executable, "-m", "violet.cli", "sweep", str(DECISION), "--input", str(path),
                           "--grid", "sz.fraction=0.1:0.3:3", "--grid", "pos.tp_pct=0.01,0.02", "-o", str(out)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    table = pq.read_table(out)
    assert table.num_rows == 6 and table.column("sz.fraction").to_pylist() == [0.1, 0.1, 0.2, 0.2, 0.3, 0.3]
    assert "6 parameter sets x 400 rows" in done.stdout
    bad = subprocess.run([sys.executable, "-m", "violet.cli", "sweep", str(DECISION), "--input", str(path),
                          "--grid", "pos.max_hold_bars=1:5:3", "-o", str(out)], capture_output=True, text=True)
    assert bad.returncode == 2 and "bad range '1:5:3' for 'pos.max_hold_bars'" in bad.stderr


def test_a_sweep_rows_money_is_the_backtest_with_those_parameters(history):
    """For each set, the sweep's figures equal `violet backtest --set` (the facade binds the parameters, the
    batch kernel runs, the accounting values the trades), bit for bit."""
    from violet.api import compile_graph
    from violet.tools.backtest import Costs, backtest
    from violet.tools.sweep import MONEY, money
    from violet.table_io import trade_rows

    _, cg, columns = history
    costs = Costs(10_000.0, 4.0, 1.0)
    sets = product(cg.ir, {"pos.tp_pct": [0.005, 0.02], "vd_threshold": [-0.01, -0.04]}).points()
    rows = sweep(cg, columns, sets, threads=2, accounting=money(columns, costs))
    for params, row in zip(sets, rows):
        alone = compile_graph(DECISION, params)
        stream = trade_rows(alone.ir, alone.batch(columns))
        summary = backtest(columns["price"], columns["scan_id"], columns["ts_us"], stream, costs, []).summary
        assert same(row, {**row, **{k: summary[k] for k in MONEY}}) and row["trades"] == summary["trades"]
    assert len({row["sharpe"] for row in rows}) == len(rows)  # the parameters matter


def test_the_cli_ranks_the_sets_and_draws_a_heatmap(history, tmp_path):
    path, _, _ = history
    done = subprocess.run([sys.executable, "-m", "violet.cli", "sweep", str(DECISION), "--input", str(path),
                           "--grid", "pos.tp_pct=0.005:0.02:4", "--grid", "vd_threshold=-0.01,-0.03",
                           "-o", str(tmp_path / "s.parquet"), "--top", "3", "--heatmap", str(tmp_path / "h.png")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    ranked = [line for line in done.stdout.splitlines() if line.startswith("  pos.tp_pct=")]
    sharpe = [float(line.split("sharpe=")[1].split()[0]) for line in ranked]
    table = pq.read_table(tmp_path / "s.parquet")
    assert len(ranked) == 3 and sharpe == sorted(sharpe, reverse=True)
    assert sharpe[0] == pytest.approx(max(table.column("sharpe").to_pylist()), rel=1e-5)
    assert (tmp_path / "h.png").read_bytes()[:4] == b"\x89PNG"
    one = subprocess.run([sys.executable, "-m", "violet.cli", "sweep", str(DECISION), "--input", str(path),
                          "--grid", "pos.tp_pct=0.01,0.02", "-o", str(tmp_path / "s.parquet"), "--heatmap",
                          str(tmp_path / "h.png")], capture_output=True, text=True)
    assert one.returncode == 2 and "a heatmap needs a 2-D product grid" in one.stderr
