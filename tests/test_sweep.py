"""`violet sweep`: a grid of parameter sets, each over the whole history in one compiled loop."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import GRAPHS
from hypothesis import given, settings
from hypothesis import strategies as st
from test_runtime import write_scans

from violet.compile.lower import lower
from violet.compile.numba_backend import compile_ir
from violet.dag.graph import load_graph
from violet.dag.types import DType
from violet.errors import InputError
from violet.tools.grid import Grid, grid_values, product, read_grid
from violet.tools.sweep import chunks, population, rows, summarize, sweep
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


def test_a_second_sweep_writes_into_the_firsts_buffers_and_leaves_its_columns_alone(history):
    """A sweep gives its population's buffers back for the next (a page written once stays mapped); the
    columns it yielded are no view of them: a second sweep of other points, in the same buffers, changes none."""
    _, cg, columns = history
    sets = product(cg.ir, {"vd_threshold": [-0.01, -0.03], "pos.max_hold_bars": [6, 48]}).points()
    first = list(chunks(cg, columns, sets, means=False, chunk=3))  # 3 + 1 points: both buffer sets written
    pop = population(cg, ["pos.max_hold_bars", "vd_threshold"], means=False)
    held = {id(b) for sets in pop.spare.values() for b in sets}
    assert len(held) == 2
    kept = [{name: values.copy() for name, values in part.items()} for part in first]
    other = sweep(cg, columns, [{**p, "vd_threshold": p["vd_threshold"] / 2} for p in sets], means=False, chunk=3)
    assert {id(b) for sets in pop.spare.values() for b in sets} == held  # lent again and given back
    for part, copy in zip(first, kept):
        assert all(np.array_equal(part[name], copy[name], equal_nan=True) for name in part)
    rows_ = [row for part in first for row in rows(part)]
    assert any(a["trades"] != b["trades"] for a, b in zip(rows_, other))
    assert all(same(a, b) for a, b in zip(rows_, sweep(cg, columns, sets, means=False)))


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
    rows = sweep(cg, columns, sets, threads=2, accounting=money(columns, costs), means=False)  # the CLI's kernel
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


# ---------------------------------------------------------------- grid files (violet.tools.grid, docs/sweep.md "Grids")

REFINED = """[graph]
name = "refined"
[inputs]
price = { type = "float64", vector = true }
[params]
k = { default = 0.5, finite = true }
hold = { default = 10, ge = 1, le = 100 }
on = true
[nodes.hi]
expr = "max_of(price * k, price > 0.0)"
[outputs]
out = "select(on, hi, hi + float(hold))"
"""


@pytest.fixture(scope="module")
def refined(tmp_path_factory):
    path = tmp_path_factory.mktemp("grid") / "refined.toml"
    path.write_text(REFINED)
    return lower(load_graph(path))


def grid_file(tmp_path, text: str):
    path = tmp_path / "grid.toml"
    path.write_text(text)
    return path


def test_a_grid_file_of_values_and_ranges_by_hand(refined, tmp_path):
    """Values, a decimal-exact range by n, an int range by step: their product, the last varying fastest."""
    path = grid_file(tmp_path, """
[params]
on = [true, false]
k = { lo = -0.01, hi = -0.1, n = 10 }
hold = { lo = 10, hi = 40, step = 15 }
""")
    grid = read_grid(refined, path)
    assert grid.size == 2 * 10 * 3 and not grid.joint
    assert grid.axes["k"].tolist()[:3] == [-0.01, -0.02, -0.03] and grid.axes["k"][-1] == -0.1  # not -0.020000000000000004
    assert grid.axes["hold"].tolist() == [10, 25, 40] and grid.axes["hold"].dtype == np.int64
    points = grid.points()
    assert points[0] == {"on": True, "k": -0.01, "hold": 10} and points[1] == {"on": True, "k": -0.01, "hold": 25}
    assert points[3] == {"on": True, "k": -0.02, "hold": 10} and points[-1] == {"on": False, "k": -0.1, "hold": 40}
    descending = read_grid(refined, grid_file(tmp_path, "[params]\nhold = { lo = 9, hi = 1, step = -4 }\n"))
    assert descending.axes["hold"].tolist() == [9, 5, 1]
    assert read_grid(refined, grid_file(tmp_path, "[params]\nhold = { lo = 1, hi = 7, n = 4 }\n")).axes[
        "hold"].tolist() == [1, 3, 5, 7]


def test_random_draws_are_the_seeds_and_reproducible(refined, tmp_path):
    """Axes draw in file order from one generator of the file's seed (numpy's PCG64, so the expectation is
    numpy's own draws); an axis with a seed of its own draws from that; the same file gives the same points."""
    text = """seed = 42
[params]
k = { random = "uniform", lo = 0.25, hi = 0.75, n = 5 }
hold = { random = "integers", lo = 1, hi = 3, n = 50 }
on = { random = "choice", values = [true, false], n = 2, seed = 7 }
"""
    grid = read_grid(refined, grid_file(tmp_path, text))
    rng = np.random.default_rng(42)
    assert grid.axes["k"].tolist() == rng.uniform(0.25, 0.75, 5).tolist()
    assert grid.axes["hold"].tolist() == rng.integers(1, 3, 50, endpoint=True).tolist()
    assert set(grid.axes["hold"].tolist()) == {1, 2, 3}  # both ends in
    assert grid.axes["on"].tolist() == np.array([True, False])[np.random.default_rng(7).integers(0, 2, 2)].tolist()
    assert grid.size == 5 * 50 * 2 and repr(read_grid(refined, grid_file(tmp_path, text)).points()) == repr(grid.points())
    other = read_grid(refined, grid_file(tmp_path, text.replace("seed = 42", "seed = 43")))
    assert other.axes["k"].tolist() != grid.axes["k"].tolist()


def test_a_joint_design_draws_every_parameter_samples_times(refined, tmp_path):
    grid = read_grid(refined, grid_file(tmp_path, """samples = 1000
seed = 3
[params]
k = { random = "log-uniform", lo = 0.001, hi = 10.0 }
hold = { random = "integers", lo = 1, hi = 100 }
"""))
    assert grid.joint and grid.size == 1000
    k = grid.axes["k"]
    assert 0.001 <= k.min() and k.max() <= 10.0 and (k < 0.01).sum() > 150 and (k > 1.0).sum() > 150  # a decade each
    assert grid.points(998) == [{"k": float(k[998]), "hold": int(grid.axes["hold"][998])},
                                {"k": float(k[999]), "hold": int(grid.axes["hold"][999])}]


@pytest.mark.parametrize("text, key, what", [
    ("[params]\nnope = [1.0]\n", "params.nope", "unknown parameter 'nope'"),
    ("[params]\nhold = [1.5]\n", "params.hold", "is int64, got float"),
    ("[params]\nhold = [0, 5]\n", "params.hold", "parameter 'hold'"),  # ge = 1
    ("[params]\nk = [nan]\n", "params.k", "parameter 'k'"),  # finite
    ("[params]\nk = { lo = 0.5, hi = 0.1, step = 0.1 }\n", "params.k", "an empty range"),
    ("[params]\nk = { lo = 0.5, hi = 0.1, n = 1 }\n", "params.k", "n must be an integer >= 2"),
    ("[params]\nk = { lo = 0.1, hi = 0.5, n = 3, step = 0.1 }\n", "params.k", "exactly one of n and step"),
    ("[params]\nhold = { lo = 1, hi = 8, n = 3 }\n", "params.hold", "3 evenly spaced integers"),
    ("[params]\nk = { random = \"gauss\", lo = 0, hi = 1, n = 3 }\n", "params.k", "unknown random draw 'gauss'"),
    ("[params]\nk = { random = \"uniform\", lo = 1.0, hi = 1.0, n = 3 }\n", "params.k", "an empty interval"),
    ("[params]\nk = { random = \"log-uniform\", lo = 0.0, hi = 1.0, n = 3 }\n", "params.k", "an empty interval"),
    ("[params]\nk = { random = \"integers\", lo = 0, hi = 1, n = 3 }\n", "params.k", "integers draws for a float64"),
    ("[params]\nk = { lo = 0.1, hi = 0.5, n = 3, bogus = 1 }\n", "params.k", "unknown key 'bogus'"),
    ("samples = 10\n[params]\nk = [0.1, 0.2]\n", "params.k", "every parameter is drawn"),
    ("samples = 10\n[params]\nk = { random = \"uniform\", lo = 0, hi = 1, n = 3 }\n", "params.k", "n in a joint"),
    ("[params]\na.b = [1]\n", "params.a.b", "unknown parameter 'a.b'"),  # a dotted key names a parameter
    ("[params]\n\"k\\n\\u001b[31mred\" = [1.0]\n", "params.'k\\n\\x1b[31mred'", "unknown parameter"),
    ("[params]\n", "", "no [params] table"),
    ("[params\n", "", "not a TOML file"),
    ("speed = 3\n[params]\nk = [1.0]\n", "", "unknown key 'speed'"),
])
def test_every_bad_grid_file_is_one_message_naming_the_file_and_key(refined, tmp_path, text, key, what):
    path = grid_file(tmp_path, text)
    with pytest.raises(InputError) as err:
        read_grid(refined, path)
    assert err.value.where == (f"{path}: {key}" if key else str(path)) and what in err.value.what
    assert "\n" not in err.value.what and "\x1b" not in str(err.value)


def test_dotted_keys_name_parameters_and_a_product_past_int64_is_refused(tmp_path):
    """`pos.tp_pct = [...]` (a TOML dotted key) names the parameter pos.tp_pct; ten axes of 100 values are
    10^20 points, more than an int64 counts: refused before anything is drawn or run."""
    ir = lower(load_graph(DECISION))
    grid = read_grid(ir, grid_file(tmp_path, "[params]\npos.tp_pct = [0.01, 0.02]\npos.max_hold_bars = [6]\n"))
    assert grid.names == ["pos.tp_pct", "pos.max_hold_bars"] and grid.size == 2
    floats = [p.name for p in ir.params if p.type.dtype == DType.F64][:10]
    path = grid_file(tmp_path, "[params]\n" + "".join(f'"{name}" = {{ lo = 1, hi = 100, step = 1 }}\n'
                                                      for name in floats))
    with pytest.raises(InputError, match="100,000,000,000,000,000,000 points, more than an int64 counts"):
        read_grid(ir, path)


@given(st.lists(st.integers(1, 5), min_size=1, max_size=4), st.data())
@settings(max_examples=60, deadline=None)
def test_a_product_grids_columns_are_its_enumeration(lengths, data):
    """Point k of a product is itertools.product's k-th (the last axis fastest), for any slice start..stop."""
    axes = {f"p{j}": np.arange(n, dtype=np.int64) * 10 + j for j, n in enumerate(lengths)}
    grid = Grid(axes)
    expected = list(itertools.product(*[v.tolist() for v in axes.values()]))
    start = data.draw(st.integers(0, len(expected)))
    stop = data.draw(st.integers(start, len(expected) + 2))
    columns = grid.columns(start, stop)
    assert list(zip(*[columns[name].tolist() for name in axes])) == expected[start:stop]


def test_the_cli_sweeps_a_grid_file(history, tmp_path):
    """A joint random design from a file: the table holds its points in order, each row the in-process
    sweep's (the money included); a grid file beside name=... items is refused (exit 2, naming --grid)."""
    path, cg, columns = history
    from violet.tools.backtest import Costs
    from violet.tools.sweep import money

    grid_path = grid_file(tmp_path, """samples = 5
seed = 11
[params]
"pos.tp_pct" = { random = "uniform", lo = 0.004, hi = 0.03 }
vd_threshold = { random = "uniform", lo = -0.05, hi = -0.005 }
""")
    out = tmp_path / "s.parquet"
    done = subprocess.run([sys.executable, "-m", "violet.cli", "sweep", str(DECISION), "--input", str(path),
                           "--grid", str(grid_path), "--fee-bps", "4", "-o", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    grid = read_grid(cg.ir, grid_path)
    table = pq.read_table(out).to_pylist()
    assert [{k: row[k] for k in grid.names} for row in table] == grid.points()
    expected = sweep(cg, columns, grid, accounting=money(columns, Costs(10_000.0, 4.0, 0.0)), means=False)
    assert all(same(a, b) for a, b in zip(table, expected)) and len(table) == 5
    mixed = subprocess.run([sys.executable, "-m", "violet.cli", "sweep", str(DECISION), "--input", str(path),
                            "--grid", str(grid_path), "--grid", "vd_threshold=-0.01", "-o", str(out)],
                           capture_output=True, text=True)
    assert mixed.returncode == 2 and "--grid: a grid file" in mixed.stderr and "Traceback" not in mixed.stderr


def test_a_sweep_values_each_trade_on_the_side_its_lane_declares(history):
    """long_lane's record declares a long lane: the compiled sweep values its trades long whatever Costs.side
    says, as `backtest` does with the stream's `side` (+1), bit for bit."""
    from violet.api import load
    from violet.tools.backtest import Costs, backtest
    from violet.tools.sweep import MONEY, money
    from violet.table_io import trade_rows

    _, _, columns = history
    cg = compile_ir(load(GRAPHS / "examples" / "long_lane.toml"))
    costs = Costs(10_000.0, 4.0, 1.0, side=-1)
    points = [{"long_threshold": -0.01}, {"long_threshold": 0.002}]
    rows = sweep(cg, columns, points, accounting=money(columns, costs), means=False)
    for params, row in zip(points, rows):
        stream = trade_rows(cg.ir, cg.scan(columns, params)[0])
        assert set(stream["side"].tolist()) == {1} and row["trades"] == len(stream["pnl"]) > 0
        summary = backtest(columns["price"], columns["scan_id"], columns["ts_us"], stream, costs, []).summary
        assert repr({k: row[k] for k in MONEY}) == repr({k: summary[k] for k in MONEY})
        short = backtest(columns["price"], columns["scan_id"], columns["ts_us"], {**stream, "side": 0 * stream["side"]},
                         costs, []).summary
        assert short["max_drawdown"] != summary["max_drawdown"]  # the side matters here


def test_a_two_lane_sweep_values_each_set_as_the_backtest_of_its_run(tmp_path):
    """A portfolio of two lanes (short and long, each its own trade stream) has no compiled accounting: a
    sweep's money takes each set's trades of both lanes (table_io.trade_rows) and values them with `backtest`.
    Given each set's outputs (every row, as the population writes them for such a graph), each row of figures
    is that run's backtest, bit for bit, both lanes' trades counted and each valued on its own side."""
    from violet.api import load
    from violet.tools.backtest import Costs, backtest
    from violet.tools.sweep import MONEY, money
    from violet.table_io import trade_rows

    path = write_scans(tmp_path / "scans.parquet", n_scans=300, vel_div=(-0.08, 0.08))
    cg = compile_ir(load(GRAPHS / "examples" / "two_lane.toml"))
    columns, _ = input_columns(cg.ir, read_table(path), str(path), read_table(path.with_name("scans.universe.parquet")))
    costs = Costs(10_000.0, 4.0, 1.0)
    points = [{"short.pos.tp_pct": tp, "long.long_threshold": th} for tp, th in ((0.004, 0.01), (0.02, 0.03))]
    runs = [cg.scan(columns, params)[0] for params in points]
    outs = {name: np.stack([run[name] for run in runs]) for name in runs[0] if runs[0][name].ndim == 1}
    figures = money(columns, costs).figures(cg.ir, outs)
    for k, run in enumerate(runs):
        stream = trade_rows(cg.ir, run)
        assert set(stream["side"].tolist()) == {-1, 1}  # both lanes traded
        summary = backtest(columns["price"], columns["scan_id"], columns["ts_us"], stream, costs, []).summary
        assert repr({name: float(figures[name][k]) for name in MONEY}) == repr({name: summary[name] for name in MONEY})
    assert figures["net_pnl"][0] != figures["net_pnl"][1]
