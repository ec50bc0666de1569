"""Interval analysis on hand-worked graphs: bounds, NaN, min/max's first-argument rule, state fixpoints."""

from __future__ import annotations

import math

import numpy as np
from conftest import GRAPHS

from violet.compile.lower import lower
from violet.compile.numba_backend import compile_ir
from violet.compile.ranges import Interval, analyze
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
    r = outputs(ir, analyze(ir))
    assert r["s"].within(0.0, 1.0) and r["esof"].within(0.8, 1.2) and r["dc"].within(0.75, 1.25)
    assert r["base"].within(0.5, 8.0) and r["exch_lev"].within(1, 200)
    assert r["leverage"].lo == 0.5 and not r["leverage"].nan
    np.testing.assert_equal(r["cmax"].hi, 9.0)
