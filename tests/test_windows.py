"""lag, rolling_sum/mean/min/max/std and ewma: hand-computed sequences on the interpreter, the step kernel
(its state carried by the test) and the scan kernel, scalar and per asset; a plain-loop reference for each,
bit for bit over random sequences; the hidden fields they declare; the errors; a lag in hardware."""

from __future__ import annotations

import functools
import math
import operator
import subprocess
import sys
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from violet.compile.cosim import cosim_rows, cosimulate
from violet.compile.fixed import FixedConfig, FixedModel, LoweringError
from violet.compile.identity import identity_view
from violet.compile.interp import Interpreter
from violet.compile.ir import IR
from violet.compile.lower import lower
from violet.compile.numba_backend import CompiledGraph, compile_ir
from violet.dag.graph import load_graph
from violet.errors import GraphError

NAN = math.nan
HEAD = """[graph]
name = "win"
[inputs]
x = { type = "float64" }
i = { type = "int64" }
p = { type = "bool" }
v = { type = "float64", vector = true }
[params]
alpha = 0.5
"""
WINDOWS = {  # output -> expression: every window, scalar and per asset (the vector forms' outputs are vectors)
    "lag2": "lag(x, 2)", "lag1_fill": "lag(x, 1, -7.5)", "lag_i": "lag(i, 1)", "lag_p": "lag(p, 2, True)",
    "sum3": "rolling_sum(x, 3)", "mean3": "rolling_mean(x, 3)", "min2": "rolling_min(x, 2)",
    "max2": "rolling_max(x, 2)", "std3": "rolling_std(x, 3)", "ewma": "ewma(x, alpha)", "sum1": "rolling_sum(x, 1)",
    "vlag2": "lag(v, 2)", "vsum3": "rolling_sum(v, 3)", "vmean3": "rolling_mean(v, 3)", "vmin2": "rolling_min(v, 2)",
    "vmax2": "rolling_max(v, 2)", "vstd3": "rolling_std(v, 3)", "vewma": "ewma(v, alpha)",
}


def window_graph(directory: Path) -> IR:
    outputs = "".join(f'{name} = "{text}"\n' for name, text in WINDOWS.items())
    path = directory / "win.toml"
    path.write_text(HEAD + "[outputs]\n" + outputs)
    return lower(load_graph(path))


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> CompiledGraph:
    return compile_ir(window_graph(tmp_path_factory.mktemp("windows")))


def columns(xs: list[float], vs: list[list[float]] | None = None) -> dict[str, np.ndarray]:
    """x, and i, p, v derived from it (v: one column per asset, the first x itself unless given)."""
    n = len(xs)
    vs = vs if vs is not None else [list(xs), [-x for x in xs]]
    return {"x": np.array(xs, dtype=float), "i": np.arange(1, n + 1, dtype=np.int64),
            "p": np.array([k % 3 == 0 for k in range(n)]), "v": np.array(vs, dtype=float).T.copy()}


def three_ways(cg: CompiledGraph, cols: dict[str, np.ndarray], params: dict | None = None
               ) -> Iterator[tuple[str, dict[str, np.ndarray]]]:
    """The outputs of every row from the interpreter, the scan kernel, and the step kernel called once per row
    with its next state handed back in by this test."""
    yield "interpreter", Interpreter(cg.ir).scan(cols, params)[0]
    yield "scan kernel", cg.scan(cols, params)[0]
    rows: dict[str, list] = {name: [] for name in cg.ir.output_names}
    state = None
    for r in range(len(cols["x"])):
        outs, state = cg.advance({name: col[r] for name, col in cols.items()}, state, params)
        for name, value in outs.items():
            rows[name].append(value)
    yield "step kernel", {name: np.array(values) for name, values in rows.items()}


def assert_bits(got: np.ndarray, want: list, what: str) -> None:
    got, want = np.asarray(got), np.asarray(want, dtype=np.asarray(got).dtype)
    if got.dtype == np.float64:
        got, want = identity_view(got), identity_view(want)
    assert np.array_equal(got, want), (what, got, want)


XS = [1.0, 3.0, 5.0, 7.0, 12.0, 17.0]
HAND = {  # by hand from XS (i is 1, 2, 3, ...; p is true on rows 0 and 3); every value is exact
    "lag2": [NAN, NAN, 1.0, 3.0, 5.0, 7.0],
    "lag1_fill": [-7.5, 1.0, 3.0, 5.0, 7.0, 12.0],
    "lag_i": [0, 1, 2, 3, 4, 5],
    "lag_p": [True, True, True, False, False, True],
    "sum3": [NAN, NAN, 9.0, 15.0, 24.0, 36.0],
    "mean3": [NAN, NAN, 3.0, 5.0, 8.0, 12.0],
    "min2": [NAN, 1.0, 3.0, 5.0, 7.0, 12.0],
    "max2": [NAN, 3.0, 5.0, 7.0, 12.0, 17.0],
    # [1, 3, 5]: deviations -2, 0, 2, squares 8, / 2 = 4; [5, 7, 12]: -3, -1, 4 -> 26 / 2; [7, 12, 17]: 50 / 2
    "std3": [NAN, NAN, 2.0, 2.0, math.sqrt(13.0), 5.0],
    "ewma": [1.0, 2.0, 3.5, 5.25, 8.625, 12.8125],  # 0.5 * x + 0.5 * e, from e = x on the first row
    "sum1": XS,
}
NEGATED = {"vlag2": "lag2", "vsum3": "sum3", "vmean3": "mean3", "vmin2": "max2", "vmax2": "min2", "vewma": "ewma"}


@pytest.mark.parametrize("name", sorted(HAND))
def test_hand_computed_sequences_scalar(compiled, name):
    for how, outs in three_ways(compiled, columns(XS)):
        assert_bits(outs[name], HAND[name], f"{how} {name}")


def test_hand_computed_sequences_per_asset(compiled):
    """Each asset's window is its own: asset 0 sees XS, asset 1 its negation."""
    for how, outs in three_ways(compiled, columns(XS)):
        for vector, scalar in NEGATED.items():
            assert_bits(outs[vector][:, 0], HAND[vector[1:]], f"{how} {vector}[0]")
            assert_bits(outs[vector][:, 1], [-x for x in HAND[scalar]], f"{how} {vector}[1]")
        assert_bits(outs["vstd3"], np.array([HAND["std3"]] * 2).T, how)


def test_nan_zero_signs_and_restart_by_hand(compiled):
    """A NaN in the window: the sum is NaN while it is there; max/min pass over a NaN that is not the oldest
    (Python's rule) and return NaN while it is; ewma restarts at the row after a NaN. -0.0 sums to -0.0
    (no 0.0 start)."""
    xs = [NAN, 2.0, 4.0, NAN, 8.0, -0.0, -0.0, -0.0]
    want = {"ewma": [NAN, 2.0, 3.0, NAN, 8.0, 4.0, 2.0, 1.0],
            "max2": [NAN, NAN, 4.0, 4.0, NAN, 8.0, -0.0, -0.0],
            "min2": [NAN, NAN, 2.0, 4.0, NAN, -0.0, -0.0, -0.0],
            "sum3": [NAN, NAN, NAN, NAN, NAN, NAN, 8.0, -0.0],
            "sum1": xs}
    for how, outs in three_ways(compiled, columns(xs)):
        for name, values in want.items():
            assert_bits(outs[name], values, f"{how} {name}")


# ---------------------------------------------------------------- plain-loop references


def windows_of(xs: list[float], size: int) -> Iterator[list[float]]:
    """Each row's window, oldest first; the rows before the first are NaN."""
    buf = deque([NAN] * (size - 1), maxlen=size)
    for x in xs:
        buf.append(x)
        yield list(buf)


def ref_lag(xs: list, k: int, fill: object) -> list:
    buf = deque([fill] * k, maxlen=k)
    out = []
    for x in xs:
        out.append(buf[0])
        buf.append(x)
    return out


def ref_sum(w: list[float]) -> float:
    return functools.reduce(operator.add, w)


def ref_std(w: list[float]) -> float:
    m = ref_sum(w) / len(w)
    return math.sqrt(functools.reduce(operator.add, [(x - m) * (x - m) for x in w]) / (len(w) - 1))


def ref_ewma(xs: list[float], alpha: float) -> list[float]:
    out, e = [], NAN
    for x in xs:
        e = x if math.isnan(e) else alpha * x + (1.0 - alpha) * e
        out.append(e)
    return out


def reference(xs: list[float], alpha: float) -> dict[str, list]:
    """Every scalar window of WINDOWS, by deques and loops (min and max are Python's, over the window)."""
    return {"lag2": ref_lag(xs, 2, NAN), "lag1_fill": ref_lag(xs, 1, -7.5),
            "sum3": [ref_sum(w) for w in windows_of(xs, 3)], "mean3": [ref_sum(w) / 3 for w in windows_of(xs, 3)],
            "min2": [min(w) for w in windows_of(xs, 2)], "max2": [max(w) for w in windows_of(xs, 2)],
            "std3": [ref_std(w) for w in windows_of(xs, 3)], "ewma": ref_ewma(xs, alpha), "sum1": xs}


floats = st.one_of(st.sampled_from([0.0, -0.0, math.inf, -math.inf, NAN, 1.0, -1.0, 5e-324, 1.7976931348623157e308]),
                   st.floats(allow_nan=True, allow_infinity=True, width=64))
sequences = st.lists(floats, min_size=1, max_size=24)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(xs=sequences, other=sequences, alpha=st.one_of(st.sampled_from([0.0, 1.0, 0.5, 0.1]), st.floats(0, 1)))
def test_every_window_equals_a_plain_loop_bit_for_bit(compiled, xs, other, alpha):
    other = (other * len(xs))[:len(xs)]
    for how, outs in three_ways(compiled, columns(xs, [xs, other]), {"alpha": alpha}):
        for asset, series in enumerate((xs, other)):
            want = reference(series, alpha)
            if asset == 0:
                for scalar, values in want.items():
                    assert_bits(outs[scalar], values, f"{how} {scalar}")
            for scalar in ("lag2", "sum3", "mean3", "min2", "max2", "std3", "ewma"):
                assert_bits(outs["v" + scalar][:, asset], want[scalar], f"{how} v{scalar}[{asset}]")


# ---------------------------------------------------------------- what the lowering declares


def test_hidden_fields_are_named_hashed_and_never_shared(write_graph):
    """Each call declares fields of its own, named `<node path>.<window><op id>_<j>` after the op of its
    first field, advanced from the value (or the field before it); the length is part of the hash."""
    text = HEAD + '[nodes.a]\nexpr = "lag(x, 1) + lag(x, 1)"\n[outputs]\na = "a"\n'
    ir = lower(load_graph(write_graph(text)))
    x = next(op.id for op in ir.leaves("input") if op.name == "x")
    fields = ir.leaves("state")
    assert [op.name for op in fields] == [f"a.lag{op.id}_1" for op in fields] and len(fields) == 2
    assert all(op.node == "a" for op in fields) and all(math.isnan(s.init) for s in ir.state)
    assert sorted(i for _, i in ir.next_state) == [x, x]
    longer = lower(load_graph(write_graph(text.replace("lag(x, 1) + lag(x, 1)", "lag(x, 2) + lag(x, 1)"), "h.toml")))
    assert longer.content_hash != ir.content_hash and len(longer.state) == 3
    window = lower(load_graph(write_graph(HEAD + '[outputs]\no = "rolling_max(v, 4)"\n', "v.toml")))
    first = window.leaves("state")[0].id
    assert [(s.name, str(s.type)) for s in window.state] == [(f"out.o.rolling_max{first}_{j}", "float64[N]")
                                                            for j in (1, 2, 3)]
    assert sorted(window.next_state)[1:] == [(f"out.o.rolling_max{first}_{j}", first + j - 2) for j in (2, 3)]


def test_a_lag_of_a_lag_is_a_longer_lag(tmp_path):
    """Each field advances once per row: lag(lag(x, 1), 2) is lag(x, 3) on every row."""
    (tmp_path / "g.toml").write_text(HEAD + '[outputs]\na = "lag(lag(x, 1), 2)"\nb = "lag(x, 3)"\n')
    cg = compile_ir(lower(load_graph(tmp_path / "g.toml")))
    xs = [float(k) for k in range(1, 9)]
    for how, outs in three_ways(cg, columns(xs)):
        assert_bits(outs["a"], list(outs["b"]), how)
        assert_bits(outs["b"], ref_lag(xs, 3, NAN), how)


@pytest.mark.parametrize("expr, message, fix", [
    ("rolling_sum(i, 3)", "rolling_sum() takes a float64 value, got int64", "float(x)"),
    ("ewma(p, 0.5)", "ewma() takes a float64 value, got bool", "window a float64 value"),
    ("rolling_std(x, 1)", "rolling_std's K must be an integer literal from 2 to 256", "e.g. 20"),
    ("rolling_mean(x, 257)", "rolling_mean's K must be an integer literal from 1 to 256", "e.g. 20"),
    ("lag(x, 0)", "lag's k must be an integer literal from 1 to 256", ""),
    ("lag(x, alpha_k)", "lag's k must be an integer literal", ""),
    ("lag(x, 2.0)", "lag's k must be an integer literal", ""),
    ("lag(i, 1, 0.5)", "lag's fill must be a literal of the lagged value's type, int64", "[consts]"),
    ("lag(x, 1, alpha)", "lag's fill must be a literal", ""),
    ("ewma(x, v)", "ewma's alpha is float64, but the value bound to it is float64[N]", ""),
    ("lag(x)", "lag() takes 2 to 3 argument(s), got 1", ""),
])
def test_windows_refuse_bad_arguments_by_name(write_graph, expr, message, fix):
    head = HEAD.replace("[params]", "[consts]\nalpha_k = 2\n[params]")
    with pytest.raises(GraphError) as err:
        lower(load_graph(write_graph(head + f'[outputs]\no = "{expr}"\n')))
    assert message in str(err.value) and "outputs.o" in str(err.value) and fix in str(err.value), str(err.value)


def test_a_const_or_int_literal_is_a_fill(write_graph):
    """A [consts] name and an integer literal (exactly a float) are fills of a float64 lag."""
    head = HEAD.replace("[params]", "[consts]\nmissing = -1.25\n[params]")
    ir = lower(load_graph(write_graph(head + '[outputs]\na = "lag(x, 1, missing)"\nb = "lag(x, 1, 3)"\n')))
    assert sorted(s.init for s in ir.state) == [-1.25, 3.0]


# ---------------------------------------------------------------- hardware


def test_a_lag_with_a_finite_fill_is_a_shift_register_co_simulated(tmp_path):
    (tmp_path / "g.toml").write_text("""[graph]
name = "lagged"
[inputs]
x = { type = "float64", finite = true, ge = -4.0, le = 4.0 }
v = { type = "float64", vector = true, finite = true, ge = -4.0, le = 4.0 }
[outputs]
back3 = "lag(x, 3, 0.5)"
moved = "x - lag(x, 1, 0.0)"
asset1 = "lv[1]"
[nodes.lv]
expr = "lag(v, 2, -1.0)"
""")
    model = FixedModel(lower(load_graph(tmp_path / "g.toml")), FixedConfig(frac_bits=16))
    rows = cosim_rows(model, 200, seed=3, assets=3)
    report = cosimulate(model, rows, tmp_path / "sim", "lagged", assets=3)
    assert report.vectors == 200 and report.mismatches == 0, report.render()
    xs = [row["x"] for row in rows]
    state = model.initial_state(3)
    backs = []
    for row in rows:
        trace, state = model.advance(row, state)
        backs.append(trace[dict(model.ir.outputs)["back3"]] / (1 << 16))
    assert backs == [0.5, 0.5, 0.5, *xs[:-3]]  # the inputs are exact in Q.16: the lag is exact
    verilog = (tmp_path / "sim" / "lagged.v").read_text()
    assert verilog.count("<= v") == 3 + 1 + 2 * 3  # one register per field, per asset for v


def test_a_nan_fill_is_refused_in_hardware_by_name(write_graph):
    for expr, named in (("lag(x, 2)", "lag in out.o: the value 1 row ago"), ("ewma(x, 0.5)", "ewma in out.o"),
                        ("rolling_sum(x, 2)", "rolling_sum in out.o")):
        ir = lower(load_graph(write_graph(HEAD + f'[outputs]\no = "{expr}"\n')))
        with pytest.raises(LoweringError) as err:
            FixedModel(ir)
        assert "starts at NaN, which has no fixed-point value" in str(err.value) and named in str(err.value)
        assert "lag(x, k, 0.0)" in str(err.value)


def test_a_state_growing_through_a_lag_is_widened_to_a_fixpoint(tmp_path):
    """`acc = lag(acc, 3, 0.0) + 0.5` grows without bound through a shift register: the range analysis widens
    one field a round until none grows, so every register holds its next value (found by tests/test_hdl_fuzz.py:
    the register at the end of the chain was left narrower than its next value)."""
    (tmp_path / "g.toml").write_text("""[graph]
name = "grows"
[inputs]
x = { type = "float64", finite = true, ge = -1.0, le = 1.0 }
[state]
acc = 0.0
[outputs]
acc = "acc + x"
[next_state]
acc = "lag(acc, 3, 0.0) + 0.5"
""")
    model = FixedModel(lower(load_graph(tmp_path / "g.toml")), FixedConfig(frac_bits=8, max_int_bits=12))
    assert len({model.formats[op.id] for op in model.ir.leaves("state")}) == 1  # every field at the whole range
    report = cosimulate(model, cosim_rows(model, 100, seed=1), tmp_path / "sim", "grows")
    assert report.vectors == 100 and report.mismatches == 0, report.render()


def test_violet_check_lists_the_hidden_fields(write_graph):
    path = write_graph(HEAD + '[nodes.l]\nexpr = "lag(x, 2, 0.5)"\n[outputs]\nl = "l"\n')
    done = subprocess.run([sys.executable, "-m", "violet.cli", "check", str(path)], capture_output=True, text=True)
    rows = [line for line in done.stdout.splitlines() if line.split()[:1] == ["state"]]
    assert len(rows) == 2 and all("l.lag" in row and "starts at 0.5" in row for row in rows), done.stdout
    assert "lag in l: the value 2 rows ago" in rows[1]
