"""exp, log, log1p, expm1, tanh, pow: the C library's functions on float64 (docs/semantics.md,
"Transcendental functions").

None is correctly rounded, so each is defined as what the platform's C library computes: the function
CPython's `math` module calls (glibc's libm), giving `math`'s own bits where `math` returns and the IEEE
value the library returns where `math` raises (exp(1000.0) = inf, log(0.0) = -inf, log(-1.0) = NaN). The
interpreter calls it through ctypes and the kernels at the same address (`numba_intrinsics.c_exp`, ...),
so nothing of LLVM's (folding, vectorising, rewriting pow) comes between. Bit identity holds per platform.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from violet.compile.interval import INF, Interval
from violet.compile.ops.spec import OpSpec, Refusal, by_dtype, names
from violet.compile.semantics import C_MATH
from violet.dag.types import F64, DType, ValueType

if TYPE_CHECKING:
    from violet.compile.ir import Op

# glibc documents errors of up to 2 ULPs for these functions (tanh), and a function that is not correctly
# rounded need not be monotone to the last bit: an interval's ends are pushed out by this many ULPs
SLACK_ULPS = 4

# op -> (lowest argument it is defined at, NaN below; the least and the greatest value it takes)
SHAPE: dict[str, tuple[float, float, float]] = {
    "exp": (-INF, 0.0, INF), "expm1": (-INF, -1.0, INF), "tanh": (-INF, -1.0, 1.0),
    "log": (0.0, -INF, INF), "log1p": (-1.0, -INF, INF),
}

ONLY_NAN = Interval(INF, -INF, True)


def float_type(kind: str, args: list[ValueType]) -> ValueType | str:
    if all(a.dtype == DType.F64 and not a.is_enum for a in args):
        return F64
    return f"'{kind}' takes float64, got {names(args)}: write a float literal (2.0) or convert with float(x)"


def outward(x: float, toward: float) -> float:
    """x moved SLACK_ULPS floats toward `toward` (an infinity stays)."""
    for _ in range(SLACK_ULPS):
        x = math.nextafter(x, toward)
    return x


def interval_monotone(op: Op, a: list[Interval]) -> Interval:
    """An increasing function by its ends, pushed out by SLACK_ULPS and kept inside the values it takes;
    NaN where the argument can be NaN or below the function's domain (log of a negative number)."""
    x, fn = a[0], C_MATH[op.kind]
    domain, least, greatest = SHAPE[op.kind]
    if x.empty or x.hi < domain:
        return ONLY_NAN
    lo = fn(max(x.lo, domain))
    return Interval(max(least, outward(lo, -INF)), min(greatest, outward(fn(x.hi), INF)), x.nan or x.lo < domain)


def interval_pow(op: Op, a: list[Interval]) -> Interval:
    """pow(x, y) for x above zero is monotone in x and in y, so bounded by the corners; otherwise (a zero
    of either sign, a negative x: pow(-0.0, -1.0) = -inf, pow(-8.0, 1/3) = NaN) any number or NaN."""
    x, y = a
    if x.empty or y.empty or x.lo <= 0.0:
        return Interval(-INF, INF, True)
    corners = [C_MATH["pow"](p, q) for p in (x.lo, x.hi) for q in (y.lo, y.hi)]
    return Interval(max(0.0, outward(min(corners), -INF)), outward(max(corners), INF), x.nan or y.nan)


def refusal(kind: str) -> Refusal:
    return Refusal(f"{kind} is the C library's, not correctly rounded, and VIOLET has no documented fixed-point "
              "approximation of it with a proven error bound: compute it outside the hardware graph (as an input)")


def _unary(kind: str, meaning: str) -> OpSpec:
    return OpSpec(kind, 1, meaning, float_type, by_dtype(f64=C_MATH[kind]), lambda op, a: f"c_{kind}({a[0]})",
                  interval_monotone, refusal(kind), refusal(kind), builtin=kind,
                  numba_helper=f"\nfrom violet.compile.numba_intrinsics import c_{kind}\n")


OPS = (
    _unary("exp", "e**x, the C library's exp: exp(-inf) = 0, inf past 709.78 where math.exp raises"),
    _unary("log", "natural log, the C library's: log(+-0.0) = -inf, NaN below zero where math.log raises"),
    _unary("log1p", "log(1 + x), the C library's log1p: log1p(-1.0) = -inf, NaN below -1"),
    _unary("expm1", "e**x - 1, the C library's expm1: expm1(-0.0) = -0.0, inf on overflow"),
    _unary("tanh", "hyperbolic tangent, the C library's tanh: tanh(+-inf) = +-1"),
    OpSpec("pow", 2, "x**y, the C library's pow (C99 Annex F): pow(x, 0.0) = 1 even for NaN x", float_type,
           by_dtype(f64=C_MATH["pow"]), lambda op, a: f"c_pow({a[0]}, {a[1]})", interval_pow, refusal("pow"),
           refusal("pow"), builtin="pow", numba_helper="\nfrom violet.compile.numba_intrinsics import c_pow\n"),
)
