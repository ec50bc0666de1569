"""isnan, isfinite, sign, copysign, and int64 floor division and modulo (docs/semantics.md, "Sign and NaN
tests", and `//` and `%` under "Arithmetic").

Each is exact: its definition is a function of `violet.compile.semantics`, which the interpreter runs and
the kernels compile from its own source. In fixed point there is no NaN, no infinity and no -0.0
(docs/hdl.md): isnan is false, isfinite true, and copysign takes y's sign from y < 0.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from violet.compile import semantics as sem
from violet.compile.interval import BOOL as BOOL_INTERVAL
from violet.compile.interval import Interval, wrapped
from violet.compile.netlist import LUT, WIRING, Expr, carry
from violet.compile.ops.spec import OpSpec, by_dtype, jitted, names
from violet.compile.qformat import Fmt, saturate
from violet.dag.types import BOOL, F64, I64, DType, ValueType

if TYPE_CHECKING:
    from violet.compile.ir import Op
    from violet.compile.verilog import Builder

SYMBOL = {"floordiv": "//", "mod": "%"}


def nan_test_type(kind: str, args: list[ValueType]) -> ValueType | str:
    return BOOL if args == [F64] else f"'{kind}' takes a float64, got {names(args)}"


def sign_type(kind: str, args: list[ValueType]) -> ValueType | str:
    if args in ([F64], [I64]):
        return args[0]
    return f"'sign' takes a float64 or an int64, got {names(args)}"


def copysign_type(kind: str, args: list[ValueType]) -> ValueType | str:
    return F64 if args == [F64, F64] else f"'copysign' takes two float64, got {names(args)}"


def division_type(kind: str, args: list[ValueType]) -> ValueType | str:
    if args == [I64, I64]:
        return I64
    instead = "floor(a / b)" if kind == "floordiv" else "a - b * floor(a / b)"
    return f"'{SYMBOL[kind]}' is int64 floor division, got {names(args)}: for float64 write {instead}"


# ---------------------------------------------------------------- intervals


def interval_sign(op: Op, a: list[Interval]) -> Interval:
    """-1, 0 and 1 as the argument reaches below, at and above zero (a zero passes through as itself)."""
    x = a[0]
    if x.empty:
        return x
    lo = -1 if x.lo < 0 else (0 if x.lo == 0 else 1)
    hi = 1 if x.hi > 0 else (0 if x.hi == 0 else -1)
    return Interval(float(lo), float(hi), x.nan) if op.type.dtype == DType.F64 else Interval(lo, hi)


def interval_copysign(op: Op, a: list[Interval]) -> Interval:
    """|x| with y's sign: the magnitudes of x, negated where y can be negative or -0.0 (y.lo <= 0), as they
    are where y can be positive, +0.0 or NaN."""
    x, y = a
    if x.empty:
        return x
    small = 0.0 if x.lo <= 0.0 <= x.hi else min(abs(x.lo), abs(x.hi))
    big = max(abs(x.lo), abs(x.hi))
    lo = -big if not y.empty and y.lo <= 0.0 else small
    hi = big if y.empty or y.nan or y.hi >= 0.0 else -small
    return Interval(lo, hi, x.nan)


def interval_division(op: Op, a: list[Interval]) -> Interval:
    """By the divisor's pieces: negative, zero (a // 0 is 0, a % 0 is a) and positive. On a piece of one
    sign a // b is monotone in a and in b, so bounded by the corners (exact, then wrapped: INT64_MIN // -1
    leaves int64); a % b lies between 0 and b's far end, or between 0 and a where a cannot reach b."""
    x, y = a
    parts = []
    if y.lo <= 0 <= y.hi:
        parts.append(Interval(0, 0) if op.kind == "floordiv" else x)
    for lo, hi in ((y.lo, min(y.hi, -1)), (max(y.lo, 1), y.hi)):
        if lo <= hi:
            parts.append(_floordiv_piece(x, lo, hi) if op.kind == "floordiv" else _mod_piece(x, lo, hi))
    result = parts[0]
    for part in parts[1:]:
        result = result.union(part)
    return wrapped(result, DType.I64)


def _floordiv_piece(x: Interval, lo: int, hi: int) -> Interval:
    corners = [p // q for p in (x.lo, x.hi) for q in (lo, hi)]
    return Interval(min(corners), max(corners))


def _mod_piece(x: Interval, lo: int, hi: int) -> Interval:
    """a % b for b in [lo, hi], all of one sign."""
    if lo > 0:
        return Interval(0, min(hi - 1, x.hi) if x.lo >= 0 else hi - 1)
    return Interval(max(lo + 1, x.lo) if x.hi <= 0 else lo + 1, 0)


# ---------------------------------------------------------------- fixed point and Verilog


def fixed_test(op: Op, a: list[int], fa: list[Fmt], out: Fmt) -> int:
    """A fixed-point value is always a finite number."""
    return int(op.kind == "isfinite")


def fixed_sign(op: Op, a: list[int], fa: list[Fmt], out: Fmt) -> int:
    return saturate(sem.isign(a[0]) << out.frac_bits, out)


def fixed_copysign(op: Op, a: list[int], fa: list[Fmt], out: Fmt) -> int:
    return saturate(-abs(a[0]) if a[1] < 0 else abs(a[0]), out)


def fixed_division(op: Op, a: list[int], fa: list[Fmt], out: Fmt) -> int:
    fn = sem.floordiv if op.kind == "floordiv" else sem.mod
    return saturate(fn(a[0], a[1]), out)


def verilog_test(em: Builder, op: Op) -> None:
    em.decl(em.name("v", op.id), 1, "1'b1" if op.kind == "isfinite" else "1'b0", signed=False, delay=WIRING)


def verilog_sign(em: Builder, op: Op) -> None:
    """Two comparators choosing 1, -1 or 0 (scaled by the result's fractional bits)."""
    src, one = em.fmt(op.args[0]), 1 << em.fmt(op.id).frac_bits
    width = one.bit_length() + 1
    x, zero = em.ref(op.args[0]), em.const(0, src.width)
    em.counts["comparators"] += 2
    t = em.decl(em.name("t", op.id), width, Expr("(", x, " > ", zero, ") ? ", em.const(one, width), " : (", x, " < ",
                                                 zero, ") ? ", em.const(-one, width), " : ", em.const(0, width)),
                delay=carry(src.width) + LUT)
    em.fit(op, t, -one, one, width)


def verilog_copysign(em: Builder, op: Op) -> None:
    """|x|, negated when y < 0, one bit wider than x (|x| of x's lowest value needs it)."""
    (x, y), src = op.args, em.fmt(op.args[0])
    width = src.width + 1
    xe, zero = em.ext(x, width), em.const(0, width)
    magnitude = Expr("((", xe, " < ", zero, ") ? -", xe, " : ", xe, ")")
    em.counts["comparators"] += 2
    t = em.decl(em.name("t", op.id), width, Expr("(", em.ref(y), " < ", em.const(0, em.fmt(y).width), ") ? -",
                                                 magnitude, " : ", magnitude), delay=2 * carry(width) + LUT)
    big = max(-src.lo, src.hi)
    em.fit(op, t, -big, big, width)


def verilog_division(em: Builder, op: Op) -> None:
    """|a| divided by |b| by restoring division (`Builder.long_division`, a cell per quotient bit), the
    truncated quotient and remainder given their signs (a's sign times b's, and a's), then floored (the
    remainder moved to b's sign, the quotient one down) when the remainder is nonzero and its sign differs
    from b's; b = 0 gives a // 0 = 0, a % 0 = a."""
    (a, b), f, i = op.args, [em.fmt(x) for x in op.args], op.id
    w = max(f[0].width, f[1].width) + 1
    an, bn, zero, one = em.ext(a, w), em.ext(b, w), em.const(0, w), em.const(1, w)
    em.counts["dividers"] += 1
    mags = [em.decl(em.name(f"ma{k}_", i), w, Expr("(", x, " < ", zero, ") ? -", x, " : ", x), delay=carry(w) + LUT)
            for k, x in enumerate((an, bn))]
    ua, ub = (em.decl(em.name(f"mu{k}_", i), f[k].width, m.bits(f[k].width - 1, 0), signed=False, delay=WIRING)
              for k, m in enumerate(mags))  # |a| <= 2**(wa - 1): wa bits, unsigned
    uq, ur, _ = em.long_division(em.name("dv", i), ua, f[0].width, ub, f[1].width, f[0].width)
    sa, sb = em.ref(a), em.ref(b)
    negative_a = Expr("(", sa, " < ", em.const(0, f[0].width), ")")
    negative_q = Expr("(", negative_a, " != (", sb, " < ", em.const(0, f[1].width), "))")
    qm = Expr("$signed({", f"{w - f[0].width}'d0, ", uq, "})")
    rm = Expr("$signed({", f"{w - f[1].width}'d0, ", ur, "})")
    q = em.decl(em.name("q", i), w, Expr("(", bn, " == ", zero, ") ? ", zero, " : ", negative_q, " ? -", qm, " : ", qm),
                delay=carry(w) + LUT)
    r = em.decl(em.name("r", i), w, Expr("(", bn, " == ", zero, ") ? ", an, " : ", negative_a, " ? -", rm, " : ", rm),
                delay=carry(w) + LUT)
    fl = em.decl(em.name("fl", i), 1, Expr("(", bn, " != ", zero, ") && (", r, " != ", zero, ") && ((", r, " < ",
                                           zero, ") != (", bn, " < ", zero, "))"), signed=False, delay=carry(w))
    if op.kind == "floordiv":
        t = em.decl(em.name("t", i), w, Expr(fl, " ? ", q, " - ", one, " : ", q), delay=carry(w))
        big = max(-f[0].lo, f[0].hi)
        em.fit(op, t, -big, big, w)
        return
    t = em.decl(em.name("t", i), w, Expr(fl, " ? ", r, " + ", bn, " : ", r), delay=carry(w))
    em.fit(op, t, min(f[0].lo, f[1].lo, 0), max(f[0].hi, f[1].hi, 0), w)


# ---------------------------------------------------------------- the ops


def _render(fn: Any) -> Any:
    return lambda op, a: f"{fn.__name__}({', '.join(a)})"


def numba_sign(op: Op, a: list[str]) -> str:
    return f"{'fsign' if op.type.dtype == DType.F64 else 'isign'}({a[0]})"


OPS = (
    OpSpec("isnan", 1, "true if x is NaN", nan_test_type, by_dtype(f64=math.isnan), lambda op, a: f"np.isnan({a[0]})",
           lambda op, a: BOOL_INTERVAL, fixed_test, verilog_test, builtin="isnan"),
    OpSpec("isfinite", 1, "true if x is neither NaN nor +-inf", nan_test_type, by_dtype(f64=math.isfinite),
           lambda op, a: f"np.isfinite({a[0]})", lambda op, a: BOOL_INTERVAL, fixed_test, verilog_test,
           builtin="isfinite"),
    OpSpec("sign", 1, "1 above zero, -1 below, else x itself (+-0.0 and NaN pass through); int64 -1/0/1",
           sign_type, by_dtype(f64=sem.fsign, i64=sem.isign), numba_sign, interval_sign, fixed_sign, verilog_sign,
           builtin="sign", numba_helper=jitted(sem.fsign, inline=True) + jitted(sem.isign, inline=True)),
    OpSpec("copysign", 2, "x's magnitude with y's sign; a NaN y gives abs(x) (a NaN's sign is no value)",
           copysign_type, by_dtype(f64=sem.fcopysign), _render(sem.fcopysign), interval_copysign, fixed_copysign,
           verilog_copysign, builtin="copysign", numba_helper=jitted(sem.fcopysign, inline=True)),
    OpSpec("floordiv", 2, "a // b on int64: Python's floor; a // 0 = 0, INT64_MIN // -1 = INT64_MIN",
           division_type, by_dtype(i64=sem.floordiv), _render(sem.floordiv), interval_division, fixed_division,
           verilog_division, numba_helper=jitted(sem.floordiv, inline=True)),
    OpSpec("mod", 2, "a % b on int64: Python's, the sign of b; a % 0 = a, so a == b * (a // b) + a % b",
           division_type, by_dtype(i64=sem.mod), _render(sem.mod), interval_division, fixed_division,
           verilog_division, numba_helper=jitted(sem.mod, inline=True)),
)
