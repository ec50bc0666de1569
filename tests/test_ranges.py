"""Interval analysis on hand-worked graphs: bounds, NaN, min/max's first-argument rule, state fixpoints."""

from __future__ import annotations

import math

from conftest import GRAPHS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_random_graphs import graphs

from violet.compile.interp import Interpreter

from violet.compile.lower import lower
from violet.compile.numba_backend import compile_ir
from violet.compile.ranges import Interval, analysis, analyze
from violet.dag.graph import load_graph
from violet.tools.sampling import sample

GRAPH = """
[graph]
name = "r"
[inputs]
x = { type = "float64", finite = true, ge = -2.0, le = 3.0 }
y = { type = "float64", finite = true, gt = 0.0, le = 4.0 }
n = { type = "int64", ge = 1, le = 10 }
free = { type = "float64" }
[outputs]
sum = "x + y"
prod = "x * y"
ratio = "x / y"
clamped = "clamp(x, 0.0, 1.0)"
lev = "max(0.5, min(free, 9.0))"
first_nan = "min(free, 1.0)"
up = "ceil(x)"
back = "float(n) * 2.0"
"""


def outputs(ir, ranges):
    return {name: ranges[i] for name, i in ir.outputs}


def test_hand_worked_intervals(write_graph):
    ir = lower(load_graph(write_graph(GRAPH)))
    r = outputs(ir, analyze(ir))
    assert r["sum"] == Interval(-2.0, 7.0)
    assert r["prod"] == Interval(-8.0, 12.0)
    assert r["ratio"].lo == -math.inf and r["ratio"].hi == math.inf  # y > 0 but tiny: x / 5e-324 overflows
    assert r["clamped"] == Interval(0.0, 1.0)
    # min(free, 9) keeps a NaN `free` (first argument), max(0.5, NaN) is 0.5: proven in [0.5, 9], never NaN
    assert r["lev"] == Interval(0.5, 9.0) and r["lev"].within(0.5, 9.0)
    assert r["first_nan"].nan and r["first_nan"].hi == 1.0
    assert r["up"] == Interval(-2, 3)
    assert r["back"] == Interval(2.0, 20.0)


def test_sampled_values_stay_inside_their_intervals(write_graph):
    """Soundness on data: every computed value of every row lies in its op's interval."""
    for graph in (write_graph(GRAPH), GRAPHS / "blue_sizing.toml"):
        ir = lower(load_graph(graph))
        ranges = analyze(ir)
        cg = compile_ir(ir)
        cols = sample(ir.inputs, 2000, 2000, seed=1)
        for row in range(0, 4000, 97):
            values = cg.trace({k: v[row] for k, v in cols.items()})
            for op, value in zip(ir.ops, values):
                iv = ranges[op.id]
                if isinstance(value, float) and math.isnan(value):
                    assert iv.nan, (op.render(), iv)
                else:
                    assert iv.lo <= float(value) <= iv.hi, (op.render(), value, iv)


def test_state_reaches_a_fixpoint(write_graph):
    ir = lower(load_graph(write_graph("""
[graph]
name = "counter"
[inputs]
reset = { type = "bool" }
[state]
k = 0
n = 0
[outputs]
k_out = "k"
n_out = "n"
[next_state]
k = "0 if reset else min(k + 1, 5)"
n = "n + 1"
""")))
    r = outputs(ir, analyze(ir))
    assert r["k_out"] == Interval(0, 5)  # grows by one per round, then min(., 5) holds it: a fixpoint
    assert r["n_out"] == Interval(-(2**63), 2**63 - 1)  # never settles: widened to the whole int64 range


def test_sizing_ranges(write_graph):
    ir = lower(load_graph(GRAPHS / "blue_sizing.toml"))
    result = analysis(ir)
    r = outputs(ir, result.ranges)
    assert r["s"].within(0.0, 1.0) and r["esof"].within(0.8, 1.2) and r["dc"].within(0.75, 1.25)
    assert r["base"].within(0.5, 8.0) and r["exch_lev"].within(1, 9)
    assert r["leverage"] == Interval(0.5, 9.0)  # [min_leverage, abs_max_leverage], never NaN
    assert r["regime"].nan and r["raw"].nan and r["cmax"] == Interval(0.0, 9.0, nan=True)  # a NaN regime is real
    assert {"acb_boost", "mc_scale", "ob_mult"} <= set(result.split)


@settings(max_examples=40, deadline=None)
@given(min_lev=st.floats(0.05, 5.0), spread=st.floats(0.0, 10.0), above=st.floats(0.0, 10.0),
       cap=st.floats(0.0, 30.0))
def test_sizing_leverage_is_proven_for_any_limits(min_lev, spread, above, cap):
    """leverage in [min_leverage, abs_max_leverage] for every ordered choice of the limits (and any STALKER cap)."""
    ir = lower(load_graph(GRAPHS / "blue_sizing.toml"))
    limits = {"min_leverage": min_lev, "max_leverage": min_lev + spread,
              "abs_max_leverage": min_lev + spread + above, "stalker_cap": cap}
    r = outputs(ir, analyze(ir, limits))
    assert r["leverage"].within(limits["min_leverage"], limits["abs_max_leverage"]), r["leverage"]
    assert r["leverage"].lo == min_lev


CASES = """
[graph]
name = "cases"
[inputs]
a = { type = "float64", finite = true, ge = 0.0 }
b = { type = "float64", finite = true, ge = 0.0 }
[nodes.x]
expr = "a * a * b"
[outputs]
x = "x"
lev = "max(0.5, min(x * 2.0, min(x, 9.0)))"
"""


def test_cases_on_zero_prove_what_one_interval_cannot(write_graph):
    """a * a can overflow to inf and b can be 0: x can be NaN, and a NaN `min(x, 9)` lets the unbounded
    first argument through. By cases: b = 0 makes x 0 or NaN everywhere (lev = 0.5); b > 0 makes x a number."""
    ir = lower(load_graph(write_graph(CASES)))
    one = outputs(ir, analysis(ir, max_boxes=1).ranges)
    assert one["lev"] == Interval(0.5, math.inf)  # the non-relational answer
    by_cases = analysis(ir)
    assert by_cases.split == ("a", "b") and by_cases.boxes == 4
    r = outputs(ir, by_cases.ranges)
    assert r["lev"] == Interval(0.5, 9.0) and r["x"] == Interval(0.0, math.inf, nan=True)


REFINED = {"a": 'a = { type = "float64", finite = true, ge = 0.0 }',
           "b": 'b = { type = "float64", finite = true, le = 2.0 }',
           "c": 'c = { type = "float64", finite = true, ge = -1.0, le = 1.0 }',
           "i": 'i = { type = "int64", ge = -3, le = 40 }'}
VALUES = {  # each refined input: its edges, or any value its refinement lets through
    "a": st.one_of(st.sampled_from([0.0, -0.0, 5e-324, 1.0, 1e308, 1.7976931348623157e308]),
                   st.floats(0.0, allow_infinity=False)),
    "b": st.one_of(st.sampled_from([0.0, -0.0, -5e-324, 2.0, -1e308, -1.7976931348623157e308]),
                   st.floats(max_value=2.0, allow_infinity=False)),
    "c": st.one_of(st.sampled_from([0.0, -0.0, 5e-324, -5e-324, 1.0, -1.0]), st.floats(-1.0, 1.0)),
    "i": st.integers(-3, 40), "j": st.integers(-(2**63), 2**63 - 1), "p": st.booleans(), "q": st.booleans()}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(graphs(), st.data())
def test_ranges_by_cases_are_sound_on_random_graphs(write_graph, text, data):
    """Every value of random graphs over refined inputs, on edge and random rows, lies in its interval."""
    for name, line in REFINED.items():
        text = text.replace(f'{name} = {{ type = "{"int64" if name == "i" else "float64"}" }}', line)
    ir = lower(load_graph(write_graph(text)))
    ranges = analyze(ir)
    interp = Interpreter(ir)
    for _ in range(12):
        row = {name: data.draw(values) for name, values in VALUES.items()}
        for op, value in zip(ir.ops, interp.trace(row)):
            iv = ranges[op.id]
            if isinstance(value, float) and math.isnan(value):
                assert iv.nan, (op.render(), row, iv, text)
            else:
                assert iv.lo <= value <= iv.hi, (op.render(), row, value, iv, text)  # int vs float: exact


UNIVERSE = """
[graph]
name = "universe"
[inputs]
x = { type = "float64", vector = true, finite = true }
m = { type = "bool", vector = true }
[outputs]
best = "argmax(x, m)"
worst = "argmin(x, m)"
n_true = "count(m)"
r = "rank(x, m)"
avg = "mean(x)"
"""


def test_indices_and_counts_are_bounded_by_a_known_universe(write_graph):
    """With the universe's size known (hardware built for N assets), an index lies in [-1, N - 1], a count in
    [0, N] and size() is N; without it they are bounded only by int64."""
    ir = lower(load_graph(write_graph(UNIVERSE)))
    outputs = dict(ir.outputs)
    size = next(op.id for op in ir.ops if op.kind == "size")
    free, known = analyze(ir), analyze(ir, assets=7)
    for name in ("best", "worst", "r"):
        assert free[outputs[name]] == Interval(-1, 2**63 - 1) and known[outputs[name]] == Interval(-1, 6)
    assert known[outputs["n_true"]] == Interval(0, 7) and free[outputs["n_true"]].hi == 2**63 - 1
    assert known[size] == Interval(7, 7) and free[size].hi == 2**63 - 1
    # mean = sum / size: with size proven 7, never 0 / 0, so never NaN; its bounds are the values', not N's
    assert free[outputs["avg"]].nan and known[outputs["avg"]] == Interval(free[outputs["avg"]].lo,
                                                                          free[outputs["avg"]].hi, nan=False)


def test_the_decisions_position_asset_is_sized_to_the_universe():
    """blue_decision's held asset is the selection's argmax carried in a state field: [-1, 3] over 4 assets,
    at the fixpoint of the state's ranges."""
    ir = lower(load_graph(GRAPHS / "blue_decision.toml"))
    outputs = dict(ir.outputs)
    for name in ("asset", "pos_asset", "trade_asset"):
        assert analyze(ir, assets=4)[outputs[name]] == Interval(-1, 3)
