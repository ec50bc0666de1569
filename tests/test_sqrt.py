"""sqrt beyond its float64 values (tests/test_semantics.py holds the interpreter and both kernels to those):
its type rule, its interval rule, its fixed-point rounding, and its Verilog co-simulated."""

from __future__ import annotations

import math

import pytest

from violet.compile.cosim import SIMULATORS, cosim_rows, cosimulate
from violet.compile.fixed import FixedConfig, FixedModel
from violet.compile.lower import lower
from violet.compile.ranges import Interval, analyze
from violet.dag.graph import load_graph
from violet.errors import VioletError

GRAPH = """
[graph]
name = "roots"
[inputs]
a = { type = "float64" }
[outputs]
root = "sqrt(a)"
"""


def test_sqrt_of_an_int64_is_refused(write_graph):
    path = write_graph(GRAPH.replace('a = { type = "float64" }', 'a = { type = "int64" }'))
    with pytest.raises(VioletError, match="'sqrt' needs float64, got int64"):
        lower(load_graph(path))


def test_sqrt_intervals(write_graph):
    ir = lower(load_graph(write_graph("""
[graph]
name = "r"
[inputs]
x = { type = "float64", finite = true, ge = 4.0, le = 9.0 }
y = { type = "float64", finite = true, ge = -1.0, le = 4.0 }
z = { type = "float64", finite = true, ge = -3.0, le = -1.0 }
w = { type = "float64" }
[outputs]
rx = "sqrt(x)"
ry = "sqrt(y)"
rz = "sqrt(z)"
rw = "sqrt(w)"
""")))
    r = {name: analyze(ir)[i] for name, i in ir.outputs}
    assert r["rx"] == Interval(2.0, 3.0)  # monotone
    assert r["ry"] == Interval(0.0, 2.0, nan=True)  # reaches below -0.0: NaN possible
    assert r["rz"].nan and r["rz"].empty  # only NaN
    assert r["rw"] == Interval(0.0, math.inf, nan=True)


@pytest.mark.parametrize("x, raw", [
    (2.0, 23),    # sqrt(32 * 16) = 22.63: 22 (484), remainder 28 > 22, so 23 (1.4375)
    (2.25, 24),   # exact: 1.5 * 16
    (0.0625, 4),  # sqrt(1 * 16) = 4, exactly 0.25
    (0.125, 6),   # sqrt(2 * 16) = 5.66: 5, remainder 7 > 5, so 6
    (0.1875, 7),  # sqrt(3 * 16) = 6.93: 6, remainder 12 > 6, so 7
    (-1.0, 0),    # NaN in float64; fixed point has none
])
def test_fixed_point_sqrt_rounds_to_nearest(write_graph, x, raw):
    model = FixedModel(lower(load_graph(write_graph(GRAPH))), FixedConfig(frac_bits=4, max_int_bits=8))
    assert model.trace({"a": x})[-1] == raw


HARDWARE = """
[graph]
name = "roots"
[inputs]
a = { type = "float64", finite = true, ge = 0.0, le = 100.0 }
b = { type = "float64", finite = true, ge = -4.0, le = 4.0 }
c = { type = "float64" }
[outputs]
ra = "sqrt(a)"
rb = "sqrt(b)"
rc = "sqrt(c)"
rab = "sqrt(a * b) + sqrt(c * c)"
"""


@pytest.mark.long
@pytest.mark.parametrize("frac_bits, int_bits", [(24, 24), (7, 12), (0, 5)])
def test_sqrt_rtl_equals_the_fixed_point_model(write_graph, tmp_path, frac_bits, int_bits):
    model = FixedModel(lower(load_graph(write_graph(HARDWARE))), FixedConfig(frac_bits=frac_bits,
                                                                             max_int_bits=int_bits))
    rows = cosim_rows(model, 5000, seed=frac_bits)
    for simulator in SIMULATORS if frac_bits == 24 else SIMULATORS[:1]:
        report = cosimulate(model, rows, tmp_path / simulator, "roots", simulator=simulator)
        assert report.vectors == 5000 and report.mismatches == 0, report.render()


NO_NUMBER = """
[graph]
name = "no_number"
[inputs]
x = { type = "float64", finite = true, ge = -4.0, le = 3.0 }
[outputs]
low = "min(sqrt(-2.5), x)"
high = "max(sqrt(-2.5), x)"
"""


@pytest.mark.parametrize("x, low, high", [(-3.0, -1, 0), (-1.0, -1, 0), (2.0, 0, 0)])
def test_a_pick_of_a_value_only_nan_in_float64_fits_its_format(write_graph, x, low, high):
    """sqrt(-2.5) is only NaN in float64: its range holds no number, so it and the picks of it get the
    format `Q0.0` (raw -1 or 0), and fixed point's sqrt gives 0. The pick is then fitted to that format,
    in the model as in the hardware: min(0, -3) is -1, not -3 (a fuzz example, where the -3 had gone on to
    an argmax the RTL computed from -1)."""
    model = FixedModel(lower(load_graph(write_graph(NO_NUMBER))), FixedConfig(frac_bits=0, max_int_bits=2))
    trace = model.trace({"x": x})
    assert [trace[i] for _, i in model.ir.outputs] == [low, high]


def test_a_pick_of_a_value_only_nan_in_float64_rtl_equals_the_model(write_graph, tmp_path):
    model = FixedModel(lower(load_graph(write_graph(NO_NUMBER))), FixedConfig(frac_bits=0, max_int_bits=2))
    report = cosimulate(model, cosim_rows(model, 200, seed=1), tmp_path, "no_number")
    assert report.vectors == 200 and report.mismatches == 0, report.render()
