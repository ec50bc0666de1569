"""Arithmetic: add, sub, mul, div, min, max, neg, abs (docs/semantics.md, "Arithmetic").

float64 follows IEEE with one rounding per op; int64 wraps modulo 2**64, which
the Numba rendering gets from the wrapping intrinsics (no `nsw` for LLVM to
exploit); `div` is float64 only.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from violet.compile import semantics as sem
from violet.compile.interval import INF, Interval, wrapped
from violet.compile.netlist import LUT, SHIFT_ADD_DIGITS, WIRING, Expr, carry, lookup
from violet.compile.ops.spec import Fn, OpSpec, by_dtype, names
from violet.compile.qformat import Fmt, divide, divider_width, reciprocal, saturate, shift_round, signed_digits
from violet.dag.types import F64, I64, DType, ValueType

if TYPE_CHECKING:
    from violet.compile.ir import Op
    from violet.compile.verilog import Builder


def arith_type(kind: str, args: list[ValueType]) -> ValueType | str:
    """Two float64 or two int64 operands (never bool or enum); `div` takes float64 only."""
    dts = {a.dtype for a in args}
    if any(a.is_enum for a in args):
        return f"'{kind}' is not defined on enums"
    if len(dts) != 1 or DType.BOOL in dts:
        return f"'{kind}' needs two float64 or two int64 operands, got {names(args)}"
    if kind == "div" and dts != {DType.F64}:
        return "'div' is float64 division: convert int64 operands with float(x)"
    return F64 if dts == {DType.F64} else I64


# ---------------------------------------------------------------- Numba


def numba_infix(symbol: str, wrapping: str = "") -> Any:
    """`a <symbol> b`, or the wrapping intrinsic on int64 (Numba's `+` carries `nsw`)."""

    def render(op: Op, a: list[str]) -> str:
        if wrapping and op.type.dtype == DType.I64:
            return f"{wrapping}({', '.join(a)})"
        return f" {symbol} ".join(a) if len(a) == 2 else f"{symbol}{a[0]}"

    return render


def numba_pick(cmp: str) -> Any:
    """min/max: Python's rule, `b if b < a else a` (the first argument kept on a tie or NaN)."""
    return lambda op, a: f"{a[1]} if {a[1]} {cmp} {a[0]} else {a[0]}"


def numba_abs(op: Op, a: list[str]) -> str:
    return f"wrapping_abs({a[0]})" if op.type.dtype == DType.I64 else f"abs({a[0]})"


# ---------------------------------------------------------------- intervals


def interval_arith(op: Op, a: list[Interval]) -> Interval:
    """Corners of the box in float64 (round to nearest is monotone), NaN where one can be born."""
    x, y, kind, dtype = a[0], a[1], op.kind, op.type.dtype
    if x.empty or y.empty:
        return Interval(INF, -INF, x.nan or y.nan)
    if kind == "div" and y.lo <= 0.0 <= y.hi:  # a zero divisor: +-inf, and NaN from 0/0
        return Interval(-INF, INF, dtype == DType.F64 and (x.nan or y.nan or x.lo <= 0.0 <= x.hi))
    fn = {"add": lambda p, q: p + q, "sub": lambda p, q: p - q, "mul": lambda p, q: p * q,
          "div": lambda p, q: p / q}[kind]
    corners = [fn(p, q) for p in (x.lo, x.hi) for q in (y.lo, y.hi)]
    nan = x.nan or y.nan or any(math.isnan(c) for c in corners) or _inf_times_zero(kind, x, y)
    numbers = [c for c in corners if not math.isnan(c)] or [0.0]
    return wrapped(Interval(min(numbers), max(numbers), nan and dtype == DType.F64), dtype)


def _inf_times_zero(kind: str, x: Interval, y: Interval) -> bool:
    """A zero inside one factor and an infinity at the end of the other: 0 * inf is NaN
    even where no corner shows it."""
    if kind != "mul":
        return False
    has_zero = lambda i: i.lo <= 0.0 <= i.hi  # noqa: E731
    has_inf = lambda i: math.isinf(i.lo) or math.isinf(i.hi)  # noqa: E731
    return (has_zero(x) and has_inf(y)) or (has_inf(x) and has_zero(y))


def interval_pick(op: Op, a: list[Interval]) -> Interval:
    """min(x, y) = y if y < x else x: a NaN first argument is kept, a NaN second one is never taken."""
    x, y = a
    pick = min if op.kind == "min" else max
    if x.empty or y.empty:  # x only NaN: the result is x; y only NaN: never taken
        return x
    lo, hi = pick(x.lo, y.lo), pick(x.hi, y.hi)
    if y.nan:  # y may be NaN, then the result is x unchanged
        lo, hi = min(lo, x.lo), max(hi, x.hi)
    return Interval(lo, hi, x.nan)


def interval_neg(op: Op, a: list[Interval]) -> Interval:
    x = a[0]
    return x if x.empty else wrapped(Interval(-x.hi, -x.lo, x.nan), op.type.dtype)


def interval_abs(op: Op, a: list[Interval]) -> Interval:
    x = a[0]
    if x.empty:
        return x
    lo = 0 if x.lo <= 0 <= x.hi else min(abs(x.lo), abs(x.hi))
    return wrapped(Interval(lo, max(abs(x.lo), abs(x.hi)), x.nan), op.type.dtype)


# ---------------------------------------------------------------- fixed point


def fixed_add(op: Op, a: list[int], fa: list[Fmt], out: Fmt) -> int:
    return saturate(a[0] + a[1] if op.kind == "add" else a[0] - a[1], out)


def fixed_mul(op: Op, a: list[int], fa: list[Fmt], out: Fmt) -> int:
    return saturate(shift_round(a[0] * a[1], fa[1].frac_bits), out)


def fixed_div(op: Op, a: list[int], fa: list[Fmt], out: Fmt) -> int:
    return saturate(divide(a[0] << fa[1].frac_bits, a[1], out), out)


def fixed_pick(op: Op, a: list[int], fa: list[Fmt], out: Fmt) -> int:
    """The pick, fitted to its format as the hardware's `fit` does: a no-op where the ranges are proven,
    but a value only NaN in float64 (`sqrt(-2.5)`, then `min` of it) has no proven number (`Q0.0`)."""
    return saturate(sem.vmin(a[0], a[1]) if op.kind == "min" else sem.vmax(a[0], a[1]), out)


def fixed_neg(op: Op, a: list[int], fa: list[Fmt], out: Fmt) -> int:
    return saturate(-a[0] if op.kind == "neg" else abs(a[0]), out)


# ---------------------------------------------------------------- Verilog


def verilog_add(em: Builder, op: Op) -> None:
    """An adder one bit wider than the wider operand, then fit."""
    a, f, k = op.args, [em.fmt(x) for x in op.args], op.kind
    width = max(f[0].width, f[1].width) + 1
    t = em.decl(em.name("t", op.id), width, Expr(em.ext(a[0], width), " + " if k == "add" else " - ",
                                                 em.ext(a[1], width)), delay=carry(width))
    lo = f[0].lo + f[1].lo if k == "add" else f[0].lo - f[1].hi
    hi = f[0].hi + f[1].hi if k == "add" else f[0].hi - f[1].lo
    em.counts["adders"] += 1
    em.fit(op, t, lo, hi, width)


def verilog_mul(em: Builder, op: Op) -> None:
    """Full-width product plus half an ULP (one more term of the product's adder tree), arithmetic shift by
    n, then fit. A product by a constant of the hardware with at most SHIFT_ADD_DIGITS nonzero digits in
    signed binary is a sum of shifted copies (`Builder.constant_product`), no DSP block; by a whole
    number (a multiple of 2**n, blue_sizing's max_leverage of 8), with no rounding either."""
    a, f = op.args, [em.fmt(x) for x in op.args]
    width, shift = f[0].width + f[1].width, f[1].frac_bits
    corners = [x * y for x in (f[0].lo, f[0].hi) for y in (f[1].lo, f[1].hi)]
    em.counts["multipliers"] += 1
    half = 1 << (shift - 1) if shift else 0
    by, right = _constant_factor(em, op), shift
    if by is not None:
        k, c, right = by
        p = em.constant_product(em.name("p", op.id), em.ref(a[1 - k]), f[1 - k].width, c, width + 1,
                                addend=half if right else 0)
    else:
        p = em.product(em.name("p", op.id), em.ref(a[0]), f[0].width, em.ref(a[1]), f[1].width, width + 1,
                       addend=half)
    t = em.decl(em.name("t", op.id), width + 1, Expr(p, f" >>> {right}"), delay=WIRING) if right else p
    em.fit(op, t, shift_round(min(corners), shift), shift_round(max(corners), shift), width + 1)


def _constant_factor(em: Builder, op: Op) -> tuple[int, int, int] | None:
    """Which factor of a product is a constant of the hardware with few signed digits, the constant to
    multiply by, and the shift after the product: a whole number (a multiple of 2**n) is multiplied by
    c >> n with no shift (x * c >> n is x * (c >> n), exactly), any other by its raw value, shifted by n."""
    shift = em.fmt(op.args[1]).frac_bits
    for k in (1, 0):
        c = em.model.folded(op.args[k])
        if c is None:
            continue
        c, right = (c >> shift, 0) if c % (1 << shift) == 0 else (c, shift)
        if len(signed_digits(c)) <= SHIFT_ADD_DIGITS:
            return k, c, right
    return None


def verilog_div(em: Builder, op: Op) -> None:
    """floor((2 * (a << n) + b) / (2 * b)) after moving b's sign to a: the model's round half up. The
    numerator's magnitude is divided by restoring division (`Builder.long_division`), one cell per bit of
    the quotient the result's format can hold, and floored for a negative numerator (minus one more when
    the remainder is nonzero); a quotient beyond those bits, or a zero divisor, saturates by the
    numerator's sign."""
    (a, b), f = op.args, [em.fmt(x) for x in op.args]
    values = em.model.few_values(b) or []
    nonzero = [(k, d) for k, d in values if d]
    if nonzero and (all(d > 0 for _, d in nonzero) or values == nonzero and len(values) == 1):
        verilog_div_by_reciprocal(em, op, nonzero, by_zero=len(nonzero) < len(values))
        return
    if (part := complement_part(em, op)) is not None:
        verilog_div_complement(em, op, part)
        return
    i, shift, out = op.id, f[1].frac_bits, em.fmt(op.id)
    w = divider_width(f[0], f[1], out)
    an, bn = em.ext(a, w), em.ext(b, w)
    zero = em.const(0, w)
    negative = Expr("(", em.ref(b), " < ", em.const(0, f[1].width), ")")
    em.counts["dividers"] += 1
    sn = em.decl(em.name("sn", i), w, Expr(negative, " ? -(", an, f" <<< {shift}) : (", an, f" <<< {shift})"),
                 delay=carry(w))
    sd = em.decl(em.name("sd", i), w, Expr(negative, " ? -", bn, " : ", bn), delay=carry(w))  # |b|, below 2**wb
    n = em.decl(em.name("n", i), w, Expr("(", sn, " <<< 1) + ", sd), delay=carry(w))  # |n| < 2**(w - 1)
    nn = em.decl(em.name("nn", i), w, Expr("-", n), delay=carry(w))
    mag = em.decl(em.name("mg", i), w - 1, Expr(n.bit(w - 1), " ? ", nn.bits(w - 2, 0), " : ", n.bits(w - 2, 0)),
                  signed=False)
    den = em.decl(em.name("dd", i), f[1].width + 1, Expr("{", sd.bits(f[1].width - 1, 0), ", 1'b0}"), signed=False,
                  delay=WIRING)  # 2|b|
    # |quotient| < 2**(wo - 1) leaves the floor in the format: -(q + 1) >= -2**(wo - 1) = its lowest value;
    # beyond it the format's bound is the saturated value either way, so no comparator saturates after it
    bits = max(out.width - 1, 1)
    q, r, overflow = em.long_division(em.name("dv", i), mag, w - 1, den, f[1].width + 1, bits)
    below = em.decl(em.name("ng", i), 1, n.bit(w - 1), signed=False, delay=WIRING)  # one bit read at the end
    by_zero = em.decl(em.name("dz", i), 1, Expr(sd, " == ", zero), signed=False, delay=carry(w))
    qw = min(bits, w - 1)  # the quotient's bits
    tw = max(qw + 2, out.width + 1)  # the quotient plus one, negated; the format's bounds
    top, bottom = em.const(out.hi, tw), em.const(out.lo, tw)
    exact = em.decl(em.name("rz", i), 1, Expr("~|", r), signed=False, delay=LUT * math.ceil(math.log(f[1].width + 1, 4)))
    # floor: q, or for a negative numerator -(q + 1 - exact) = ~q + exact, in one adder
    floor = em.decl(em.name("fl", i), tw, Expr("({", f"{tw - qw}'d0, ", q, "} ^ {", str(tw), "{", below, "}}) + {",
                                               f"{tw - 1}'d0, ", below, " & ", exact, "}"), delay=carry(tw))
    beyond = Expr("(", below, " ? ", bottom, " : ", top, ")")
    chosen = Expr(overflow, " ? ", beyond, " : ", floor) if overflow is not None else floor
    t = em.decl(em.name("t", i), tw, Expr(by_zero, " ? ", _by_zero(em, op, tw), " : ", chosen), delay=carry(w))
    em.fit(op, t, min(-(1 << qw), out.lo), max((1 << qw) - 1, out.hi), tw)


def complement_part(em: Builder, op: Op) -> int | None:
    """x, where op divides b - x by b, x and b proven non-negative and b - x exact in its format (a short's
    pnl, `(entry_price - price) / entry_price`), all of one scale; else None."""
    (a, b), model = op.args, em.model
    num = model.ir.ops[a]
    if num.kind != "sub" or num.args[0] != b or op.type.vector:
        return None
    x, exact = num.args[1], model.exact_bounds(a)
    scales = {em.fmt(k).frac_bits for k in (a, b, x, op.id)}
    if len(scales) > 1 or exact is None or not em.fmt(a).lo <= exact[0] <= exact[1] <= em.fmt(a).hi:
        return None
    return x if model.raw_bounds(x)[0] >= 0 and model.raw_bounds(b)[0] >= 0 else None


def verilog_div_complement(em: Builder, op: Op, x: int) -> None:
    """(b - x) / b as 1 - x / b, exactly the model's rounding: with x * 2**n = Q * b + R (0 <= R < b), the
    quotient floor((2 * (b - x) * 2**n + b) / (2 * b)) is 2**n - Q - up, up = 1 if 2R > b. So the divider
    starts from x (no subtraction before it, no sign to move, no complement after: x and b are not negative)
    and takes a quotient bit per bit that Q needs before the result leaves its format. After the last step
    everything reads Q or R at once: up (2R > b), both candidates 2**n - Q and 2**n - Q - 1, and whether
    Q reaches the format's bottom; one multiplexer chooses. A zero b gives what the model's division by zero gives."""
    b, i, out, n = op.args[1], op.id, em.fmt(op.id), em.fmt(op.id).frac_bits
    wx, wb = em.w(x) - 1, em.w(b) - 1  # magnitudes: the sign bits are 0
    em.counts["dividers"] += 1
    limit = (1 << n) - out.lo  # Q + up beyond it: the format's bottom
    bits = limit.bit_length()
    num = em.decl(em.name("cx", i), wx + n, Expr("{", em.ref(x).bits(wx - 1, 0), f", {n}'d0}}") if n else
                  em.ref(x).bits(wx - 1, 0), signed=False, delay=WIRING)
    den = em.decl(em.name("cb", i), wb, em.ref(b).bits(wb - 1, 0), signed=False, delay=WIRING)
    q, r, overflow = em.long_division(em.name("dv", i), num, wx + n, den, wb, bits)
    up = em.decl(em.name("cr", i), 1, Expr("{", r, ", 1'b0} > {1'b0, ", den, "}"), signed=False, delay=carry(wb + 1))
    tw, wide = bits + 2, Expr("{2'b00, ", q, "}")
    # Q >= limit is the bottom whatever up is: at Q = limit, 2**n - Q - up is the bottom or below it
    past = em.decl(em.name("cg", i), 1, Expr(wide, " >= ", em.const(limit, tw)), signed=False, delay=carry(tw))
    low = past if overflow is None else em.decl(em.name("cl", i), 1, Expr(overflow, " | ", past), signed=False)
    whole, less = (em.decl(em.name(name, i), tw, Expr(em.const(c, tw), " - ", wide), delay=carry(tw))
                   for name, c in (("c0", 1 << n), ("c1", (1 << n) - 1)))
    zero = em.decl(em.name("cz", i), 1, Expr(den, " == ", f"{wb}'d0"), signed=False, delay=carry(wb))
    chosen = em.decl(em.name("t", i), tw, Expr(zero, " ? ", _by_zero(em, op, tw), " : ", low, " ? ",
                                               em.const(out.lo, tw), " : ", up, " ? ", less, " : ", whole),
                     delay=2 * LUT)  # five choices by four selects: two levels (blue_decision's slowest stage)
    em.fit(op, chosen, out.lo, max(out.hi, 1 << n), tw)


def verilog_div_by_reciprocal(em: Builder, op: Op, values: list[tuple[int, int]], by_zero: bool = False) -> None:
    """The same quotient, floor((2 * (a << n) + |b|) / (2 * |b|)), as a multiplication: b is a constant of
    the hardware (it depends only on parameters) or one of a few integers k (`values`: (k, b's raw value)),
    each 2|b| with its exact reciprocal (`qformat.reciprocal`), chosen by k; `by_zero`: b may also be 0
    (blue_decision's exchange leverage, 0 when no asset is selected), which saturates by a's sign as the
    divider does. The numerator x is made non-negative by its complement (floor(x / d) = ~floor(~x / d));
    the model is unchanged. The bits of the product below the shift (the quotient's fraction) and the
    constants' sign bit are left unread.

    Where a is proven non-negative and b positive (blue_sizing's margin), x needs no complement and no adder:
    (2 * (a << n) + |b|) >> z is (a << (n + 1 - z)) + (|b| >> z), so the product is a's times the reciprocal
    plus a constant of each divisor, one more term of its sum, and only the choice of constants waits for b."""
    (a, b), f = op.args, [em.fmt(x) for x in op.args]
    i, w = op.id, divider_width(f[0], f[1], em.fmt(op.id))
    sign = -1 if values[0][1] < 0 else 1
    doubled = [2 * abs(d) for _, d in values]
    # floor(u / d) = floor((u >> z) / (d >> z)) for 2**z dividing every d: a narrower product
    z = min(min((d & -d).bit_length() - 1 for d in doubled), w - 2)
    magic, shift = reciprocal([d >> z for d in doubled], w - 1 - z)
    mw = max(magic).bit_length() + 1
    m = em.decl(em.name("m", i), mw - 1, _chosen(em, op, values, magic, mw).bits(mw - 2, 0), signed=False,
                delay=WIRING)
    pw = max(w - 1 - z + mw - 1, shift + 1)  # (u >> z) * m < 2**(w - 1 - z) * 2**(mw - 1)
    x: Expr | None = None
    if sign > 0 and em.model.raw_bounds(a)[0] >= 0 and z <= f[1].frac_bits + 1 and f[0].width > 1:
        k, top = f[1].frac_bits + 1 - z, f[0].width - 1  # a's magnitude bits, shifted left by k
        parts = ([f"{w - 1 - z - top - k}'d0, "] if w - 1 - z > top + k else []) + [em.ref(a).bits(top - 1, 0)]
        uz = em.decl(em.name("uz", i), w - 1 - z, Expr("{", *parts, f", {k}'d0}}" if k else "}"), signed=False,
                     delay=WIRING)
        rest = _chosen(em, op, values, [(abs(d) >> z) * mk for (_, d), mk in zip(values, magic)], pw + 1, "c")
        p = em.product(em.name("p", i), uz, w - 1 - z, m, mw - 1, pw, signed=False, addend=rest.bits(pw - 1, 0))
    else:
        num = Expr("(", em.ext(a, w), f" <<< {f[1].frac_bits + 1})")
        divisor = em.const(abs(values[0][1]), w) if len(values) == 1 else em.ext(b, w)
        x = em.decl(em.name("x", i), w, Expr("-" if sign < 0 else "", num, " + ", divisor), delay=carry(w))
        u = em.decl(em.name("u", i), w - 1, Expr(x.bit(w - 1), " ? ~", x.bits(w - 2, 0), " : ", x.bits(w - 2, 0)),
                    signed=False)
        uz = em.decl(em.name("uz", i), w - 1 - z, u.bits(w - 2, z), signed=False, delay=WIRING)
        p = em.product(em.name("p", i), uz, w - 1 - z, m, mw - 1, pw, signed=False)
    q = em.decl(em.name("q", i), w, Expr(f"$signed({{{{{w - pw + shift}{{1'b0}}}}, ", p.bits(pw - 1, shift), "})"),
                delay=WIRING)  # floor(u / 2|b|)
    em.counts["multipliers"] += 1
    t = q if x is None else Expr(x.bit(w - 1), " ? ~", q, " : ", q)
    if by_zero:
        t = em.decl(em.name("tq", i), w, t)
        t = Expr("(", em.ref(b), " == ", em.const(0, f[1].width), ") ? ", _by_zero(em, op, w), " : ", t)
    chosen = em.decl(em.name("t", i), w, t, delay=WIRING if x is None and not by_zero else LUT)
    em.fit(op, chosen, -(1 << (w - 1)), (1 << (w - 1)) - 1, w)


def _chosen(em: Builder, op: Op, values: list[tuple[int, int]], table: list[int], width: int, prefix: str = "ms"
            ) -> Expr:
    """A constant of each divisor in `values` (`table`, as `width`-bit signed constants), as a wire chosen by
    the integer k whose float is the divisor (the i2f's argument); the one constant of a single divisor."""
    choices, choosing = em.const(table[0], width), LUT
    if len(values) > 1:
        k = em.model.ir.ops[op.args[1]].args[0]
        choosing = lookup(em.w(k))
        for (key, _), value in zip(values[1:], table[1:]):
            choices = Expr("(", em.ref(k), " == ", em.const(key, em.w(k)), ") ? ", em.const(value, width), " : ", choices)
    return em.decl(em.name(prefix, op.id), width, choices, delay=choosing)


def _by_zero(em: Builder, op: Op, width: int) -> Expr:
    """What a division by zero gives (`qformat.divide`): the format's top or bottom by the numerator's sign,
    0 for 0 / 0, as `width` bits. The sign is two one-bit cells, so a pipeline carries bits, not the word."""
    a, out = op.args[0], em.fmt(op.id)
    zero = em.const(0, em.fmt(a).width)
    above, below = (em.decl(em.name(f"a{k}", op.id), 1, Expr(em.ref(a), f" {cmp} ", zero), signed=False,
                            delay=carry(em.fmt(a).width)) for k, cmp in (("p", ">"), ("n", "<")))
    return Expr("(", above, " ? ", em.const(out.hi, width), " : ", below, " ? ", em.const(out.lo, width), " : ",
                em.const(0, width), ")")


def verilog_pick(em: Builder, op: Op) -> None:
    """A comparator and a multiplexer, each its own cell (the pipelining may cut between them):
    `b if b < a else a` (min), as the IR's rule. Where the raw bounds of a and b decide it (blue_sizing's
    max(ceil(leverage), 1) of a leverage proven at least 0.5), the one it takes, as a wire."""
    a, f = op.args, [em.fmt(x) for x in op.args]
    width = max(f[0].width, f[1].width)
    x, y = em.ext(a[0], width), em.ext(a[1], width)
    (xlo, xhi), (ylo, yhi) = em.model.raw_bounds(a[0]), em.model.raw_bounds(a[1])
    always, never = (yhi < xlo, ylo >= xhi) if op.kind == "min" else (ylo > xhi, yhi <= xlo)  # b taken
    if always or never:
        em.fit(op, em.decl(em.name("t", op.id), width, y if always else x, delay=WIRING), min(f[0].lo, f[1].lo),
               max(f[0].hi, f[1].hi), width)
        return
    if (chain := clamp_chain(em, op.id)) is not None:
        _clamp(em, op, *chain)
        return
    em.counts["comparators"] += 1
    take = em.decl(em.name("k", op.id), 1, Expr(y, " < " if op.kind == "min" else " > ", x), signed=False,
                   delay=carry(width))
    t = em.decl(em.name("t", op.id), width, Expr(take, " ? ", y, " : ", x))
    em.fit(op, t, min(f[0].lo, f[1].lo), max(f[0].hi, f[1].hi), width)


def clamp_chain(em: Builder, i: int) -> tuple[int, int | None, int | None] | None:
    """(x, lo, hi) when op i is a min or max of a constant and of another such op, down to a value x that
    is none: its value is then min(max(x, lo), hi) (None: no bound on that side; lo <= hi), each bound
    the constants' raw values composed. None for a single pick (nothing to fuse) or anything else."""
    bounds: list[tuple[str, int]] = []
    x = i
    while (op := em.model.ir.ops[x]).kind in ("min", "max") and not op.type.vector:
        folded = [em.model.folded(a) for a in op.args]
        if (folded[0] is None) == (folded[1] is None):
            break
        bounds.append((op.kind, folded[0] if folded[0] is not None else folded[1]))  # type: ignore[arg-type]
        x = op.args[1] if folded[0] is not None else op.args[0]
    if len(bounds) < 2:
        return None
    lo: int | None = None
    hi: int | None = None
    for kind, c in reversed(bounds):  # innermost first: max(min(max(x, lo), hi), c), min(..., c)
        if kind == "max":
            lo, hi = (c, c) if hi is not None and c >= hi else (c if lo is None else max(lo, c), hi)
        else:
            lo, hi = (c, c) if lo is not None and c <= lo else (lo, c if hi is None else min(hi, c))
    return x, lo, hi


def _clamp(em: Builder, op: Op, x: int, lo: int | None, hi: int | None) -> None:
    """A chain of min/max by constants as one clamp of x (`clamp_chain`): both comparisons read x at once,
    then one multiplexer, where the chain compared each pick's result in turn (blue_sizing's s, clamped to
    [0, 1], and cmax, capped at abs_max_leverage and at stalker_cap)."""
    ends = [c for c in (lo, hi) if c is not None]
    width = max(em.w(x), em.fmt(op.id).width, *(c.bit_length() + 1 for c in ends))
    value = em.ext(x, width)
    t: Expr | str = value
    for c, cmp, name in ((hi, " > ", "kh"), (lo, " < ", "kl")):
        if c is not None:
            em.counts["comparators"] += 1
            bound = em.const(c, width)
            past = em.decl(em.name(name, op.id), 1, Expr(value, cmp, bound), signed=False, delay=carry(width))
            t = Expr(past, " ? ", bound, " : ", t)
    em.fit(op, em.decl(em.name("t", op.id), width, t), min(ends + [em.fmt(x).lo]), max(ends + [em.fmt(x).hi]),
           width)


def verilog_neg(em: Builder, op: Op) -> None:
    """Negation or absolute value one bit wider than the operand, then fit."""
    src = em.fmt(op.args[0])
    width = src.width + 1
    x = em.ext(op.args[0], width)
    expr = Expr("-", x) if op.kind == "neg" else Expr("(", x, " < ", em.const(0, width), ") ? -", x, " : ", x)
    t = em.decl(em.name("t", op.id), width, expr, delay=carry(width) + LUT)
    lo, hi = (-src.hi, -src.lo) if op.kind == "neg" else (0, max(-src.lo, src.hi))
    em.fit(op, t, lo, hi, width)


def _binary(name: str, meaning: str, f64: Fn, i64: Fn | None, symbol: str, fixed: Any, verilog: Any) -> OpSpec:
    interp = by_dtype(f64=f64, i64=i64) if i64 else by_dtype(f64=f64)
    wrapping = f"wrapping_{name}" if i64 else ""
    return OpSpec(name, 2, meaning, arith_type, interp, numba_infix(symbol, wrapping), interval_arith, fixed, verilog)


OPS = (
    _binary("add", "a + b: IEEE, one rounding; int64 wraps", lambda a, b: a + b,
            lambda a, b: sem.wrap64(a + b), "+", fixed_add, verilog_add),
    _binary("sub", "a - b: IEEE, one rounding; int64 wraps", lambda a, b: a - b,
            lambda a, b: sem.wrap64(a - b), "-", fixed_add, verilog_add),
    _binary("mul", "a * b: IEEE, one rounding; int64 wraps", lambda a, b: a * b,
            lambda a, b: sem.wrap64(a * b), "*", fixed_mul, verilog_mul),
    _binary("div", "a / b: IEEE float64 division, x / 0 is +-inf, 0 / 0 NaN", sem.fdiv, None, "/",
            fixed_div, verilog_div),
    OpSpec("min", 2, "Python's min(a, b): b if b < a else a", arith_type, by_dtype(any=sem.vmin), numba_pick("<"),
           interval_pick, fixed_pick, verilog_pick, builtin="min"),
    OpSpec("max", 2, "Python's max(a, b): b if b > a else a", arith_type, by_dtype(any=sem.vmax), numba_pick(">"),
           interval_pick, fixed_pick, verilog_pick, builtin="max"),
    OpSpec("neg", 1, "-a: flips the sign bit; int64 wraps", arith_type,
           by_dtype(f64=lambda a: -a, i64=lambda a: sem.wrap64(-a)), numba_infix("-", "wrapping_neg"),
           interval_neg, fixed_neg, verilog_neg),
    OpSpec("abs", 1, "abs(a): clears the sign bit; int64 wraps", arith_type,
           by_dtype(f64=math.fabs, i64=lambda a: sem.wrap64(abs(a))), numba_abs, interval_abs, fixed_neg,
           verilog_neg, builtin="abs"),
)
