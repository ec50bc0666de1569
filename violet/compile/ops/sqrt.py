"""sqrt: the IEEE square root of a float64, correctly rounded (docs/semantics.md, "Square root").

In float64 it is Python's `math.sqrt` and LLVM's sqrt (`np.sqrt` in the kernels), both correctly
rounded, so bit-identical; where Python raises (x < 0) it is the machine's default NaN. In fixed point
it is an exact integer square root rounded to nearest (docs/hdl.md), built in hardware digit by digit.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from violet.compile import semantics as sem
from violet.compile.interval import INF, Interval
from violet.compile.netlist import Expr, carry
from violet.compile.ops.spec import OpSpec, by_dtype, names
from violet.compile.qformat import Fmt, saturate
from violet.dag.types import F64, DType, ValueType

if TYPE_CHECKING:
    from violet.compile.ir import Op
    from violet.compile.verilog import Builder


def fsqrt(x: float) -> float:
    """sqrt(x): -0.0 for -0.0, inf for inf, NaN for NaN, and the machine's default NaN below -0.0."""
    return sem.DEFAULT_NAN if x < 0.0 else math.sqrt(x)


def sqrt_type(kind: str, args: list[ValueType]) -> ValueType | str:
    return F64 if [a.dtype for a in args] == [DType.F64] else f"'sqrt' needs float64, got {names(args)}"


def interval_sqrt(op: Op, a: list[Interval]) -> Interval:
    """Monotone on [-0.0, inf]; NaN where the interval reaches below -0.0 (only NaN if it lies there)."""
    x = a[0]
    if x.empty or x.hi < 0.0:
        return Interval(INF, -INF, True)
    return Interval(math.sqrt(max(x.lo, 0.0)), math.sqrt(x.hi), x.nan or x.lo < 0.0)


def round_sqrt(r: int) -> int:
    """sqrt(r) of an integer r >= 0, rounded to nearest: isqrt(r), plus one when r - s*s > s (the root is
    then above s + 1/2; it is never exactly there, since (s + 1/2)**2 is no integer)."""
    s = math.isqrt(r)
    return s + (r - s * s > s)


def fixed_sqrt(op: Op, a: list[int], fa: list[Fmt], out: Fmt) -> int:
    """x = raw / 2**n, so sqrt(x) * 2**n = sqrt(raw * 2**n): one rounding, to nearest. A negative x
    (NaN in float64) gives 0: fixed point has no NaN. (Float values share one precision n.)"""
    return saturate(round_sqrt(max(a[0], 0) << out.frac_bits), out)


def verilog_sqrt(em: Builder, op: Op) -> None:
    """A combinational digit-by-digit square root of r = max(x, 0) << n: per digit, from the top, the
    bit b = 4**j is taken when rest >= root + b (rest -= root + b, root = root / 2 + b), else root / 2.
    Then root = isqrt(r), rest = r - root**2, and one is added when rest > root (round to nearest)."""
    x, src, n = op.args[0], em.fmt(op.args[0]), em.fmt(op.args[0]).frac_bits
    top = max(src.hi, 0) << n
    steps = max(1, (top.bit_length() + 1) // 2)
    width = top.bit_length() + 3
    zero = em.const(0, width)
    rest = em.decl(f"{em.name('sr', op.id)}_0", width, Expr("(", em.ref(x), " < ", em.const(0, src.width), ") ? ",
                                                           zero, " : (", em.ext(x, width), f" <<< {n})"))
    root = em.decl(f"{em.name('sq', op.id)}_0", width, zero)
    for j in range(steps):
        bit = em.const(1 << (2 * (steps - 1 - j)), width)
        take = em.decl(f"{em.name('sg', op.id)}_{j}", 1, Expr(rest, " >= ", root, " + ", bit), signed=False,
                       delay=2 * carry(width))
        rest, root = (em.decl(f"{em.name('sr', op.id)}_{j + 1}", width,
                              Expr(take, " ? ", rest, " - (", root, " + ", bit, ") : ", rest), delay=carry(width)),
                      em.decl(f"{em.name('sq', op.id)}_{j + 1}", width,
                              Expr(take, " ? (", root, " >>> 1) + ", bit, " : (", root, " >>> 1)"), delay=carry(width)))
    em.counts["comparators"] += steps
    t = em.decl(em.name("t", op.id), width, Expr(root, " + ((", rest, " > ", root, ") ? ", em.const(1, width), " : ",
                                                 zero, ")"), delay=2 * carry(width))
    em.fit(op, t, 0, round_sqrt(top), width)


OPS = (
    OpSpec("sqrt", 1, "IEEE square root, correctly rounded: sqrt(-0.0) = -0.0, NaN below -0.0", sqrt_type,
           by_dtype(f64=fsqrt), lambda op, a: f"np.sqrt({a[0]})", interval_sqrt, fixed_sqrt, verilog_sqrt,
           builtin="sqrt"),
)
