"""Per-asset state: `[state] x = { init = ..., vector = true }` is one value per universe asset, carried the
same way by the interpreter, the step kernel, the scan kernel, `violet run`, `violet diff`, the decision
engine, `violet dot --row`'s values, the fixed-point model and the Verilog (N registers, co-simulated)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from violet.compile.cosim import cosim_rows, cosimulate
from violet.compile.fixed import FixedConfig, FixedModel
from violet.compile.interp import Interpreter
from violet.compile.lower import lower
from violet.compile.numba_backend import CompiledGraph, compile_ir
from violet.dag.graph import load_graph
from violet.errors import GraphError
from violet.runtime.engine import DecisionEngine
from violet.tools.explain import values_at

GRAPH = """[graph]
name = "per_asset"
[inputs]
price = { type = "float64", vector = true }
stop = { type = "bool", vector = true }
[params]
alpha = 0.5
[enums]
dir = ["FLAT", "UP", "DOWN"]
[state]
ew = { init = 0.0, vector = true }          # a per-asset EWMA written as state
cool = { init = 0, vector = true }          # a per-asset cooldown: 3 rows after a stop
seen = { init = false, vector = true }
side = { enum = "dir", vector = true }
n = 0
[nodes.ready]
expr = "cool == 0"
[outputs]
ew_now = "ew"
cool_now = "cool"
ready = "ready"
seen_now = "seen"
side_now = "int(side)"
first_ready = "argmax(price, ready)"
[next_state]
ew = "alpha * price + (1.0 - alpha) * ew"
cool = "select(stop, 3, max(cool - 1, 0))"
seen = "seen or stop"
side = "select(price > ew, dir.UP, dir.DOWN)"
n = "n + 1"
"""
PRICE = [[2.0, 4.0], [4.0, 8.0], [8.0, 0.0], [0.0, 2.0]]
STOP = [[False, True], [False, False], [True, False], [False, False]]
HAND = {  # each row's state as the row sees it (before its update), by hand
    "ew_now": [[0.0, 0.0], [1.0, 2.0], [2.5, 5.0], [5.25, 2.5]],
    "cool_now": [[0, 0], [0, 3], [0, 2], [3, 1]],
    "ready": [[True, True], [True, False], [True, False], [False, False]],
    "seen_now": [[False, False], [False, True], [False, True], [True, True]],
    "side_now": [[0, 0], [1, 1], [1, 1], [1, 2]],
    "first_ready": [1, 0, 0, -1],  # the highest price among the ready assets (row 0: 4.0 at asset 1)
}
FINAL = {"ew": [2.625, 2.25], "cool": [2, 0], "seen": [True, True], "side": [2, 2], "n": 4}


@pytest.fixture(scope="module")
def graph_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("vector_state") / "per_asset.toml"
    path.write_text(GRAPH)
    return path


@pytest.fixture(scope="module")
def compiled(graph_file) -> CompiledGraph:
    return compile_ir(lower(load_graph(graph_file)))


def columns() -> dict[str, np.ndarray]:
    return {"price": np.array(PRICE), "stop": np.array(STOP)}


def assert_state(state: dict, want: dict, how: str) -> None:
    for name, values in want.items():
        assert np.asarray(state[name]).tolist() == values, (how, name, state[name])


def test_hand_computed_per_asset_ewma_and_cooldown_on_every_backend(compiled):
    ir = compiled.ir
    assert [(s.name, str(s.type), s.init) for s in ir.state] == [
        ("cool", "int64[N]", 0), ("ew", "float64[N]", 0.0), ("n", "int64", 0), ("seen", "bool[N]", False),
        ("side", "enum{FLAT,UP,DOWN}[N]", 0)]
    runs = {"interpreter": Interpreter(ir).scan(columns()), "scan kernel": compiled.scan(columns())}
    step_outs: dict[str, list] = {name: [] for name in ir.output_names}
    state = None
    for r in range(len(PRICE)):  # the step kernel, its state carried by this test
        outs, state = compiled.advance({"price": np.array(PRICE[r]), "stop": np.array(STOP[r])}, state)
        assert isinstance(state["ew"], np.ndarray) and state["ew"].shape == (2,)
        for name, value in outs.items():
            step_outs[name].append(value)
    runs["step kernel"] = ({name: np.array(values) for name, values in step_outs.items()}, state)
    for how, (outs, final) in runs.items():
        for name, values in HAND.items():
            assert outs[name].tolist() == values, (how, name, outs[name])
        assert_state(final, FINAL, how)


def test_initial_state_is_one_value_per_asset(write_graph):
    ir = lower(load_graph(write_graph(GRAPH)))
    start = ir.initial_state(3)
    assert start["ew"].tolist() == [0.0] * 3 and start["ew"].dtype == np.float64
    assert start["seen"].tolist() == [False] * 3 and start["cool"].dtype == np.int64
    assert start["n"] == 0 and start["side"].tolist() == [0, 0, 0]
    assert ir.initial_state(3)["ew"] is not start["ew"]  # a fresh array every time


ALIASING = """[graph]
name = "aliasing"
[inputs]
price = { type = "float64", vector = true }
[state]
last = { init = -1.0, vector = true }
a = { init = 1.0, vector = true }
b = { init = 2.0, vector = true }
[outputs]
last0 = "last[0]"
a1 = "a[1]"
[next_state]
last = "price"
a = "b"
b = "a"
"""


def test_a_next_state_that_is_an_input_or_another_field_never_shares_its_array(write_graph):
    """`last = price` keeps a row of the input and `a`, `b` swap every row: the state handed back is the
    kernel's own array, so mutating the caller's arrays afterwards changes nothing, and the swap is right."""
    cg = compile_ir(lower(load_graph(write_graph(ALIASING))))
    price = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    outs, final = cg.scan({"price": price})
    assert outs["last0"].tolist() == [-1.0, 1.0, 3.0] and outs["a1"].tolist() == [1.0, 2.0, 1.0]
    assert final["last"].tolist() == [5.0, 6.0] and final["a"].tolist() == [2.0, 2.0]
    assert Interpreter(cg.ir).scan({"price": price})[1] == {"last": [5.0, 6.0], "a": [2.0, 2.0], "b": [1.0, 1.0]}
    price[:] = 99.0
    assert final["last"].tolist() == [5.0, 6.0]
    row = np.array([7.0, 8.0])
    start = cg.ir.initial_state(2)
    _, state = cg.advance({"price": row}, start)
    row[:] = 0.0
    start["a"][:] = 0.0
    assert state["last"].tolist() == [7.0, 8.0] and state["b"].tolist() == [1.0, 1.0]
    _, state2 = cg.advance({"price": np.array([9.0, 9.0])}, state)
    assert state2["a"].tolist() == [1.0, 1.0] and state2["b"].tolist() == [2.0, 2.0]
    assert state["last"].tolist() == [7.0, 8.0]  # the step before is untouched by the next


def violet(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "violet.cli", *map(str, args)], capture_output=True, text=True)


def test_vector_state_through_violet_run_diff_and_check(graph_file, tmp_path):
    table = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"price": pa.array(PRICE, pa.list_(pa.float64())),
                             "stop": pa.array(STOP, pa.list_(pa.bool_()))}), table)
    done = violet("run", graph_file, "--input", table, "--output", tmp_path / "out.parquet")
    assert done.returncode == 0, done.stderr
    got = pq.read_table(tmp_path / "out.parquet").to_pydict()
    for name, values in HAND.items():
        assert got[name] == values, name
    done = violet("diff", graph_file, "--input", table, "--samples", 300, "--extreme", 100, "--assets", 3)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("mismatches: 0 rows") == 4, done.stdout  # scan and step kernels, table and samples
    done = violet("check", graph_file)
    rows = {line.split()[1]: line for line in done.stdout.splitlines() if line.split()[:1] == ["state"]}
    assert "float64[N]" in rows["ew"] and "each asset starts at 0.0" in rows["ew"]
    assert "each asset starts at FLAT" in rows["side"] and "each asset" not in rows["n"]


def test_the_decision_engine_carries_vector_state_as_the_interpreter_does(write_graph):
    """The runtime's engine: one step kernel call per scan, the per-asset state held between them."""
    text = GRAPH.replace('stop = { type = "bool", vector = true }',
                         'stop = { type = "bool", vector = true }\nbase = { type = "float64", vector = true, '
                         'universe = true }').replace('ew = "alpha * price', 'ew = "base + alpha * price')
    ir = lower(load_graph(write_graph(text)))
    universe = {"base": np.array([0.25, -0.25])}
    engine = DecisionEngine(compile_ir(ir).bind(universe))
    records = [engine.decide({"price": np.array(p), "stop": np.array(s)}) for p, s in zip(PRICE, STOP)]
    want, final = Interpreter(ir).scan({**columns(), **universe})
    assert [r["first_ready"] for r in records] == want["first_ready"].tolist()
    assert [np.asarray(r["ew_now"]).tolist() for r in records] == want["ew_now"].tolist()
    assert_state(engine.state, final, "engine")
    # the same bound graph over the whole table: scan, batch and the prepared scan call agree with it
    bound = engine.graph
    outs, state = bound.scan(columns())
    assert outs["ew_now"].tolist() == want["ew_now"].tolist() and bound.batch(columns())["ew_now"].tolist() == want["ew_now"].tolist()
    assert_state(state, final, "bound scan")
    assert_state(dict(zip(bound.state_names, bound.scan_call(columns())())), final, "prepared scan call")


def test_a_row_s_values_start_from_the_per_asset_state_the_rows_before_leave(compiled):
    at = values_at(compiled, columns(), 2)
    want = Interpreter(compiled.ir).scan({name: col[:2] for name, col in columns().items()})[1]
    assert_state(at.state, want, "values_at")
    trace = Interpreter(compiled.ir).trace({"price": PRICE[2], "stop": STOP[2]}, None, want)
    assert [np.asarray(v).tolist() for v in at.values] == [np.asarray(v).tolist() for v in trace]
    assert values_at(compiled, columns(), 0).state["ew"].tolist() == [0.0, 0.0]


def test_vector_state_is_n_registers_co_simulated(tmp_path):
    (tmp_path / "g.toml").write_text("""[graph]
name = "regs"
[inputs]
price = { type = "float64", vector = true, finite = true, ge = -4.0, le = 4.0 }
flag = { type = "bool", vector = true }
[state]
acc = { init = 0.5, vector = true }
cnt = { init = 2, vector = true }
held = { init = true, vector = true }
[outputs]
acc0 = "acc[0]"
acc2 = "acc[2]"
cnt1 = "cnt[1]"
held2 = "held[2]"
best = "argmax(acc, held)"
[next_state]
acc = "clamp(acc * 0.5 + price, -8.0, 8.0)"
cnt = "select(flag, 0, min(cnt + 1, 5))"
held = "flag or not held"
""")
    model = FixedModel(lower(load_graph(tmp_path / "g.toml")), FixedConfig(frac_bits=20))
    rows = cosim_rows(model, 300, seed=11, assets=3)
    report = cosimulate(model, rows, tmp_path / "sim", "regs", assets=3)
    assert report.vectors == 300 and report.mismatches == 0, report.render()
    verilog = (tmp_path / "sim" / "regs.v").read_text()
    for field in ("acc", "cnt", "held"):
        for k in range(3):
            assert f"// next {field}_{k}" in verilog
    assert model.initial_state(3)["acc"] == [1 << 19] * 3 and model.initial_state(3)["held"] == [1, 1, 1]
    state = model.initial_state(3)
    for row in rows[:50]:  # each asset's register follows its own inputs: the model against a plain loop
        _, nxt = model.advance(row, state)
        assert nxt["cnt"] == [0 if f else min(c + 1, 5) for f, c in zip(row["flag"], state["cnt"])]
        assert nxt["held"] == [int(f or not h) for f, h in zip(row["flag"], state["held"])]
        state = nxt


@pytest.mark.parametrize("text, message", [
    (GRAPH.replace('price = { type = "float64", vector = true }', 'price = { type = "float64" }')
     .replace('stop = { type = "bool", vector = true }', 'stop = { type = "bool" }')
     .replace("first_ready = \"argmax(price, ready)\"\n", ""),
     "state field 'cool' is a vector, but the graph has no vector input"),
    (GRAPH.replace('ew = "alpha * price + (1.0 - alpha) * ew"', 'ew = "0.0"'),
     "state field 'ew' is float64[N], but the value bound to it is float64"),
    (GRAPH.replace("ew = { init = 0.0, vector = true }", "ew = { init = 0.0, vector = [true] }"), "state.ew.vector"),
])
def test_bad_vector_state_is_refused_by_name(write_graph, text, message):
    with pytest.raises(GraphError) as err:
        lower(load_graph(write_graph(text)))
    assert message in str(err.value), str(err.value)
