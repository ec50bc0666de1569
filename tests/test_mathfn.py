"""The scalar math ops (exp log log1p expm1 tanh pow, isnan isfinite sign copysign, int64 // and %):
hand-computed values on the interpreter, the step kernel and the scan kernel (scalars and vectors), bit
identity on drawn floats, the C library against CPython's math, sound intervals, and the hardware."""

from __future__ import annotations

import math
import re
import struct
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numba import njit

from violet.cli import main
from violet.compile.cosim import cosim_rows, cosimulate
from violet.compile.fixed import FixedConfig, FixedModel
from violet.compile.identity import identity_view
from violet.compile.interp import Interpreter
from violet.compile.ir import Op
from violet.compile.lower import lower
from violet.compile.numba_backend import compile_ir
from violet.compile.numba_codegen import generate
from violet.compile.numba_intrinsics import c_exp, c_pow
from violet.compile.ops import spec
from violet.compile.ranges import Interval, analyze, transfer
from violet.compile.semantics import C_MATH
from violet.dag.graph import load_graph
from violet.dag.types import BOOL, F64, I64
from violet.errors import VioletError

INT64_MAX, INT64_MIN = 2**63 - 1, -(2**63)
NAN, INF = float("nan"), float("inf")
NEG_NAN = struct.unpack("<d", struct.pack("<Q", 0xFFF8000000000000))[0]

GRAPH = """
[graph]
name = "mathfn"
[inputs]
a = { type = "float64" }
b = { type = "float64" }
i = { type = "int64" }
j = { type = "int64" }
v = { type = "float64", vector = true }
w = { type = "float64", vector = true }
k = { type = "int64", vector = true }
[outputs]
ex = "exp(a)"
lg = "log(a)"
l1 = "log1p(a)"
em = "expm1(a)"
th = "tanh(a)"
pw = "pow(a, b)"
nan = "isnan(a)"
fin = "isfinite(a)"
sg = "sign(a)"
isg = "sign(i)"
cs = "copysign(a, b)"
fd = "i // j"
md = "i % j"
rebuilt = "j * (i // j) + i % j"
squared = "pow(a, 2.0)"
inverse = "pow(a, -1.0)"
two_to = "pow(2.0, a)"
root = "pow(a, 0.5)"
folded = "exp(0.5749851601726732) + log(905365.905430437)"
vex = "exp(v)"
vlg = "log(v)"
vpw = "pow(v, w)"
vpb = "pow(v, b)"
vsg = "sign(v)"
vcs = "copysign(v, w)"
vnan = "isnan(v)"
vfd = "k // j"
vmd = "i % k"
"""

FLOATS = "abvw"
BASE = dict(a=1.0, b=1.0, i=0, j=1, v=[1.0], w=[1.0], k=[1])


@pytest.fixture(scope="module")
def backends(tmp_path_factory):
    path = tmp_path_factory.mktemp("mathfn") / "g.toml"
    path.write_text(GRAPH)
    ir = lower(load_graph(path))
    return ir, Interpreter(ir), compile_ir(ir)


def columns(rows: list[dict]) -> dict[str, np.ndarray]:
    return {name: np.array([r[name] for r in rows], dtype=np.float64 if name in FLOATS else np.int64)
            for name in BASE}


def evaluate(backends, **row) -> list[dict]:
    """One row's outputs from the interpreter, the compiled step kernel and the compiled scan kernel."""
    ir, interp, compiled = backends
    row = {**BASE, **row}
    scanned = {name: value[0] for name, value in compiled.batch(columns([row])).items()}
    return [interp.step(row), compiled.step(row), scanned]


def same_bits(got, want) -> bool:
    """float64 by bit pattern, every NaN one value (docs/semantics.md); anything else by value and kind."""
    if isinstance(want, float):
        return identity_view(np.array([got], dtype=np.float64))[0] == identity_view(np.array([want]))[0]
    if isinstance(want, list):
        return len(got) == len(want) and all(same_bits(g, w) for g, w in zip(got, want))
    return got == want and isinstance(got, (bool, np.bool_)) == isinstance(want, bool)


def check(backends, output: str, expected, **row) -> None:
    for result in evaluate(backends, **row):
        got = result[output]
        got = list(got) if isinstance(got, np.ndarray) else got
        assert same_bits(got, expected), (output, row, got, expected)


@pytest.mark.parametrize("output, a, expected", [
    ("ex", 0.0, 1.0), ("ex", -0.0, 1.0), ("ex", -INF, 0.0), ("ex", INF, INF), ("ex", 1000.0, INF),
    ("ex", -1000.0, 0.0), ("ex", NAN, NAN), ("ex", 1.0, 2.718281828459045),
    ("lg", 1.0, 0.0), ("lg", 0.0, -INF), ("lg", -0.0, -INF), ("lg", -1.0, NAN), ("lg", INF, INF),
    ("lg", -INF, NAN), ("lg", 5e-324, -744.4400719213812), ("lg", NAN, NAN),
    ("l1", -0.0, -0.0), ("l1", 0.0, 0.0), ("l1", -1.0, -INF), ("l1", -2.0, NAN), ("l1", INF, INF),
    ("l1", 5e-324, 5e-324),
    ("em", -0.0, -0.0), ("em", 0.0, 0.0), ("em", -INF, -1.0), ("em", 710.0, INF), ("em", INF, INF),
    ("th", INF, 1.0), ("th", -INF, -1.0), ("th", -0.0, -0.0), ("th", 20.0, 1.0), ("th", NAN, NAN),
    ("nan", NAN, True), ("nan", INF, False), ("nan", -0.0, False),
    ("fin", NAN, False), ("fin", -INF, False), ("fin", 5e-324, True), ("fin", 1.7976931348623157e308, True),
    ("sg", 3.5, 1.0), ("sg", -2.0, -1.0), ("sg", -0.0, -0.0), ("sg", 0.0, 0.0), ("sg", NAN, NAN),
    ("sg", -INF, -1.0), ("sg", 5e-324, 1.0),
])
def test_unary_by_hand(backends, output, a, expected):
    check(backends, output, expected, a=a)


@pytest.mark.parametrize("a, b, expected", [
    (NAN, 0.0, 1.0), (NAN, -0.0, 1.0), (1.0, NAN, 1.0), (0.0, -1.0, INF), (-0.0, -1.0, -INF), (-0.0, -2.0, INF),
    (-0.0, 3.0, -0.0), (-8.0, 1 / 3, NAN), (10.0, 400.0, INF), (-10.0, 401.0, -INF), (2.0, 0.5, 1.4142135623730951),
    (-2.0, 3.0, -8.0), (INF, -1.0, 0.0), (-INF, -1.0, -0.0), (-INF, 3.0, -INF), (0.5, INF, 0.0), (2.0, -INF, 0.0),
    (-1.0, INF, 1.0), (2.0, -1075.0, 0.0), (2.0, -1074.0, 5e-324),
])
def test_pow_by_hand(backends, a, b, expected):
    check(backends, "pw", expected, a=a, b=b)


@pytest.mark.parametrize("a, b, expected", [
    (2.0, -0.0, -2.0), (-2.0, 0.0, 2.0), (-0.0, 1.0, 0.0), (0.0, -INF, -0.0), (INF, -5.0, -INF), (NAN, -1.0, NAN),
    (-3.0, NAN, 3.0), (-3.0, NEG_NAN, 3.0), (3.0, NEG_NAN, 3.0),  # a NaN y: abs(x), whatever the NaN's sign
])
def test_copysign_by_hand(backends, a, b, expected):
    check(backends, "cs", expected, a=a, b=b)


@pytest.mark.parametrize("i, j, quotient, remainder", [
    (7, 2, 3, 1), (-7, 2, -4, 1), (7, -2, -4, -1), (-7, -2, 3, -1), (6, 3, 2, 0), (-6, 3, -2, 0),
    (5, 0, 0, 5), (-5, 0, 0, -5), (0, 0, 0, 0), (0, -1, 0, 0),
    (INT64_MIN, -1, INT64_MIN, 0), (INT64_MAX, -1, -INT64_MAX, 0), (INT64_MIN, 1, INT64_MIN, 0),
    (INT64_MIN, 2, -(2**62), 0), (INT64_MIN, INT64_MAX, -2, INT64_MAX - 1), (INT64_MAX, INT64_MIN, -1, -1),
    (-1, INT64_MIN, 0, -1), (INT64_MIN, 0, 0, INT64_MIN),
])
def test_floor_division_and_modulo_by_hand(backends, i, j, quotient, remainder):
    check(backends, "fd", quotient, i=i, j=j)
    check(backends, "md", remainder, i=i, j=j)
    check(backends, "rebuilt", i, i=i, j=j)  # a == b * (a // b) + a % b, even at 0 and INT64_MIN // -1


@pytest.mark.parametrize("i, expected", [(7, 1), (-7, -1), (0, 0), (INT64_MIN, -1), (INT64_MAX, 1)])
def test_int_sign_by_hand(backends, i, expected):
    check(backends, "isg", expected, i=i)


def test_vectors_per_asset(backends):
    row = dict(v=[1.0, 0.0, -1.0, INF], w=[2.0, -1.0, 0.5, -0.0], k=[3, 0, -2, -1], i=-7, j=-2, b=3.0)
    check(backends, "vex", [2.718281828459045, 1.0, 0.36787944117144233, INF], **row)
    check(backends, "vlg", [0.0, -INF, NAN, INF], **row)
    check(backends, "vpw", [1.0, INF, NAN, 1.0], **row)  # pow(inf, -0.0) = 1
    check(backends, "vpb", [1.0, 0.0, -1.0, INF], **row)  # a scalar exponent shared by every asset
    check(backends, "vsg", [1.0, 0.0, -1.0, 1.0], **row)
    check(backends, "vcs", [1.0, -0.0, 1.0, -INF], **row)
    check(backends, "vnan", [False, False, False, False], **row)
    check(backends, "vfd", [-2, 0, 1, 0], **row)  # k // j, j = -2
    check(backends, "vmd", [2, -7, -1, 0], **row)  # i % k, i = -7


@pytest.mark.parametrize("a", [1.8429351901306026, 1.448133369045891, 0.629205487213546, 0.5584206898862942,
                               22.60500788554522, 5.580733841037386])
def test_pow_by_a_constant_is_the_c_librarys_pow_not_llvms_rewrite(backends, a):
    """LLVM rewrites math.pow(x, 2.0) as x * x, math.pow(x, -1.0) as 1 / x and math.pow(2.0, x) as exp2(x);
    at these inputs (found on glibc 2.36, x86-64) glibc's pow differs from one of the rewrites, and the
    kernels still give pow's bits."""
    for output, args in [("squared", (a, 2.0)), ("inverse", (a, -1.0)), ("two_to", (2.0, a)), ("root", (a, 0.5))]:
        check(backends, output, math.pow(*args), a=a)
    if (math.pow(a, 2.0), math.pow(a, -1.0), math.pow(2.0, a)) == (a * a, 1.0 / a, math.exp2(a)):
        pytest.skip("this platform's pow agrees with LLVM's rewrites here: the input shows nothing")


def test_a_constant_argument_is_not_folded_by_other_rules(backends):
    check(backends, "folded", math.exp(0.5749851601726732) + math.log(905365.905430437))


def test_the_kernels_call_the_c_library_never_llvm_intrinsics():
    """The generated source calls c_exp, ...; compiled, each is one call of VIOLET's symbol: no llvm.exp or
    llvm.pow (which LLVM folds and rewrites), no vector-library variant (SVML `__svml_`, libmvec `_ZGV`)."""

    @njit(error_model="numpy")
    def loop(x):
        out = np.empty_like(x)
        for n in range(x.shape[0]):
            out[n] = c_exp(x[n]) + c_pow(x[n], 2.0) + c_pow(2.0, x[n])
        return out

    values = np.linspace(-3.0, 3.0, 64)
    assert np.array_equal(loop(values), [math.exp(x) + math.pow(x, 2.0) + math.pow(2.0, x) for x in values])
    llvm_ir = next(iter(loop.inspect_llvm().values()))
    assert "violet_c_exp" in llvm_ir and "violet_c_pow" in llvm_ir
    for absent in ("llvm.exp", "llvm.pow", "llvm.exp2", "@exp(", "@pow(", "__svml", "_ZGV"):
        assert absent not in llvm_ir, absent


def test_the_generated_source_names_the_c_functions(write_graph):
    source = generate(lower(load_graph(write_graph(GRAPH))))
    assert "c_exp(" in source and "c_pow(" in source and "math.exp" not in source and "math.pow" not in source


# ---------------------------------------------------------------- bit identity on drawn values

SPECIAL = [0.0, -0.0, INF, -INF, NAN, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
           -1.7976931348623157e308, 709.782712893384, 709.7827128933841, -745.1332191019411, -745.1332191019412,
           -1.0, 1.0, 0.5, -0.5, 2.0, 1e-300, 1 / 3]
floats = st.one_of(st.sampled_from(SPECIAL), st.floats(allow_nan=True, allow_infinity=True, width=64),
                   st.floats(-800.0, 800.0))
ints = st.one_of(st.sampled_from([0, 1, -1, 2, -2, 7, INT64_MIN, INT64_MAX]), st.integers(INT64_MIN, INT64_MAX))


@st.composite
def rows(draw, n: int = 24) -> list[dict]:
    return [dict(a=draw(floats), b=draw(floats), i=draw(ints), j=draw(ints), v=[draw(floats), draw(floats)],
                 w=[draw(floats), draw(floats)], k=[draw(ints), draw(ints)]) for _ in range(n)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows())
def test_interpreter_step_and_scan_agree_bit_for_bit(backends, drawn):
    ir, interp, compiled = backends
    want = interp.batch(columns(drawn))
    scanned = compiled.batch(columns(drawn))
    stepped = [compiled.step(row) for row in drawn]
    for name in ir.output_names:
        w, s = want[name], scanned[name]
        t = np.array([row[name] for row in stepped], dtype=w.dtype)
        if w.dtype == np.float64:
            w, s, t = identity_view(w), identity_view(s), identity_view(t)
        assert np.array_equal(w, s) and np.array_equal(w, t), (name, drawn)


def c_value_where_math_raises(fn, *args: float) -> float | None:
    """math's value, or None where math raises."""
    try:
        return fn(*args)
    except (ValueError, OverflowError):
        return None


@settings(max_examples=300, deadline=None)
@given(floats, floats)
def test_the_c_library_is_what_cpythons_math_computes(x, y):
    """Where math returns, the C library's function gives its very bits; where math raises, an IEEE
    special value (a ValueError is NaN or an infinity from a pole, an OverflowError an infinity)."""
    for name in C_MATH:
        args = (x, y) if name == "pow" else (x,)
        ours, theirs = C_MATH[name](*args), c_value_where_math_raises(getattr(math, name), *args)
        if theirs is None:
            assert math.isnan(ours) or math.isinf(ours), (name, args, ours)
        else:
            assert same_bits(ours, theirs), (name, args, ours, theirs)


def test_numpys_vectorised_exp_is_not_math_exp_on_this_machine():
    """docs/semantics.md's example: numpy's SIMD exp differs from the C library's by an ULP here. (If a
    platform's numpy agrees, the claim of the docs is what to revisit, so this is skipped, not passed.)"""
    x = 0.5749851601726732
    if float(np.exp(np.array([x]))[0]) == math.exp(x):
        pytest.skip("numpy's exp agrees with math.exp at the documented input on this platform")
    assert abs(float(np.exp(np.array([x]))[0]) - math.exp(x)) == math.ulp(math.exp(x))


# ---------------------------------------------------------------- intervals

bounded = st.floats(allow_nan=False, allow_infinity=True, width=64)


int_values = st.one_of(st.sampled_from([0, 1, -1, 2, -2, INT64_MIN, INT64_MAX]), st.integers(INT64_MIN, INT64_MAX),
                       st.integers(-20, 20))


@st.composite
def float_intervals(draw) -> tuple[Interval, float]:
    """A float64 interval (maybe NaN-flagged) and a value inside it (NaN only if flagged)."""
    lo, hi = sorted([draw(bounded), draw(bounded)], key=lambda x: (x, math.copysign(1.0, x)))  # -0.0 below 0.0
    nan = draw(st.booleans())
    if nan and draw(st.booleans()):
        return Interval(lo, hi, True), NAN
    return Interval(lo, hi, nan), draw(st.one_of(st.sampled_from([lo, hi]), st.floats(lo, hi)))


@st.composite
def int_intervals(draw) -> tuple[Interval, int]:
    lo, hi = sorted([draw(int_values), draw(int_values)])
    return Interval(lo, hi), draw(st.one_of(st.sampled_from([lo, hi]), st.integers(lo, hi)))


def contains(interval: Interval, value) -> bool:
    return interval.nan if isinstance(value, float) and math.isnan(value) else interval.lo <= value <= interval.hi


def interval_holds(kind: str, drawn: list[tuple[Interval, float | int]], dtype) -> None:
    """The op's interval rule on the drawn intervals holds the interpreter's value on the drawn members."""
    intervals, values = [d[0] for d in drawn], [d[1] for d in drawn]
    result_type = BOOL if kind in ("isnan", "isfinite") else dtype
    op = Op(len(drawn), kind, result_type, tuple(range(len(drawn))))
    value = spec(kind).interp(op, [dtype] * len(drawn))(*values)
    result = transfer(op, intervals)
    assert contains(result, value), (kind, intervals, values, value, result)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(["exp", "log", "log1p", "expm1", "tanh", "sign", "isnan", "isfinite"]), float_intervals())
def test_unary_intervals_hold_the_value(kind, drawn):
    interval_holds(kind, [drawn], F64)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(["pow", "copysign"]), float_intervals(), float_intervals())
def test_binary_float_intervals_hold_the_value(kind, first, second):
    interval_holds(kind, [first, second], F64)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(["floordiv", "mod", "sign"]), int_intervals(), int_intervals())
def test_int_intervals_hold_the_value(kind, first, second):
    interval_holds(kind, [first] if kind == "sign" else [first, second], I64)


def test_ranges_of_a_graph(write_graph):
    ir = lower(load_graph(write_graph("""
[graph]
name = "r"
[inputs]
x = { type = "float64", finite = true, ge = 0.0, le = 1.0 }
y = { type = "float64", finite = true, ge = -1.0, le = 4.0 }
z = { type = "float64" }
i = { type = "int64", ge = -100, le = 100 }
j = { type = "int64", ge = 1, le = 7 }
[outputs]
ex = "exp(x)"
lg = "log(y)"
th = "tanh(z)"
em = "expm1(z)"
fd = "i // j"
md = "i % j"
sg = "sign(z)"
""")))
    r = {name: analyze(ir)[i] for name, i in ir.outputs}
    assert r["ex"].lo == pytest.approx(1.0) and r["ex"].hi == pytest.approx(math.e) and not r["ex"].nan
    assert r["ex"].lo <= 1.0 and r["ex"].hi >= math.e
    assert r["lg"].lo == -INF and r["lg"].hi == pytest.approx(math.log(4.0)) and r["lg"].nan  # log(-1) is NaN
    assert r["th"] == Interval(-1.0, 1.0, True) and r["em"] == Interval(-1.0, INF, True)
    assert r["fd"] == Interval(-100, 100) and r["md"] == Interval(0, 6) and r["sg"] == Interval(-1.0, 1.0, True)


# ---------------------------------------------------------------- fixed point and hardware

HARDWARE = """
[graph]
name = "signs"
[inputs]
x = { type = "float64", finite = true, ge = -8.0, le = 8.0 }
y = { type = "float64", finite = true, ge = -2.0, le = 2.0 }
i = { type = "int64", ge = -1000, le = 1000 }
j = { type = "int64", ge = -9, le = 9 }
[outputs]
sx = "sign(x)"
si = "sign(j)"
cs = "copysign(x, y)"
nan = "isnan(x)"
fin = "isfinite(x)"
fd = "i // j"
md = "i % j"
"""


def test_fixed_point_signs_and_floor_division_by_hand(write_graph):
    model = FixedModel(lower(load_graph(write_graph(HARDWARE))), FixedConfig(frac_bits=4, max_int_bits=12))

    def raw(**row) -> dict:
        values = model.trace(row)
        return {name: values[i] for name, i in model.ir.outputs}

    # raw values, 4 fractional bits: 2.5 is 40, -1.0 is -16; a zero y has no sign in fixed point
    assert raw(x=-2.5, y=0.0, i=-7, j=2) == {"sx": -16, "si": 1, "cs": 40, "nan": 0, "fin": 1, "fd": -4, "md": 1}
    assert raw(x=0.0, y=-1.0, i=-7, j=0) == {"sx": 0, "si": 0, "cs": 0, "nan": 0, "fin": 1, "fd": 0, "md": -7}
    assert raw(x=3.0, y=-1.0, i=7, j=-2)["cs"] == -48 and raw(x=3.0, y=-1.0, i=7, j=-2)["fd"] == -4


@pytest.mark.parametrize("frac_bits", [24, 3])
def test_signs_and_floor_division_rtl_equal_the_fixed_point_model(write_graph, tmp_path, frac_bits):
    model = FixedModel(lower(load_graph(write_graph(HARDWARE))), FixedConfig(frac_bits=frac_bits, max_int_bits=16))
    report = cosimulate(model, cosim_rows(model, 3000, seed=frac_bits), tmp_path, "signs", simulator="icarus")
    assert report.vectors == 3000 and report.mismatches == 0, report.render()


@pytest.mark.parametrize("kind", ["exp", "log", "log1p", "expm1", "tanh", "pow"])
def test_violet_hdl_refuses_a_transcendental_by_name(capsys, write_graph, tmp_path, kind):
    call = "pow(x, 2.0)" if kind == "pow" else f"{kind}(x)"
    path = write_graph(f'[graph]\nname = "t"\n[inputs]\nx = {{ type = "float64", finite = true, ge = 1.0, le = 2.0 }}\n'
                       f'[outputs]\ny = "{call}"\n')
    sys.argv = ["violet", "hdl", str(path), "--out", str(tmp_path / "hdl")]
    with pytest.raises(SystemExit) as done:
        main()
    err = capsys.readouterr().err
    assert done.value.code == 2 and "Traceback" not in err
    assert f"op '{kind}' has no fixed-point lowering: {kind} is the C library's" in err
    assert "proven error bound" in err


@pytest.mark.parametrize("text, message", [
    ("a // b", "'//' is int64 floor division, got float64, float64: for float64 write floor(a / b)"),
    ("a % i", "'%' is int64 floor division, got float64, float64: for float64 write a - b * floor(a / b)"),
    ("exp(i)", "'exp' takes float64, got int64"),
    ("pow(a, 2)", "'pow' takes float64, got float64, int64"),
    ("isnan(i)", "'isnan' takes a float64, got int64"),
    ("copysign(a, i)", "'copysign' takes two float64, got float64, int64"),
    ("sign(p)", "'sign' takes a float64 or an int64, got bool"),
    ("exp(a, b)", "exp() takes 1 argument(s), got 2"),
])
def test_ill_typed_calls_are_refused(write_graph, text, message):
    path = write_graph(f'[graph]\nname = "t"\n[inputs]\na = {{ type = "float64" }}\nb = {{ type = "float64" }}\n'
                       f'i = {{ type = "int64" }}\np = {{ type = "bool" }}\n[outputs]\ny = "{text}"\n')
    with pytest.raises(VioletError, match=re.escape(message)):
        lower(load_graph(path))


def test_a_reference_using_numpy_exp_is_told_why_it_differs(write_graph):
    """np.exp (vectorised, not the C library's exp) misses by an ULP on some inputs; the diff names the
    output, and its note names the exp node the output depends on."""
    from violet.tools.diff import diff_reference

    path = write_graph('[graph]\nname = "growth"\n[inputs]\nr = { type = "float64" }\n'
                       '[nodes.g]\nexpr = "exp(r)"\n[nodes.scaled]\nexpr = "g * 2.0"\n[outputs]\nout = "scaled"\n')
    cg = compile_ir(lower(load_graph(path)))
    r = np.random.default_rng(3).uniform(-1.0, 1.0, 20_000)
    report = diff_reference(cg, {"r": r}, lambda r: {"out": float(np.exp(np.array([r]))[0]) * 2.0}, "np_ref")
    differ = sum(float(np.exp(np.array([x]))[0]) != math.exp(x) for x in r.tolist())
    assert report.mismatched_rows == differ  # 0 where numpy's exp is the C library's
    if differ:
        assert report.first is not None and "node 'g'" in report.first.note and "exp" in report.first.note
