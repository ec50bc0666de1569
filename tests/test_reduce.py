"""Reductions over the universe (sum, count, mean, min_of, max_of, argmin, argmax, rank) and the
cross-sectional library nodes: hand-computed values on the interpreter and both compiled kernels, plain
Python loops written here (not semantics.py) as references bit for bit over random vectors and masks,
the intervals' soundness, and the Verilog against the fixed-point model."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from violet.compile.cosim import SIMULATORS, cosim_rows, cosimulate
from violet.compile.fixed import FixedConfig, FixedModel, LoweringError
from violet.compile.interp import Interpreter
from violet.compile.lower import lower
from violet.compile.numba_backend import compile_ir
from violet.compile.ranges import analyze
from violet.dag.graph import load_graph
from violet.errors import GraphError

NAN = math.nan
MAX, MIN = 2**63 - 1, -(2**63)

GRAPH = """
[graph]
name = "reduce"
[inputs]
x = { type = "float64", vector = true }
k = { type = "int64", vector = true }
m = { type = "bool", vector = true }
p = { type = "bool" }
[outputs]
s = "sum(x, m)"
s_all = "sum(x)"
s_p = "sum(x, p)"
s_k = "sum(k, m)"
c = "count(m)"
mean_m = "mean(x, m)"
mean_all = "mean(x)"
mean_p = "mean(x, p)"
lo = "min_of(x, m)"
hi = "max_of(x, m)"
lo_k = "min_of(k, m)"
hi_k = "max_of(k)"
lo_p = "min_of(x, p)"
at_lo = "argmin(x, m)"
at_lo_k = "argmin(k, p)"
at_hi_p = "argmax(x, p)"
r = "rank(x, m)"
r_k = "rank(k)"
r_p = "rank(x, p)"
"""


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    path = tmp_path_factory.mktemp("reduce") / "reduce.toml"
    path.write_text(GRAPH)
    ir = lower(load_graph(path))
    return ir, Interpreter(ir), compile_ir(ir)


def same(a, b) -> bool:
    """Equal values: a float by its bits (-0.0 is not 0.0), every NaN one value; lists element by element."""
    if isinstance(a, (list, np.ndarray)) or isinstance(b, (list, np.ndarray)):
        return len(a) == len(b) and all(same(p, q) for p, q in zip(list(a), list(b)))
    if isinstance(a, float) or isinstance(b, float):
        a, b = float(a), float(b)
        return (math.isnan(a) and math.isnan(b)) or struct.pack("<d", a) == struct.pack("<d", b)
    return int(a) == int(b)


def run_everywhere(graph, rows: list[dict]) -> list[dict]:
    """Each row's outputs from the interpreter, after checking the step kernel and the scan kernel
    (all rows in one compiled loop) give the same bits."""
    ir, interp, compiled = graph
    want = [interp.step(row) for row in rows]
    columns = {name: np.array([row[name] for row in rows]) for name in rows[0]}
    scanned = compiled.batch(columns)
    for t, row in enumerate(rows):
        stepped = compiled.step(row)
        for name in ir.output_names:
            assert same(stepped[name], want[t][name]), ("step", t, name, stepped[name], want[t][name])
            assert same(scanned[name][t], want[t][name]), ("scan", t, name, scanned[name][t], want[t][name])
    return want


T, F = True, False
# hand-computed: every value below is worked out from the definitions in docs/semantics.md
HAND = [
    (dict(x=[1.0, 2.0, 4.0, NAN, -0.0, 0.5], k=[MAX, 1, 5, 5, -3, 0], m=[T, F, T, F, T, T], p=True),
     dict(s=5.5, s_all=NAN, s_p=NAN, s_k=MIN + 1, c=4, mean_m=1.375, mean_all=NAN, mean_p=NAN, lo=-0.0, hi=4.0,
          lo_k=-3, hi_k=MAX, lo_p=-0.0, at_lo=4, at_lo_k=4, at_hi_p=2, r=[2, -1, 3, -1, 0, 1], r_k=[5, 2, 3, 4, 0, 1],
          r_p=[2, 3, 4, -1, 0, 1])),
    # nothing masked: 0.0 (a positive zero), 0, NaN, -1
    (dict(x=[NAN, 1.0, 2.0, 3.0, 4.0, 5.0], k=[1, 2, 3, 4, 5, 6], m=[F] * 6, p=False),
     dict(s=0.0, s_all=NAN, s_p=0.0, s_k=0, c=0, mean_m=NAN, mean_all=NAN, mean_p=NAN, lo=NAN, hi=NAN, lo_k=0,
          hi_k=6, lo_p=NAN, at_lo=-1, at_lo_k=-1, at_hi_p=-1, r=[-1] * 6, r_k=[0, 1, 2, 3, 4, 5], r_p=[-1] * 6)),
    # -0.0 + -0.0 is -0.0: the sum starts from the first masked value (from 0.0 it would be 0.0)
    (dict(x=[-0.0, -0.0, 0.0, NAN, 0.0, -0.0], k=[-1, -1, 7, 7, 7, 7], m=[T, T, F, F, F, F], p=False),
     dict(s=-0.0, s_all=NAN, s_p=0.0, s_k=-2, c=2, mean_m=-0.0, mean_all=NAN, mean_p=NAN, lo=-0.0, hi=-0.0,
          lo_k=-1, hi_k=7, lo_p=NAN, at_lo=0, at_lo_k=-1, at_hi_p=-1, r=[0, 1, -1, -1, -1, -1],
          r_k=[0, 1, 2, 3, 4, 5], r_p=[-1] * 6)),
    # a NaN met first is kept by min_of/max_of and never replaced by argmin/argmax; rank skips it; 0.0 and
    # -0.0 tie, by index
    (dict(x=[NAN, 3.0, 1.0, 0.0, -0.0, 2.0], k=[0] * 6, m=[T, T, T, T, T, F], p=True),
     dict(s=NAN, s_all=NAN, s_p=NAN, s_k=0, c=5, mean_m=NAN, mean_all=NAN, mean_p=NAN, lo=NAN, hi=NAN, lo_k=0,
          hi_k=0, lo_p=NAN, at_lo=0, at_lo_k=0, at_hi_p=0, r=[-1, 3, 2, 0, 1, -1], r_k=[0, 1, 2, 3, 4, 5],
          r_p=[-1, 4, 2, 0, 1, 3])),
    # min(0.0, -0.0) keeps the first; argmin's tie goes to the lowest index; int64 wraps below INT64_MIN
    (dict(x=[0.0, -0.0, 1.0, 1.0, 1.0, 1.0], k=[MIN, -1, 0, 0, 0, 0], m=[T, T, F, F, F, F], p=True),
     dict(s=0.0, s_all=4.0, s_p=4.0, s_k=MAX, c=2, mean_m=0.0, mean_all=4.0 / 6.0, mean_p=4.0 / 6.0, lo=0.0, hi=0.0,
          lo_k=MIN, hi_k=0, lo_p=0.0, at_lo=0, at_lo_k=0, at_hi_p=2, r=[0, 1, -1, -1, -1, -1],
          r_k=[0, 1, 2, 3, 4, 5], r_p=[0, 1, 2, 3, 4, 5])),
]


def test_hand_computed_values_on_the_interpreter_and_both_kernels(graph):
    got = run_everywhere(graph, [row for row, _ in HAND])
    for t, (_, want) in enumerate(HAND):
        for name, value in want.items():
            assert same(got[t][name], value), (t, name, got[t][name], value)


SUM_ONLY = """
[graph]
name = "sum_only"
[inputs]
x = { type = "float64", vector = true }
[outputs]
s = "sum(x)"
"""


@pytest.mark.parametrize("values, left_to_right", [([0.1] * 10, 0.9999999999999999),
                                                   ([1e100, 1.0, -1e100, 1.0, 0.0, 0.0, 0.0, 0.0], 1.0)])
def test_the_sum_is_left_to_right_where_numpys_pairwise_sum_differs(write_graph, values, left_to_right):
    """The two inputs docs/semantics.md shows: np.sum adds pairwise and gives other bits."""
    ir = lower(load_graph(write_graph(SUM_ONLY)))
    row = {"x": values}
    assert Interpreter(ir).step(row)["s"] == left_to_right == compile_ir(ir).step(row)["s"]
    assert float(np.sum(np.array(values))) != left_to_right


def test_count_of_a_scalar_and_mean_of_an_int_vector_are_refused(write_graph):
    base = '[graph]\nname = "bad"\n[inputs]\nk = { type = "int64", vector = true }\np = { type = "bool" }\n'
    with pytest.raises(GraphError, match=r"count\(\) needs a bool\[N\] mask, got bool"):
        lower(load_graph(write_graph(base + '[outputs]\nc = "count(p)"\n')))
    with pytest.raises(GraphError, match=r"mean\(\) needs a float64 vector, got int64\[N\](?s:.*)mean\(float\(x\)\)"):
        lower(load_graph(write_graph(base + '[outputs]\nc = "mean(k)"\n')))
    with pytest.raises(GraphError, match=r"sum's mask must be bool\[N\] or a bool, got int64\[N\]"):
        lower(load_graph(write_graph(base + '[outputs]\nc = "sum(k, k)"\n')))


# ---------------------------------------------------------------- plain Python loops as references


def picked(values: list, mask: list) -> list:
    return [v for v, b in zip(values, mask) if b]


def loop_sum(values: list, mask: list, floats: bool) -> float | int:
    """Left to right from the first masked value; ints wrapped once at the end (the same modulo 2**64)."""
    vals = picked(values, mask)
    if not vals:
        return 0.0 if floats else 0
    total = vals[0]
    for v in vals[1:]:
        total = total + v
    return total if floats else (total + 2**63) % 2**64 - 2**63


def loop_fold(values: list, mask: list, pick, empty):
    """Python's own min or max, two arguments at a time, folded left."""
    vals = picked(values, mask)
    if not vals:
        return empty
    best = vals[0]
    for v in vals[1:]:
        best = pick(best, v)
    return best


def loop_rank(values: list, mask: list) -> list[int]:
    """The definition, counted directly (O(N^2))."""
    ranked = [j for j, v in enumerate(values) if mask[j] and v == v]
    return [sum(1 for j in ranked if values[j] < values[k] or (values[j] == values[k] and j < k))
            if k in ranked else -1 for k in range(len(values))]


def references(row: dict) -> dict:
    x, k, m, p = row["x"], row["k"], row["m"], row["p"]
    every, scalar = [True] * len(x), [p] * len(x)
    c = sum(m)
    index = list(range(len(x)))
    return dict(
        s=loop_sum(x, m, True), s_all=loop_sum(x, every, True), s_p=loop_sum(x, scalar, True),
        s_k=loop_sum(k, m, False), c=c,
        mean_m=loop_sum(x, m, True) / c if c else NAN, mean_all=loop_sum(x, every, True) / len(x),
        mean_p=loop_sum(x, scalar, True) / len(x) if p else NAN,
        lo=loop_fold(x, m, min, NAN), hi=loop_fold(x, m, max, NAN), lo_k=loop_fold(k, m, min, 0),
        hi_k=loop_fold(k, every, max, 0), lo_p=loop_fold(x, scalar, min, NAN),
        # Python's min/max with a key keep the first of equals and replace only on < (>): the IR's rule
        at_lo=min(picked(index, m), key=x.__getitem__, default=-1),
        at_lo_k=min(picked(index, scalar), key=k.__getitem__, default=-1),
        at_hi_p=max(picked(index, scalar), key=x.__getitem__, default=-1),
        r=loop_rank(x, m), r_k=loop_rank(k, every), r_p=loop_rank(x, scalar))


FLOATS = st.one_of(st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.1, 3.0, 1e308, -1e308, math.inf, -math.inf, NAN,
                                    5e-324]), st.floats(allow_nan=True, allow_infinity=True, width=64))
INTS = st.one_of(st.sampled_from([0, 1, -1, 5, MAX, MIN, 2**62]), st.integers(MIN, MAX))


@st.composite
def scans(draw) -> list[dict]:
    """1 to 4 rows over one universe of 1 to 12 assets (repeated values, so ties are common)."""
    n = draw(st.integers(1, 12))
    pool = draw(st.lists(FLOATS, min_size=1, max_size=4))  # a few values drawn often: ties
    floats = st.one_of(FLOATS, st.sampled_from(pool))
    return [dict(x=draw(st.lists(floats, min_size=n, max_size=n)), k=draw(st.lists(INTS, min_size=n, max_size=n)),
                 m=draw(st.lists(st.booleans(), min_size=n, max_size=n)), p=draw(st.booleans()))
            for _ in range(draw(st.integers(1, 4)))]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=scans())
def test_every_reduction_equals_a_plain_python_loop_bit_for_bit(graph, rows):
    got = run_everywhere(graph, rows)
    for t, row in enumerate(rows):
        want = references(row)
        for name, value in want.items():
            assert same(got[t][name], value), (name, row, got[t][name], value)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=scans())
def test_every_value_stays_inside_its_interval(graph, rows):
    ir, interp, _ = graph
    ranges = analyze(ir)
    for row in rows:
        out = interp.step(row)
        for name, i in ir.outputs:
            iv = ranges[i]
            for v in (out[name] if isinstance(out[name], list) else [out[name]]):
                assert (iv.nan if isinstance(v, float) and math.isnan(v) else iv.lo <= v <= iv.hi), (name, v, iv)


# ---------------------------------------------------------------- cross-sectional library nodes

XSECTION = """
[graph]
name = "xs"
[inputs]
x = { type = "float64", vector = true }
m = { type = "bool", vector = true }
[nodes.z]
node = "xsection.zscore"
in = { x = "x", mask = "m" }
[nodes.d]
node = "xsection.demean"
in = { x = "x", mask = "m" }
[nodes.rp]
node = "xsection.rank_pct"
in = { x = "x", mask = "m" }
[nodes.rp_all]
node = "xsection.rank_pct"
in = { x = "x", mask = "True" }
[outputs]
z = "z"
d = "d"
rp = "rp"
rp_all = "rp_all"
"""


@pytest.fixture(scope="module")
def xsection(tmp_path_factory):
    path = tmp_path_factory.mktemp("xs") / "xs.toml"
    path.write_text(XSECTION)
    ir = lower(load_graph(path))
    return ir, Interpreter(ir), compile_ir(ir)


def test_zscore_demean_and_rank_pct_by_hand(xsection):
    # masked: 1, 2, 4, 5 -> mean 3, deviations -2 -1 1 2, population variance (4+1+1+4)/4 = 2.5
    rows = [dict(x=[1.0, 2.0, 4.0, 100.0, 5.0], m=[T, T, T, F, T]),
            # one asset masked: std 0 -> 0 / 0; rank_pct of a single ranked asset is 0 / 0
            dict(x=[7.0, 2.0, NAN, 1.0, 1.0], m=[T, F, F, F, F]),
            # a NaN among the masked values: every z is NaN; rank_pct skips it (and ranks 4 assets)
            dict(x=[3.0, NAN, 1.0, 2.0, 2.0], m=[T, T, T, T, T])]
    got = run_everywhere(xsection, rows)
    sd = math.sqrt(2.5)
    assert same(got[0]["z"], [-2.0 / sd, -1.0 / sd, 1.0 / sd, NAN, 2.0 / sd])
    assert same(got[0]["z"][0], -1.2649110640673518)
    assert same(got[0]["d"], [-2.0, -1.0, 1.0, NAN, 2.0])
    assert same(got[0]["rp"], [0.0, 1.0 / 3.0, 2.0 / 3.0, NAN, 1.0])
    assert same(got[0]["rp_all"], [0.0, 0.25, 0.5, 1.0, 0.75])
    assert same(got[1]["z"], [NAN] * 5) and same(got[1]["d"], [0.0, NAN, NAN, NAN, NAN])
    assert same(got[1]["rp"], [NAN] * 5)
    assert same(got[2]["z"], [NAN] * 5) and same(got[2]["d"], [NAN] * 5)
    assert same(got[2]["rp"], [1.0, NAN, 0.0, 1.0 / 3.0, 2.0 / 3.0])


# ---------------------------------------------------------------- hardware

HDL_GRAPH = """
[graph]
name = "reduce_hw"
[inputs]
x = { type = "float64", vector = true, finite = true, ge = -4.0, le = 4.0 }
k = { type = "int64", vector = true, ge = -3, le = 3 }
m = { type = "bool", vector = true }
p = { type = "bool" }
i = { type = "int64", ge = -1, le = 4 }
[nodes.r]
expr = "rank(x, m)"
[nodes.rk]
expr = "rank(k, p)"
[outputs]
s = "sum(x, m)"
s_p = "sum(k, p)"
c = "count(m)"
mean_all = "mean(x)"
lo = "min_of(x, m)"
hi = "max_of(k, p)"
at_lo = "argmin(x, m)"
at_hi = "argmax(k, p)"
r_i = "r[i]"
rk_i = "rk[i]"
"""


def test_reductions_in_verilog_equal_the_fixed_point_model(write_graph, tmp_path):
    """Adder chains, comparator chains and rank's comparators over 4 assets, vector and scalar masks,
    ties included (k takes 7 values, x is quantized to 8 fractional bits)."""
    model = FixedModel(lower(load_graph(write_graph(HDL_GRAPH))), FixedConfig(frac_bits=8, max_int_bits=20))
    rows = cosim_rows(model, 3000, seed=5, assets=4)
    rows += [dict(x=[1.0, -2.0, 1.0, 3.5], k=[2, 2, -3, 2], m=[True, False, True, True], p=True, i=2),
             dict(x=[0.5, 0.5, 0.5, 0.5], k=[0, 0, 0, 0], m=[False] * 4, p=False, i=0)]
    tie, empty = model.step(rows[-2]), model.step(rows[-1])
    assert (tie["s"], tie["c"], tie["lo"], tie["at_lo"], tie["r_i"], tie["hi"], tie["at_hi"], tie["rk_i"]) == \
        (5.5, 3, 1.0, 0, 1, 2, 0, 0)
    assert (empty["s"], empty["c"], empty["lo"], empty["at_lo"], empty["r_i"], empty["s_p"], empty["mean_all"]) == \
        (0.0, 0, 0.0, -1, -1, 0, 0.5)
    for simulator in SIMULATORS:
        report = cosimulate(model, rows, tmp_path / simulator, "reduce_hw", assets=4, simulator=simulator)
        assert report.vectors == len(rows) and report.mismatches == 0, report.render()


def test_an_index_wider_than_its_format_is_refused(write_graph, tmp_path):
    model = FixedModel(lower(load_graph(write_graph(HDL_GRAPH))), FixedConfig(frac_bits=8, max_int_bits=1))
    with pytest.raises(LoweringError, match=r"(argmin|argmax|rank) over 4 assets gives indices up to 3"):
        cosimulate(model, cosim_rows(model, 2, assets=4), tmp_path, "reduce_hw", assets=4, simulator="icarus")
