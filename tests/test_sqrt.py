"""sqrt, on hand-computed values: the interpreter and both kernels (IEEE, correctly rounded, bit-identical
to math.sqrt and np.sqrt), its interval rule, its fixed-point rounding, and its Verilog co-simulated."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest

from violet.compile.cosim import SIMULATORS, cosim_rows, cosimulate
from violet.compile.fixed import FixedConfig, FixedModel
from violet.compile.interp import Interpreter
from violet.compile.lower import lower
from violet.compile.numba_backend import compile_ir
from violet.compile.numba_codegen import generate
from violet.compile.ranges import Interval, analyze
from violet.compile.semantics import DEFAULT_NAN
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

NAN = float("nan")
TINY = 5e-324  # 2**-1074, whose root 2**-537 is exact


def bits(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


@pytest.fixture(scope="module")
def backends(tmp_path_factory):
    path = tmp_path_factory.mktemp("sqrt") / "g.toml"
    path.write_text(GRAPH)
    ir = lower(load_graph(path))
    return ir, Interpreter(ir), compile_ir(ir)


def roots(backends, values: list[float]) -> list[np.ndarray]:
    """sqrt of each value by the interpreter, the step kernel (row by row) and the scan kernel (all rows)."""
    ir, interp, compiled = backends
    column = np.array(values, dtype=np.float64)
    return [np.array([interp.step({"a": x})["root"] for x in values]),
            np.array([compiled.step({"a": x})["root"] for x in values]),
            compiled.batch({"a": column})["root"]]


@pytest.mark.parametrize("x, expected", [
    (2.0, 0x3FF6A09E667F3BCD),  # sqrt(2) = 1.4142135623730951, correctly rounded
    (4.0, 0x4000000000000000), (0.25, 0x3FE0000000000000),
    (0.0, 0x0000000000000000), (-0.0, 0x8000000000000000),  # the sign of zero is kept
    (TINY, bits(math.ldexp(1.0, -537))), (math.inf, 0x7FF0000000000000),
    (1.7976931348623157e308, bits(1.3407807929942596e154)),
])
def test_sqrt_by_hand(backends, x, expected):
    for result in roots(backends, [x]):
        assert bits(result[0]) == expected, (x, result[0])


@pytest.mark.parametrize("x", [-1.0, -TINY, -math.inf, NAN])
def test_sqrt_below_minus_zero_and_of_nan_is_nan(backends, x):
    for result in roots(backends, [x]):
        assert math.isnan(result[0]), (x, result[0])
    if x < 0:  # where math.sqrt raises, the interpreter gives the machine's default NaN
        assert bits(backends[1].step({"a": x})["root"]) == bits(DEFAULT_NAN)


def test_sqrt_is_bit_identical_to_math_and_numpy(backends):
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.uniform(0.0, 10.0, 300), np.exp(rng.uniform(-700.0, 700.0, 300)),
                             rng.integers(1, 2**62, 200, dtype=np.int64).view(np.float64)])  # random bit patterns
    want = np.array([bits(math.sqrt(x)) for x in values])
    assert np.array_equal(np.sqrt(values).view(np.uint64), want.astype(np.uint64))
    for result in roots(backends, values.tolist()):
        assert np.array_equal(result.view(np.uint64), want.astype(np.uint64))


def test_the_kernels_call_np_sqrt_without_fastmath(backends):
    text = generate(backends[0])
    assert "np.sqrt(" in text and "fastmath" not in text


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


@pytest.mark.parametrize("frac_bits, int_bits", [(24, 24), (7, 12), (0, 5)])
def test_sqrt_rtl_equals_the_fixed_point_model(write_graph, tmp_path, frac_bits, int_bits):
    model = FixedModel(lower(load_graph(write_graph(HARDWARE))), FixedConfig(frac_bits=frac_bits,
                                                                             max_int_bits=int_bits))
    rows = cosim_rows(model, 5000, seed=frac_bits)
    for simulator in SIMULATORS if frac_bits == 24 else SIMULATORS[:1]:
        report = cosimulate(model, rows, tmp_path / simulator, "roots", simulator=simulator)
        assert report.vectors == 5000 and report.mismatches == 0, report.render()
