"""Conversions and rounding to integers: floor, ceil (float64 -> float64), f2i, i2f
(docs/semantics.md, "Conversions and rounding to integers"). In fixed point and
hardware each is a shift by the fractional bits."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from violet.compile import semantics as sem
from violet.compile.interval import Interval, point
from violet.compile.netlist import LUT, WIRING, Expr, carry
from violet.compile.ops.spec import OpSpec, by_dtype, jitted, names
from violet.compile.qformat import Fmt, saturate
from violet.dag.types import F64, I64, DType, ValueType

if TYPE_CHECKING:
    from violet.compile.ir import Op
    from violet.compile.verilog import Builder

SOURCE = {"floor": DType.F64, "ceil": DType.F64, "f2i": DType.F64, "i2f": DType.I64}
RESULT = {"floor": F64, "ceil": F64, "f2i": I64, "i2f": F64}


def convert_type(kind: str, args: list[ValueType]) -> ValueType | str:
    want = SOURCE[kind]
    return RESULT[kind] if [a.dtype for a in args] == [want] else f"'{kind}' needs {want.value}, got {names(args)}"


def interval_integral(op: Op, a: list[Interval]) -> Interval:
    """floor and ceil are monotone: the ends rounded (infinities kept)."""
    x = a[0]
    if x.empty:
        return x
    fn = math.floor if op.kind == "floor" else math.ceil
    return Interval(*(float(fn(v)) if math.isfinite(v) else v for v in (x.lo, x.hi)), x.nan)


def interval_f2i(op: Op, a: list[Interval]) -> Interval:
    """f2i is monotone (truncation, saturation at the bounds); NaN gives 0."""
    x = a[0]
    if x.empty:
        return Interval(0, 0)
    interval = Interval(sem.f2i(x.lo), sem.f2i(x.hi))
    return interval.union(point(0)) if x.nan else interval


def interval_i2f(op: Op, a: list[Interval]) -> Interval:
    x = a[0]
    return x if x.empty else Interval(float(x.lo), float(x.hi))


def rescale(kind: str, x: int, n: int) -> int:
    """floor, ceil (to a multiple of 2**n) or f2i (truncate toward zero) of a raw value with n fractional bits."""
    if kind == "floor":
        return (x >> n) << n
    if kind == "ceil":
        return -(((-x) >> n) << n)
    return -((-x) >> n) if x < 0 else x >> n


def fixed_rescale(op: Op, a: list[int], fa: list[Fmt], out: Fmt) -> int:
    if op.kind == "i2f":
        return saturate(a[0] << out.frac_bits, out)
    return saturate(rescale(op.kind, a[0], fa[0].frac_bits), out)


def verilog_rescale(em: Builder, op: Op) -> None:
    """Shifts by the fractional bits: i2f left; floor, ceil and f2i (toward zero) right. A ceil (and an
    f2i of a negative value) is floor((x + 2**n - 1) / 2**n), one carry chain; an f2i of a value proven
    non-negative only drops its fraction."""
    i, k, src = op.args[0], op.kind, em.fmt(op.args[0])
    if k == "i2f":
        n = em.fmt(op.id).frac_bits
        width = src.width + n
        t = em.decl(em.name("t", op.id), width, Expr(em.ext(i, width), f" <<< {n}"), delay=WIRING)
        em.fit(op, t, src.lo << n, src.hi << n, width)
        return
    n, width = src.frac_bits, src.width + 1
    x = em.ext(i, width)
    up = Expr("((", x, " + ", em.const((1 << n) - 1, width), f") >>> {n})")  # ceil(x / 2**n)
    down = Expr("(", x, f" >>> {n})")
    expr, delay = {"floor": (Expr(down, f" <<< {n}"), WIRING), "ceil": (Expr(up, f" <<< {n}"), carry(width)),
                   "f2i": (Expr("(", x, " < ", em.const(0, width), ") ? ", up, " : ", down), carry(width) + LUT)}[k]
    if k == "f2i" and em.model.raw_bounds(i)[0] >= 0:
        expr, delay = down, WIRING
    t = em.decl(em.name("t", op.id), width, expr, delay=delay)
    ends = [rescale(k, e, n) for e in (src.lo, src.hi)]
    em.fit(op, t, min(ends), max(ends), width)


OPS = (
    OpSpec("floor", 1, "IEEE floor in float64: +-inf and NaN unchanged, a zero keeps x's sign", convert_type,
           by_dtype(f64=sem.ffloor), lambda op, a: f"np.floor({a[0]})", interval_integral, fixed_rescale,
           verilog_rescale),
    OpSpec("ceil", 1, "IEEE ceil in float64: +-inf and NaN unchanged, a zero keeps x's sign", convert_type,
           by_dtype(f64=sem.fceil), lambda op, a: f"np.ceil({a[0]})", interval_integral, fixed_rescale,
           verilog_rescale),
    OpSpec("i2f", 1, "int64 -> float64, round to nearest even", convert_type, by_dtype(i64=float),
           lambda op, a: f"float({a[0]})", interval_i2f, fixed_rescale, verilog_rescale),
    OpSpec("f2i", 1, "float64 -> int64: truncate toward zero, saturate, NaN -> 0", convert_type,
           by_dtype(f64=sem.f2i), lambda op, a: f"f2i({a[0]})", interval_f2i, fixed_rescale, verilog_rescale,
           numba_helper=jitted(sem.f2i, inline=True)),
)
