"""Population kernels (violet.compile.numba_codegen.generate_population): P parameter instances in one
compiled, parallel call, the work of no swept parameter and no state shared. Each instance equals the
serial scan kernel with its parameters, bit for bit; the sweep built on them equals `violet backtest
--set` for sampled instances, whatever the chunk size and the number of cores."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import GRAPHS
from test_runtime import write_scans

from violet.api import load
from violet.compile.numba_backend import compile_ir
from violet.tools.backtest import YEAR_US, Costs
from violet.tools.grid import product
from violet.tools.sweep import MONEY, money, sweep
from violet.table_io import input_columns, read_table

DECISION = GRAPHS / "blue_decision.toml"
COOLDOWN = GRAPHS / "examples" / "cooldown_short.toml"

SMALL = """[graph]
name = "shared_count"
[inputs]
price = { type = "float64", vector = true }
[params]
k = 2.0
m = 3.0
[state]
acc = 0.0
[nodes.hi]
expr = "max_of(price, price > 0.0)"
[nodes.scaled]
expr = "hi * m"
[nodes.gate]
expr = "hi > k"
[outputs]
out = "select(gate, scaled, acc)"
[next_state]
acc = "acc + scaled"
"""


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    path = write_scans(tmp_path_factory.mktemp("population") / "scans.parquet", n_scans=300, n_assets=7)
    ir = load(DECISION)
    columns, _ = input_columns(ir, read_table(path), str(path), read_table(path.with_name("scans.universe.parquet")))
    return path, compile_ir(ir), columns


def bits(a: np.ndarray) -> bytes:
    """An array's exact bytes: -0.0 is not 0.0, every NaN of one pattern is itself."""
    return np.ascontiguousarray(a).tobytes()


def instances_equal_scans(cg, columns, values: dict[str, np.ndarray]) -> int:
    """Run the population for `values` (one array per swept parameter), compare every instance's every
    scalar output with the scan kernel run alone with that instance's parameters; the trades seen."""
    pop = cg.population(list(values))
    outs = pop.run(columns, pop.shared(columns), values)
    trades = 0
    for k in range(len(next(iter(values.values())))):
        alone, _ = cg.scan(columns, {name: v[k].item() for name, v in values.items()})
        for name, got in outs.items():
            assert bits(got[k]) == bits(alone[name].astype(got.dtype)), (k, name)
        trades += int(alone["trade"].sum())
    return trades


def test_the_shared_pass_keeps_what_instances_read_and_nothing_else(tmp_path):
    """By hand: with k swept, `hi` (the masked max over the assets) and `scaled` (hi * m) are the same in
    every instance and are read by instance ops (gate, out, next acc); the mask is only read by `hi`. With m
    swept, `scaled` varies and `gate` is shared instead. The max over the assets is computed in `shared`
    only, never per instance."""
    (tmp_path / "g.toml").write_text(SMALL)
    cg = compile_ir(load(tmp_path / "g.toml"))
    kinds = {tuple(sw): [cg.ir.ops[i].kind for i in cg.population(sw).kept] for sw in (["k"], ["m"], ["k", "m"])}
    assert kinds == {("k",): ["max_of", "mul"], ("m",): ["max_of", "gt"], ("k", "m"): ["max_of"]}
    source = cg.population(["k"]).path.read_text()
    shared, population = source.split("def shared(")[1].split("def population(")
    population, live = population.split("def population_step(")
    assert "extreme(" in shared and "extreme(" not in population and "# mul" not in population
    once, per_instance = live.split("for i in prange(P):")  # the live step: shared work once per scan, before
    assert "extreme(" in once and "# mul" in once and "extreme(" not in per_instance and "# mul" not in per_instance
    price = np.array([[1.0, 4.0], [-1.0, -2.0], [3.0, 0.5]])
    pop = cg.population(["k"])
    out = pop.run({"price": price}, pop.shared({"price": price}), {"k": np.array([2.0, 3.5])})["out"]
    # hi = 4, nan (no positive price), 3; scaled = 12, nan, 9; acc before each row = 0, 12, nan
    assert bits(out) == bits(np.array([[12.0, 12.0, 9.0], [12.0, 12.0, np.nan]]))


def test_population_equals_the_scan_per_instance_on_the_decision(history):
    _, cg, columns = history
    rng = np.random.default_rng(3)
    values = {"pos.tp_pct": rng.uniform(0.002, 0.04, 9), "vd_threshold": rng.uniform(-0.06, -0.005, 9),
              "pos.max_hold_bars": rng.integers(2, 60, 9)}
    assert instances_equal_scans(cg, columns, values) > 9  # the instances trade


def test_population_equals_the_scan_per_instance_with_per_asset_state(history):
    """cooldown_short carries a cooldown per asset (int64[N] state): each instance its own."""
    _, blue, columns = history
    cg = compile_ir(load(COOLDOWN))
    n = columns["price"].shape[1]
    cols = {**{k: columns[k] for k in ("scan_id", "price", "score", "vel_div")},
            "index": np.arange(n), "stable": np.arange(n) == 0}
    values = {"cooldown_bars": np.array([0, 3, 12, 40]), "sl_pct": np.array([0.004, 0.01, 0.004, 0.02])}
    assert instances_equal_scans(cg, cols, values) > 4


def test_chunks_and_cores_change_no_row(history):
    _, cg, columns = history
    sets = product(cg.ir, {"pos.tp_pct": [0.005, 0.01, 0.02], "vd_threshold": [-0.01, -0.03]}).points()
    costs = Costs(10_000.0, 4.0, 1.0)
    runs = [sweep(cg, columns, sets, threads=t, accounting=money(columns, costs), chunk=c)
            for t, c in ((1, None), (2, 1), (2, 4))]
    assert all(repr(run) == repr(runs[0]) for run in runs)  # repr: every float's digits, NaN equal to NaN
    assert len({row["sharpe"] for row in runs[0]}) == len(sets)


def test_a_sampled_instance_is_the_backtest_command_with_its_parameters(history, tmp_path):
    """`violet backtest --set` for one instance of a grid: its trades (net in money) and its equity curve
    give the sweep row's figures, bit for bit."""
    path, cg, columns = history
    sets = product(cg.ir, {"pos.tp_pct": [0.006, 0.015], "pos.max_hold_bars": [8, 30]}).points()
    rows = sweep(cg, columns, sets, accounting=money(columns, Costs(10_000.0, 4.0, 1.0)), chunk=3)
    sampled = sets[2]
    out = tmp_path / "bt.parquet"
    done = subprocess.run([sys.executable, "-m", "violet.cli", "backtest", str(DECISION), "--input", str(path),
                           "-o", str(out), "--fee-bps", "4", "--slippage-bps", "1",
                           *[a for k, v in sampled.items() for a in ("--set", f"{k}={v!r}")]],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    curve, trades = pq.read_table(out).to_pydict(), pq.read_table(tmp_path / "bt.trades.parquet").to_pydict()
    row = rows[2]
    equity, r = np.array(curve["equity"]), np.array(curve["bar_return"])
    per_year = YEAR_US / float(np.median(np.diff(curve["ts_us"])))
    assert row["trades"] == len(trades["net"]) > 0
    assert row["net_pnl"] == float(np.asarray(trades["net"]).sum())
    assert row["total_return"] == equity[-1] / 10_000.0 - 1.0
    assert row["max_drawdown"] == float(np.max(curve["drawdown"]))
    assert row["sharpe"] == float(np.mean(r)) / float(np.std(r, ddof=1)) * math.sqrt(per_year)
    assert row["turnover"] == 2.0 * float(np.sum(trades["notional"])) / 10_000.0
    assert set(MONEY) <= set(row)


def test_a_population_of_the_trade_stream_alone_writes_the_same_bits(history):
    """Writing only the trade stream (what the money reads), on the trade rows only, drops the other outputs'
    work, not a bit of the stream's: each instance's count is its trade rows in the population writing every
    output on every row, and its trades are those rows' values, in order; a sweep without means has the same
    rows but the means."""
    from violet.tools.sweep import STREAM

    _, cg, columns = history
    rng = np.random.default_rng(5)
    values = {"pos.tp_pct": rng.uniform(0.002, 0.04, 37), "vd_threshold": rng.uniform(-0.06, -0.005, 37),
              "pos.max_hold_bars": rng.integers(2, 60, 37)}  # 37: a block of 32 and a short one
    full, alone = cg.population(list(values)), cg.population(list(values), STREAM, where="trade")
    everything = full.run(columns, full.shared(columns), values)
    stream = alone.run(columns, alone.shared(columns), values)
    assert sorted(stream) == sorted(STREAM)
    assert stream["trade"].tolist() == everything["trade"].sum(axis=1).tolist() and int(stream["trade"].sum()) > 37
    for k in range(37):
        rows_ = everything["trade"][k]
        assert all(bits(stream[n][k, :stream["trade"][k]]) == bits(everything[n][k][rows_]) for n in STREAM[1:])
    points = [{name: v[k].item() for name, v in values.items()} for k in range(37)]
    account = money(columns, Costs(10_000.0, 4.0, 1.0))
    with_means = sweep(cg, columns, points, accounting=account)
    without = sweep(cg, columns, points, accounting=account, means=False, chunk=4)
    assert [{k: v for k, v in row.items() if not k.startswith("mean_")} for row in with_means] == without
    assert repr(without) == repr([{k: v for k, v in row.items() if not k.startswith("mean_")} for row in with_means])
