"""Interval analysis: the range of every IR value, from the inputs' refined types and the parameters.

Each value gets an interval [lo, hi] of the numbers it can take and a flag
saying whether it can be NaN. The intervals are sound for the IR's float64
semantics without outward rounding: round-to-nearest is monotone, so an op
evaluated on the interval's corners in float64 bounds every float64 result of
the op on values inside it. min/max follow the IR's rule (the first argument
wins against NaN), which is how `leverage = max(min_leverage, min(raw, cmax))`
is proven inside [min_leverage, abs_max_leverage] even where `raw` can be NaN.

State fields start at their initial value and are widened to a fixpoint
(after a few rounds, to the whole type's range), so a stateful graph's ranges
hold on every scan. This feeds the fixed-point formats of the FPGA lowering.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from violet.compile.ir import COMPARE, IR, LOGIC, Op, Scalar
from violet.dag.types import INT64_MAX, INT64_MIN, DType, InputSpec

INF = math.inf
FMAX = 1.7976931348623157e308
WIDEN_AFTER = 8  # fixpoint rounds before a state field's range is widened to its whole type


@dataclass(frozen=True)
class Interval:
    """The numbers a value can take (inclusive), and whether it can be NaN."""

    lo: float
    hi: float
    nan: bool = False

    def __str__(self) -> str:
        text = f"[{_num(self.lo)}, {_num(self.hi)}]" if self.lo <= self.hi else "(no number)"
        return text + (" or NaN" if self.nan else "")

    def union(self, other: Interval) -> Interval:
        return Interval(min(self.lo, other.lo), max(self.hi, other.hi), self.nan or other.nan)

    def within(self, lo: float, hi: float) -> bool:
        """Proven to lie in [lo, hi] and never NaN."""
        return not self.nan and lo <= self.lo and self.hi <= hi


def _num(x: float) -> str:
    return repr(int(x)) if float(x).is_integer() and abs(x) < 2**63 else repr(x)


BOOL = Interval(0, 1)
EMPTY = Interval(INF, -INF)


def point(value: Scalar) -> Interval:
    v = float(value)
    return Interval(v, v, math.isnan(v)) if not math.isnan(v) else Interval(INF, -INF, True)


def input_interval(spec: InputSpec) -> Interval:
    """What the boundary lets through for one input."""
    t, r = spec.type, spec.refine
    if t.enum is not None:
        return Interval(0, len(t.enum) - 1)
    if t.dtype == DType.BOOL:
        return BOOL
    if t.dtype == DType.I64:
        return Interval(*r.int_bounds())
    return Interval(*r.float_bounds(FMAX if r.finite else INF), nan=not (r.finite or r.bounded))


def type_interval(op: Op) -> Interval:
    """The whole range of an op's type (for widening)."""
    if op.type.enum is not None:
        return Interval(0, len(op.type.enum) - 1)
    return {DType.BOOL: BOOL, DType.I64: Interval(INT64_MIN, INT64_MAX), DType.F64: Interval(-INF, INF, True)}[
        op.type.dtype]


def analyze(ir: IR, params: Mapping[str, Scalar] | None = None) -> list[Interval]:
    """The interval of every op (state fields at their fixpoint)."""
    values = {**ir.param_defaults, **(params or {})}
    state = {s.name: point(s.init) for s in ir.state}
    for round_ in range(WIDEN_AFTER + 2):
        ranges = _pass(ir, values, state)
        grown = {name: state[name].union(ranges[i]) for name, i in ir.next_state}
        if grown == state:
            return ranges
        if round_ >= WIDEN_AFTER:  # still growing: widen only the fields that grew
            grown = {name: type_interval(ir.ops[i]) if grown[name] != state[name] else state[name]
                     for name, i in ir.next_state}
        state = grown
    return _pass(ir, values, state)


def _pass(ir: IR, params: Mapping[str, Scalar], state: Mapping[str, Interval]) -> list[Interval]:
    ranges: list[Interval] = []
    specs = {s.name: s for s in ir.inputs}
    for op in ir.ops:
        if op.kind == "input":
            ranges.append(input_interval(specs[op.name]))
        elif op.kind == "param":
            ranges.append(point(params[op.name]))
        elif op.kind == "const":
            ranges.append(point(op.value))
        elif op.kind == "state":
            ranges.append(state[op.name])
        else:
            ranges.append(transfer(op, [ranges[a] for a in op.args]))
    return ranges


def transfer(op: Op, a: list[Interval]) -> Interval:
    """The interval of `op` given its arguments' intervals."""
    k = op.kind
    if k in COMPARE or k in LOGIC or k in ("any", "all"):
        return BOOL
    if k == "select":
        return a[1].union(a[2])
    if k == "gather":
        return a[0].union(point(0))
    if k == "argmax":
        return Interval(-1, INT64_MAX)
    if k in ("add", "sub", "mul", "div"):
        return _arith(k, a[0], a[1], op.type.dtype)
    if k in ("min", "max"):
        return _minmax(k, a[0], a[1])
    return _unary(k, a[0], op.type.dtype)


def _arith(kind: str, x: Interval, y: Interval, dtype: DType) -> Interval:
    if x.lo > x.hi or y.lo > y.hi:
        return Interval(INF, -INF, x.nan or y.nan)
    if kind == "div" and y.lo <= 0.0 <= y.hi:  # a zero divisor: +-inf, and NaN from 0/0
        return Interval(-INF, INF, dtype == DType.F64 and (x.nan or y.nan or x.lo <= 0.0 <= x.hi))
    fn = {"add": lambda p, q: p + q, "sub": lambda p, q: p - q, "mul": lambda p, q: p * q,
          "div": lambda p, q: p / q}[kind]
    corners = [fn(p, q) for p in (x.lo, x.hi) for q in (y.lo, y.hi)]
    nan = x.nan or y.nan or any(math.isnan(c) for c in corners) or _inf_times_zero(kind, x, y)
    numbers = [c for c in corners if not math.isnan(c)] or [0.0]
    lo, hi = min(numbers), max(numbers)
    if dtype == DType.I64 and (lo < INT64_MIN or hi > INT64_MAX):
        return Interval(INT64_MIN, INT64_MAX)  # wrap-around: nothing is proven
    return Interval(lo, hi, nan and dtype == DType.F64)


def _inf_times_zero(kind: str, x: Interval, y: Interval) -> bool:
    """A zero inside one factor and an infinity at the end of the other: 0 * inf is NaN
    even where no corner shows it."""
    if kind != "mul":
        return False
    has_zero = lambda i: i.lo <= 0.0 <= i.hi  # noqa: E731
    has_inf = lambda i: math.isinf(i.lo) or math.isinf(i.hi)  # noqa: E731
    return (has_zero(x) and has_inf(y)) or (has_inf(x) and has_zero(y))


def _minmax(kind: str, x: Interval, y: Interval) -> Interval:
    """min(x, y) = y if y < x else x: a NaN first argument is kept, a NaN second one is never taken."""
    pick = min if kind == "min" else max
    if x.lo > x.hi:  # x is only NaN: the result is x
        return x
    if y.lo > y.hi:
        return x
    lo, hi = pick(x.lo, y.lo), pick(x.hi, y.hi)
    if y.nan:  # y may be NaN, then the result is x unchanged
        lo, hi = min(lo, x.lo), max(hi, x.hi)
    return Interval(lo, hi, x.nan)


def _unary(kind: str, x: Interval, dtype: DType) -> Interval:
    if x.lo > x.hi:
        return x if kind not in ("f2i",) else Interval(0, 0)
    if kind == "neg":
        return Interval(-x.hi, -x.lo, x.nan)
    if kind == "abs":
        lo = 0.0 if x.lo <= 0.0 <= x.hi else min(abs(x.lo), abs(x.hi))
        return Interval(lo, max(abs(x.lo), abs(x.hi)), x.nan)
    if kind in ("floor", "ceil"):
        fn = math.floor if kind == "floor" else math.ceil
        return Interval(*(float(fn(v)) if math.isfinite(v) else v for v in (x.lo, x.hi)), x.nan)
    if kind == "f2i":
        lo = INT64_MIN if x.lo < INT64_MIN else math.trunc(x.lo) if math.isfinite(x.lo) else INT64_MIN
        hi = INT64_MAX if x.hi >= 2.0**63 else math.trunc(x.hi) if math.isfinite(x.hi) else INT64_MAX
        interval = Interval(max(lo, INT64_MIN), min(hi, INT64_MAX))
        return interval.union(point(0)) if x.nan else interval
    if kind == "i2f":
        return Interval(float(x.lo), float(x.hi))
    raise ValueError(f"no range rule for op kind {kind!r}")


def ranges_by_node(ir: IR, ranges: list[Interval]) -> list[tuple[str, str, Interval]]:
    """(name, type, interval) for each input, param, state field and output, and each node's last value."""
    rows: list[tuple[str, str, Interval]] = []
    for op in ir.ops:
        if op.kind in ("input", "param", "state"):
            rows.append((f"{op.kind} {op.name}", str(op.type), ranges[op.id]))
    last: dict[str, Op] = {}
    for op in ir.ops:
        if op.node and op.kind not in ("input", "param", "state", "const"):
            last[op.node] = op
    rows += [(f"node {node}", str(op.type), ranges[op.id]) for node, op in last.items()]
    rows += [(f"output {name}", str(ir.ops[i].type), ranges[i]) for name, i in ir.outputs]
    return rows
