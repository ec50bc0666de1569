"""Fixed-point formats from the interval analysis, and the fixed-point model of the IR.

The model is the definition the FPGA lowering must match bit for bit: every
value is a Python int (arbitrary width: nothing wraps silently) in a signed
two's-complement format Q(m.n), read as raw / 2**n. One rule everywhere:

- rounding: round half up on every right shift, `(x + 2**(k-1)) >> k` with an
  arithmetic (flooring) shift, so a tie goes toward +infinity: -2.5 -> -2;
- saturation: a value outside its format clamps to the format's bounds. A
  format is sized from the value's proven range, so saturation happens only
  where no range could be proven (then the format has `max_int_bits`).

Float64 values share one fractional precision (`frac_bits`); int64 values are
integers (n = 0) sized from their range; bools are one bit. Parameters are
constants of the hardware: they are quantized with the same rounding.

NaN has no fixed-point value, but a graph may use a NaN constant to mean
"missing" (blue_decision's breakdown fields off an entry). Such a constant may
only be chosen by selects on its way to outputs; there it is the value
`MISSING` in the model and a one-bit flag beside the output in hardware. A NaN
constant reaching anything else (arithmetic, a comparison, the state) is refused.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from violet.compile.interp import Interpreter
from violet.compile.ir import IR, Op
from violet.compile.ranges import Interval, analyze
from violet.compile.semantics import argmax, gather
from violet.dag.types import DType
from violet.errors import VioletError


@dataclass(frozen=True)
class Fmt:
    """Signed Q(int_bits.frac_bits); width = 1 + int_bits + frac_bits (a bool is 1 unsigned bit)."""

    int_bits: int
    frac_bits: int
    saturates: bool = False  # no range was proven: the format is capped and values clamp
    boolean: bool = False

    @property
    def width(self) -> int:
        return 1 if self.boolean else 1 + self.int_bits + self.frac_bits

    @property
    def lo(self) -> int:
        return 0 if self.boolean else -(1 << (self.int_bits + self.frac_bits))

    @property
    def hi(self) -> int:
        return 1 if self.boolean else (1 << (self.int_bits + self.frac_bits)) - 1

    def __str__(self) -> str:
        if self.boolean:
            return "bool"
        return f"Q{self.int_bits}.{self.frac_bits}" + (" (saturating)" if self.saturates else "")


@dataclass(frozen=True)
class FixedConfig:
    frac_bits: int = 24
    max_int_bits: int = 24


class LoweringError(VioletError):
    """An op of the graph cannot be lowered to fixed point / hardware."""


class Missing:
    """The model's value of a NaN constant chosen by selects: no number, flagged in hardware."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = Missing()


def missing_ops(ir: IR, values: Mapping[str, Any]) -> frozenset[int]:
    """The ops that can hold a NaN constant: NaN params and consts, and the scalar selects choosing one.
    Any other use of them has no hardware meaning and is refused, naming the node and op."""
    missing: set[int] = set()
    for op in ir.ops:
        if op.kind in ("param", "const"):
            value = values[op.name] if op.kind == "param" else op.value
            if isinstance(value, float) and math.isnan(value):
                missing.add(op.id)
            continue
        used = [k for k, a in enumerate(op.args) if a in missing]
        if used and op.kind == "select" and 0 not in used and not op.type.vector:
            missing.add(op.id)
        elif used:
            raise LoweringError(f"a NaN constant reaches '{op.kind}' ({op.render()}), which has no fixed-point NaN",
                                where=f"node '{op.node}'",
                                fix="the hardware carries NaN only as a 'missing' flag chosen by selects into "
                                    "outputs: test a bool instead of computing with NaN")
    for name, i in ir.next_state:
        if i in missing:
            raise LoweringError(f"the next value of state '{name}' can be a NaN constant", where=ir.name,
                                fix="keep NaN out of the state: a register has no NaN")
    return frozenset(missing)


def int_bits_for(interval: Interval, frac_bits: int) -> int | None:
    """The fewest integer bits m with -2**m <= lo and hi <= 2**m - 2**-n (None if unbounded or only NaN)."""
    if interval.lo > interval.hi or math.isinf(interval.lo) or math.isinf(interval.hi):
        return None
    lo, hi, ulp = Fraction(interval.lo), Fraction(interval.hi), Fraction(1, 1 << frac_bits)
    bits = 0
    while lo < -(1 << bits) or hi > (1 << bits) - ulp:
        bits += 1
    return bits


def choose_formats(ir: IR, ranges: list[Interval], cfg: FixedConfig) -> list[Fmt]:
    """A format for every op (a vector's elements share it): from its proven range, capped and
    saturating where none is proven."""
    formats = []
    for op in ir.ops:
        if op.type.dtype == DType.BOOL:
            formats.append(Fmt(0, 0, boolean=True))
            continue
        frac = cfg.frac_bits if op.type.dtype == DType.F64 else 0
        bits = int_bits_for(ranges[op.id], frac)
        if ranges[op.id].lo > ranges[op.id].hi:  # only NaN: no number to hold (the flag says missing)
            formats.append(Fmt(0, frac))
        elif bits is None or bits > cfg.max_int_bits:
            formats.append(Fmt(cfg.max_int_bits, frac, saturates=True))
        else:
            formats.append(Fmt(bits, frac))
    return formats


def shift_round(x: int, k: int) -> int:
    """x / 2**k rounded half up (ties toward +infinity)."""
    return (x + (1 << (k - 1))) >> k if k > 0 else x


def quantize(value: float | int | bool, fmt: Fmt) -> int:
    """A number as a raw value of `fmt`: round half up, then saturate (NaN is refused)."""
    if fmt.boolean:
        return int(bool(value))
    if isinstance(value, float) and math.isnan(value):
        raise LoweringError("NaN has no fixed-point value", fix="the hardware path takes finite inputs only")
    if isinstance(value, float) and (math.isinf(value) or math.frexp(value)[1] - 1 > fmt.int_bits):
        return fmt.hi if value > 0 else fmt.lo  # |value| >= 2**(m + 1): out of range (scaling 1e308 overflows)
    scaled = math.ldexp(value, fmt.frac_bits) if isinstance(value, float) else value << fmt.frac_bits
    if isinstance(scaled, int) or scaled.is_integer():  # exact already (ldexp only moves the exponent)
        return saturate(int(scaled), fmt)
    return saturate(math.floor(Fraction(value) * (1 << fmt.frac_bits) + Fraction(1, 2)), fmt)


def saturate(raw: int, fmt: Fmt) -> int:
    return min(max(raw, fmt.lo), fmt.hi)


def to_number(raw: int | Missing, fmt: Fmt) -> float | int | bool:
    if raw is MISSING:
        return math.nan
    if fmt.boolean:
        return bool(raw)
    return raw / (1 << fmt.frac_bits) if fmt.frac_bits else raw


class FixedModel:
    """The IR evaluated in fixed point, with the formats chosen for it."""

    def __init__(self, ir: IR, cfg: FixedConfig = FixedConfig(), params: Mapping[str, Any] | None = None) -> None:
        self.ir, self.cfg = ir, cfg
        self.params = {**ir.param_defaults, **(params or {})}
        self.ranges = analyze(ir, self.params)
        self.formats = choose_formats(ir, self.ranges, cfg)
        self.missing = missing_ops(ir, self.params)
        self._constants: dict[int, int | Missing] = {}

    def initial_state(self) -> dict[str, int]:
        """The state fields' raw initial values (the registers' reset values)."""
        ids = {op.name: op.id for op in self.ir.leaves("state")}
        return {s.name: quantize(s.init, self.formats[ids[s.name]]) for s in self.ir.state}

    def trace(self, inputs: Mapping[str, Any], state: Mapping[str, int] | None = None) -> list[Any]:
        """Every op's raw value (a list for a vector) for one row of (float) inputs and raw state."""
        state = self.initial_state() if state is None else state
        v: list[Any] = []
        for op in self.ir.ops:
            fmt = self.formats[op.id]
            if op.kind == "input":
                value = inputs[op.name]
                v.append([quantize(x, fmt) for x in value] if op.type.vector else quantize(value, fmt))
            elif op.kind in ("param", "const"):
                v.append(self.constant(op))
            elif op.kind == "state":
                v.append(state[op.name])
            else:
                v.append(self._apply(op, [v[a] for a in op.args], [self.formats[a] for a in op.args], fmt))
        return v

    def advance(self, inputs: Mapping[str, Any], state: Mapping[str, int] | None = None
                ) -> tuple[list[Any], dict[str, int]]:
        """One scan: the trace, and the next raw state."""
        v = self.trace(inputs, state)
        return v, {name: v[i] for name, i in self.ir.next_state}

    def _apply(self, op: Op, a: list[Any], fa: list[Fmt], out: Fmt) -> Any:
        k = op.kind
        if k == "gather":  # the IR's rule, one definition: outside [0, N) the type's zero (raw 0)
            return saturate(gather(a[0], a[1], 0), out)
        if k == "argmax":  # the IR's rule on raw values (same order); the RTL refuses a format short of N - 1
            return saturate(argmax(a[0], a[1]), out)
        if k in ("any", "all"):
            return int(any(a[0])) if k == "any" else int(all(a[0]))
        if op.type.vector:
            n = len(next(x for x in a if isinstance(x, list)))
            return [self._op(op, [x[j] if isinstance(x, list) else x for x in a], fa, out) for j in range(n)]
        return self._op(op, a, fa, out)

    def constant(self, op: Op) -> int | Missing:
        """The raw value of a param or const op (parameters are constants of the hardware)."""
        if op.id not in self._constants:
            value = self.params[op.name] if op.kind == "param" else op.value
            self._constants[op.id] = MISSING if op.id in self.missing else quantize(value, self.formats[op.id])
        return self._constants[op.id]

    def step(self, inputs: Mapping[str, Any], state: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Outputs as numbers (raw / 2**frac_bits), for comparison with the float interpreter."""
        v = self.trace(inputs, state)
        return {name: to_number(v[i], self.formats[i]) for name, i in self.ir.outputs}

    def _op(self, op: Op, a: list[int], fa: list[Fmt], out: Fmt) -> int:
        k = op.kind
        if k in ("add", "sub"):
            return saturate(a[0] + a[1] if k == "add" else a[0] - a[1], out)
        if k == "mul":
            return saturate(shift_round(a[0] * a[1], fa[1].frac_bits), out)
        if k == "div":
            return saturate(_divide(a[0] << fa[1].frac_bits, a[1], out), out)
        if k in ("min", "max"):
            pick = a[1] < a[0] if k == "min" else a[1] > a[0]
            return a[1] if pick else a[0]
        if k == "neg":
            return saturate(-a[0], out)
        if k == "abs":
            return saturate(abs(a[0]), out)
        if k in ("eq", "ne", "lt", "le", "gt", "ge"):
            return int({"eq": a[0] == a[1], "ne": a[0] != a[1], "lt": a[0] < a[1], "le": a[0] <= a[1],
                        "gt": a[0] > a[1], "ge": a[0] >= a[1]}[k])
        if k in ("and", "or"):
            return int(bool(a[0]) and bool(a[1])) if k == "and" else int(bool(a[0]) or bool(a[1]))
        if k == "not":
            return int(not a[0])
        if k == "select":
            return a[1] if a[0] else a[2]
        one = 1 << fa[0].frac_bits
        if k == "floor":
            return saturate((a[0] >> fa[0].frac_bits) * one, out)
        if k == "ceil":
            return saturate(-((-a[0]) >> fa[0].frac_bits) * one, out)
        if k == "f2i":  # truncate toward zero
            q = a[0] >> fa[0].frac_bits if a[0] >= 0 else -((-a[0]) >> fa[0].frac_bits)
            return saturate(q, out)
        if k == "i2f":
            return saturate(a[0] << out.frac_bits, out)
        raise LoweringError(f"op '{k}' has no fixed-point lowering", where=f"node '{op.node}'", fix=op.render())


def divider_width(num: Fmt, den: Fmt, out: Fmt) -> int:
    """The width the hardware divider computes in, for numerator, divisor and result formats.

    It must hold, signed: the shifted numerator `a << n` and its negation; the
    rounding numerator `2 * (a << n) + |b|`, at most 2**(wa + n) + 2**(wb - 1)
    in magnitude; the doubled divisor `2 * |b|`, up to 2**wb; and the result's
    saturation bounds. Sized from the numerator alone, a wider divisor (a
    saturating Q24.8 under a bounded Q1.8) lost its upper bits."""
    return max(num.width + den.frac_bits + 2, den.width + 2, out.width)


def _divide(num: int, den: int, out: Fmt) -> int:
    """num / den rounded half up; a zero divisor saturates by the numerator's sign (0 / 0 is 0)."""
    if den == 0:
        return out.hi if num > 0 else out.lo if num < 0 else 0
    if den < 0:
        num, den = -num, -den
    return (2 * num + den) // (2 * den)


@dataclass(frozen=True)
class ErrorReport:
    """Fixed point against float64 over Monte-Carlo inputs: the worst errors per output."""

    rows: int
    max_abs: dict[str, float]
    max_rel: dict[str, float]

    def render(self) -> str:
        lines = [f"fixed point vs float64 over {self.rows:,} random rows: max error per output"]
        lines += [f"  {name:<10} abs {self.max_abs[name]:.3e}  rel {self.max_rel[name]:.3e}" for name in self.max_abs]
        return "\n".join(lines)


def error_report(model: FixedModel, rows: list[dict[str, Any]]) -> ErrorReport:
    interp = Interpreter(model.ir)
    names = [n for n, i in model.ir.outputs if not model.formats[i].boolean]
    max_abs = dict.fromkeys(names, 0.0)
    max_rel = dict.fromkeys(names, 0.0)
    for row in rows:
        want, got = interp.step(row, model.params), model.step(row)
        for n in names:
            if math.isnan(got[n]) or math.isnan(want[n]):  # both missing: no error; one: no bound holds
                diff = 0.0 if math.isnan(got[n]) and math.isnan(want[n]) else math.inf
                max_abs[n], max_rel[n] = max(max_abs[n], diff), max(max_rel[n], diff)
                continue
            diff = abs(float(got[n]) - float(want[n]))
            max_abs[n] = max(max_abs[n], diff)
            max_rel[n] = max(max_rel[n], diff / abs(want[n]) if want[n] else 0.0)
    return ErrorReport(len(rows), max_abs, max_rel)


def monte_carlo_rows(model: FixedModel, n: int, seed: int = 0) -> list[dict[str, Any]]:
    """Random rows inside each input's representable (and typical, where given) range."""
    rnd = random.Random(seed)
    rows = []
    for _ in range(n):
        row = {}
        for spec in model.ir.inputs:
            fmt = model.formats[next(op.id for op in model.ir.ops if op.kind == "input" and op.name == spec.name)]
            if spec.type.enum is not None:
                row[spec.name] = rnd.randrange(len(spec.type.enum))
            elif fmt.boolean:
                row[spec.name] = rnd.random() < 0.5
            else:
                lo, hi = spec.refine.typical or (fmt.lo / (1 << fmt.frac_bits), fmt.hi / (1 << fmt.frac_bits))
                iv = model.ranges[next(op.id for op in model.ir.ops if op.kind == "input" and op.name == spec.name)]
                lo, hi = max(lo, iv.lo), min(hi, iv.hi)
                row[spec.name] = rnd.randint(int(lo), int(hi)) if spec.type.dtype == DType.I64 else rnd.uniform(lo, hi)
        rows.append(row)
    return rows
