"""Each rule of docs/semantics.md, on hand-computed values, in the interpreter and in the compiled kernels."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest

from violet.compile.interp import Interpreter
from violet.compile.lower import lower
from violet.compile.numba_backend import compile_ir
from violet.compile.numba_codegen import generate
from violet.compile.semantics import DEFAULT_NAN
from violet.dag.graph import load_graph
from violet.errors import VioletError

GRAPH = """
[graph]
name = "semantics"
[inputs]
a = { type = "float64" }
b = { type = "float64" }
c = { type = "float64" }
i = { type = "int64" }
j = { type = "int64" }
e = { type = "enum", values = ["LOW", "MID", "HIGH"] }
p = { type = "bool" }
[outputs]
mn = "min(a, b)"
mx = "max(a, b)"
clamped = "clamp(a, 0.0, 1.0)"
cube = "a ** 3"
chain = "a * b * c"
fused = "a * b + c"
q = "a / b"
neg = "-a"
ab = "abs(a)"
fl = "floor(a)"
ce = "ceil(a)"
tr = "int(a)"
iadd = "i + j"
imul = "i * j"
ineg = "-i"
shifted_abs = "abs(i + -1)"
iabs = "abs(i)"
tofloat = "float(i)"
idiv = "i / j"
high = "e == 'HIGH'"
picked = "match(e, LOW=1.5, MID=2.5, HIGH=3.5)"
int_bool = "int(p)"
int_enum = "int(e)"
int_enum_plus = "int(e) + 10"
floor_int = "floor(i)"
ceil_int = "ceil(i)"
int_int = "int(i)"
plus_float = "+a"
plus_bool = "+p"
plus_enum = "+e"
with_true = "p and True"
with_false = "p or False"
root = "sqrt(a)"
"""

INT64_MAX, INT64_MIN = 2**63 - 1, -(2**63)
NAN = float("nan")
BASE = dict(a=1.0, b=1.0, c=0.0, i=0, j=1, e=0, p=False)


def bits(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


@pytest.fixture(scope="module")
def backends(tmp_path_factory):
    path = tmp_path_factory.mktemp("sem") / "g.toml"
    path.write_text(GRAPH)
    ir = lower(load_graph(path))
    return ir, Interpreter(ir), compile_ir(ir)


def evaluate(backends, **row) -> list[dict]:
    """The outputs for one row from the interpreter, the compiled step and the compiled scan kernel."""
    ir, interp, cg = backends
    row = {**BASE, **row}
    cols = {k: np.array([v], dtype=np.float64 if k in "abc" else np.int64) for k, v in row.items()}
    batch = {k: v[0].item() for k, v in cg.batch(cols).items()}
    return [interp.step(row), cg.step(row), batch]


def check(backends, output: str, expected, **row) -> None:
    for result in evaluate(backends, **row):
        got = result[output]
        if isinstance(expected, float):
            assert bits(got) == bits(expected) or (math.isnan(got) and math.isnan(expected)), (output, row, got)
        else:
            assert got == expected and type(got) is type(expected), (output, row, got)


@pytest.mark.parametrize("a, b, mn, mx", [
    (NAN, 1.0, NAN, NAN),        # the first argument is kept against NaN
    (1.0, NAN, 1.0, 1.0),
    (0.0, -0.0, 0.0, 0.0),       # -0.0 < 0.0 is false: the first argument
    (-0.0, 0.0, -0.0, -0.0),
    (2.0, 3.0, 2.0, 3.0),
])
def test_min_max_python_rule(backends, a, b, mn, mx):
    check(backends, "mn", mn, a=a, b=b)
    check(backends, "mx", mx, a=a, b=b)


def test_min_max_signed_zero_bits(backends):
    for result in evaluate(backends, a=-0.0, b=0.0):
        assert bits(result["mn"]) == 0x8000000000000000 and bits(result["mx"]) == 0x8000000000000000


@pytest.mark.parametrize("a, expected", [(NAN, NAN), (-0.0, -0.0), (-3.0, 0.0), (0.25, 0.25), (7.0, 1.0)])
def test_clamp(backends, a, expected):
    check(backends, "clamp" + "ed", expected, a=a)


def test_cube_is_a_left_multiply_chain(backends):
    # 1.1**3 by hand: 1.1*1.1 = 1.2100000000000002 (0x3FF35C28F5C28F5D); times 1.1 = 1.3310000000000004
    check(backends, "cube", 1.3310000000000004, a=1.1)
    # and a*b*c is (a*b)*c: with a=1e308, b=10, c=0.1 the product a*b overflows first
    check(backends, "chain", math.inf, a=1e308, b=10.0, c=0.1)


def test_no_fused_multiply_add(backends):
    # a*b = 1 - 2**-60 exactly, which rounds to 1.0; + (-1) gives 0.0. A fused a*b+c would give -2**-60.
    check(backends, "fused", 0.0, a=1.0 + 2.0**-30, b=1.0 - 2.0**-30, c=-1.0)


@pytest.mark.parametrize("a, b, expected", [
    (1.0, 0.0, math.inf), (-1.0, 0.0, -math.inf), (1.0, -0.0, -math.inf), (-1.0, -0.0, math.inf),
    (0.0, 0.0, NAN), (NAN, 0.0, NAN), (1.0, 4.0, 0.25),
])
def test_division(backends, a, b, expected):
    check(backends, "q", expected, a=a, b=b)


def test_zero_over_zero_is_the_machines_default_nan(backends):
    ir, interp, cg = backends
    with np.errstate(invalid="ignore"):
        machine = np.array([0.0]) / np.array([0.0])  # the hardware's own answer
    assert bits(interp.step({**BASE, "a": 0.0, "b": 0.0})["q"]) == bits(machine[0])


def test_neg_and_abs_on_signs(backends):
    check(backends, "neg", -0.0, a=0.0)
    check(backends, "ab", 0.0, a=-0.0)
    for result in evaluate(backends, a=-0.0):
        assert bits(result["ab"]) == 0 and bits(result["neg"]) == 0


@pytest.mark.parametrize("a, fl, ce, tr", [
    (-0.5, -1, 0, 0), (2.5, 2, 3, 2), (-2.9, -3, -2, -2),
    (math.inf, INT64_MAX, INT64_MAX, INT64_MAX), (-math.inf, INT64_MIN, INT64_MIN, INT64_MIN),
    (NAN, 0, 0, 0), (2.0**63, INT64_MAX, INT64_MAX, INT64_MAX), (-(2.0**63), INT64_MIN, INT64_MIN, INT64_MIN),
    (1e300, INT64_MAX, INT64_MAX, INT64_MAX),
])
def test_floor_ceil_and_float_to_int_saturate(backends, a, fl, ce, tr):
    check(backends, "fl", fl, a=a)
    check(backends, "ce", ce, a=a)
    check(backends, "tr", tr, a=a)


def test_float_ceil_keeps_the_sign_of_zero(backends):
    """The IR's float64 ceil (inside `ceil(x)`): ceil(-0.5) is -0.0, seen through the trace of each backend."""
    ir, interp, cg = backends
    op = next(o for o in ir.ops if o.kind == "ceil")
    for trace in (interp.trace({**BASE, "a": -0.5}), cg.trace({**BASE, "a": -0.5})):
        assert bits(trace[op.id]) == 0x8000000000000000


@pytest.mark.parametrize("i, j, add, mul", [
    (INT64_MAX, 1, INT64_MIN, INT64_MAX),          # wraps around
    (INT64_MIN, -1, INT64_MAX, INT64_MIN),         # INT64_MIN * -1 wraps to itself
    (2**62, 4, 2**62 + 4, 0),                      # 2**64 wraps to 0
    (-7, 3, -4, -21),
])
def test_int64_wraps(backends, i, j, add, mul):
    check(backends, "iadd", add, i=i, j=j)
    check(backends, "imul", mul, i=i, j=j)


def test_int64_overflow_is_not_assumed_away(backends):
    """Numba's `add nsw` let LLVM rewrite abs(i - 1) as if i - 1 could not wrap (found by hypothesis):
    at i = INT64_MIN, i - 1 wraps to INT64_MAX, whose abs is INT64_MAX."""
    check(backends, "shifted_abs", INT64_MAX, i=INT64_MIN)
    check(backends, "shifted_abs", INT64_MIN, i=INT64_MIN + 1)  # i - 1 = INT64_MIN; abs wraps to itself


def test_int64_neg_and_abs_of_the_minimum(backends):
    check(backends, "ineg", INT64_MIN, i=INT64_MIN)
    check(backends, "iabs", INT64_MIN, i=INT64_MIN)
    check(backends, "iabs", 5, i=-5)


def test_int_to_float_rounds_to_nearest_even(backends):
    check(backends, "tofloat", 9007199254740992.0, i=2**53 + 1)   # 2**53 + 1 ties to even: 2**53
    check(backends, "tofloat", 9007199254740996.0, i=2**53 + 3)   # ties to even: 2**53 + 4
    check(backends, "tofloat", 9.223372036854775808e18, i=INT64_MAX)


def test_int_division_is_float_division(backends):
    check(backends, "idiv", 2.5, i=5, j=2)
    check(backends, "idiv", -math.inf, i=-1, j=0)


def test_enums(backends):
    check(backends, "high", True, e=2)
    check(backends, "high", False, e=1)
    for code, value in enumerate((1.5, 2.5, 3.5)):
        check(backends, "picked", value, e=code)


@pytest.mark.parametrize("p, expected", [(True, 1), (False, 0)])
def test_int_of_a_bool_is_one_or_zero(backends, p, expected):
    check(backends, "int_bool", expected, p=p)


def test_int_of_an_enum_is_its_code_typed_int64(backends):
    """int(e) is the position of e's name in the declaration (HIGH = 2), and an int64: an output
    `int(e)` is a number, not an enum name (it was the enum op itself, retyped only inside lowering)."""
    ir = backends[0]
    assert str(ir.output_type("int_enum")) == "int64" and ir.output_type("plus_enum").enum == ("LOW", "MID", "HIGH")
    for code in range(3):
        check(backends, "int_enum", code, e=code)
        check(backends, "int_enum_plus", code + 10, e=code)


@pytest.mark.parametrize("i", [INT64_MAX, INT64_MIN, 2**53 + 1, -7])
def test_floor_ceil_and_int_of_an_int_are_the_int_exactly(backends, i):
    """No round trip through float64: 2**53 + 1 would come back as 2**53, INT64_MAX as INT64_MAX + 1 saturated."""
    for output in ("floor_int", "ceil_int", "int_int"):
        check(backends, output, i, i=i)


def test_unary_plus_is_the_operand_itself(backends):
    check(backends, "plus_float", -0.0, a=-0.0)
    check(backends, "plus_float", NAN, a=NAN)
    check(backends, "plus_bool", True, p=True)  # a bool, where Python's +True is the int 1
    check(backends, "plus_enum", 2, e=2)
    ir = backends[0]
    assert dict(ir.outputs)["plus_float"] == next(op.id for op in ir.leaves("input") if op.name == "a")  # no op


@pytest.mark.parametrize("p", [True, False])
def test_true_and_false_are_the_bool_literals_in_expressions(backends, p):
    check(backends, "with_true", p, p=p)
    check(backends, "with_false", p, p=p)


@pytest.mark.parametrize("text, error", [
    ("p and true", "unknown name 'true'"),  # TOML's spelling is for values in the file, not expressions
    ("True + 1", "type error"),
    ("float(p)", "cannot use bool as a number"),
])
def test_bool_spellings_and_conversions_that_are_refused(write_graph, text, error):
    graph = '[graph]\nname = "g"\n[inputs]\np = { type = "bool" }\n[outputs]\ny = "' + text + '"\n'
    with pytest.raises(VioletError, match=error):
        lower(load_graph(write_graph(graph)))


NAN_GRAPH = """
[graph]
name = "nans"
[inputs]
x = {{ type = "float64" }}
[consts]
{first} = {first_value}
{second} = {second_value}
[params]
pn = -nan
[state]
sn = -nan
[outputs]
neg = "negative"
pos = "positive"
param = "pn"
state = "sn"
[next_state]
sn = "sn"
"""
QUIET_NAN = 0x7FF8000000000000


@pytest.mark.parametrize("first, first_value, second, second_value", [
    ("negative", "-nan", "positive", "nan"), ("positive", "+nan", "negative", "-nan")])
def test_a_nan_written_in_a_graph_file_is_the_one_quiet_nan(write_graph, first, first_value, second, second_value):
    """`-nan`, `nan` and `+nan` (a const, a parameter default, a state's initial value) are all
    0x7FF8000000000000: one IR constant and one content hash whichever the file writes first, and
    exactly those bits out of the interpreter, the step kernel and the scan kernel."""
    ir = lower(load_graph(write_graph(NAN_GRAPH.format(first=first, first_value=first_value, second=second,
                                                        second_value=second_value))))
    consts = [op for op in ir.ops if op.kind == "const"]
    assert len(consts) == 1 and bits(consts[0].value) == QUIET_NAN
    assert ir.content_hash == lower(load_graph(write_graph(NAN_GRAPH.format(
        first="negative", first_value="-nan", second="positive", second_value="nan"), "other.toml"))).content_hash
    cg = compile_ir(ir)
    results = [Interpreter(ir).step({"x": 1.0}), cg.step({"x": 1.0}),
               {k: v[0].item() for k, v in cg.batch({"x": np.array([1.0])}).items()}]
    for result in results:
        assert {name: bits(value) for name, value in result.items()} == dict.fromkeys(result, QUIET_NAN), result


# ---------------------------------------------------------------- sqrt

TINY = 5e-324  # 2**-1074, whose root 2**-537 is exact


@pytest.mark.parametrize("x, expected", [
    (2.0, 0x3FF6A09E667F3BCD),  # sqrt(2) = 1.4142135623730951, correctly rounded
    (4.0, 0x4000000000000000), (0.25, 0x3FE0000000000000),
    (0.0, 0x0000000000000000), (-0.0, 0x8000000000000000),  # the sign of zero is kept
    (TINY, 0x1E60000000000000), (math.inf, 0x7FF0000000000000),
    (1.7976931348623157e308, 0x5FEFFFFFFFFFFFFF),  # sqrt of the largest float, 1.3407807929942596e154
])
def test_sqrt_by_hand(backends, x, expected):
    for result in evaluate(backends, a=x):
        assert bits(result["root"]) == expected, (x, result["root"])


@pytest.mark.parametrize("x", [-1.0, -TINY, -math.inf, NAN])
def test_sqrt_below_minus_zero_and_of_nan_is_nan(backends, x):
    check(backends, "root", NAN, a=x)
    if x < 0:  # where math.sqrt raises, the interpreter gives the machine's default NaN
        assert bits(backends[1].step({**BASE, "a": x})["root"]) == bits(DEFAULT_NAN)


def test_sqrt_is_bit_identical_to_math_and_numpy(backends):
    ir, interp, cg = backends
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.uniform(0.0, 10.0, 300), np.exp(rng.uniform(-700.0, 700.0, 300)),
                             rng.integers(1, 2**62, 200, dtype=np.int64).view(np.float64)])  # random bit patterns
    want = np.array([bits(math.sqrt(x)) for x in values], dtype=np.uint64)
    assert np.array_equal(np.sqrt(values).view(np.uint64), want)
    cols = {k: np.full(len(values), v, dtype=np.float64 if k in "abc" else np.int64) for k, v in BASE.items()}
    assert np.array_equal(cg.batch({**cols, "a": values})["root"].view(np.uint64), want)  # the scan kernel
    for x, w in zip(values[::8], want[::8]):  # the interpreter and the step kernel, a row at a time
        assert bits(interp.step({**BASE, "a": x})["root"]) == w == bits(cg.step({**BASE, "a": x})["root"])


def test_the_kernels_call_np_sqrt_without_fastmath(backends):
    text = generate(backends[0])
    assert "np.sqrt(" in text and "fastmath" not in text
