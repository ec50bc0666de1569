"""Interval analysis: the range of every IR value, from the inputs' refined types and the parameters.

Each value gets an interval [lo, hi] of the numbers it can take and a flag
saying whether it can be NaN. The intervals are sound for the IR's float64
semantics without outward rounding: round-to-nearest is monotone, so an op
evaluated on the interval's corners in float64 bounds every float64 result of
the op on values inside it. min/max follow the IR's rule (the first argument
wins against NaN), which is how `leverage = max(min_leverage, min(raw, cmax))`
is proven inside [min_leverage, abs_max_leverage] even where `raw` can be NaN.

The analysis is not relational, so a NaN born from `inf * 0` in one chain
(blue_sizing's `regime`, for huge finite factors and a zero scale) would leak
into an unrelated bound. It is therefore run by cases: every scalar input whose
range holds zero and that feeds an op where a NaN can be born is split into
its negative numbers, zero, and its positive numbers (every float is in exactly
one), the analysis is run on each box of pieces, and each op's range is the
union over the boxes. Zero is where `inf * 0` and `0 / 0` are born, so in each
box a NaN either cannot happen or takes its whole chain with it; that is how
`leverage` is proven inside [min_leverage, abs_max_leverage] from the refined
types alone. At most MAX_BOXES boxes are analysed (inputs are taken in op order
until the next would exceed it).

State fields start at their initial value and are widened to a fixpoint
(after a few rounds, to the whole type's range), so a stateful graph's ranges
hold on every scan. This feeds the fixed-point formats of the FPGA lowering.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

from violet.compile.ir import COMPARE, IR, LOGIC, Op, Scalar
from violet.compile.semantics import f2i
from violet.dag.types import INT64_MAX, INT64_MIN, DType, InputSpec

INF = math.inf
FMAX = 1.7976931348623157e308
WIDEN_AFTER = 8  # fixpoint rounds before a state field's range is widened to its whole type
MAX_BOXES = 64  # the most cases (boxes of input pieces) one pass analyses
TINY = math.ulp(0.0)  # the smallest positive float64


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
    """One value's interval; an integer stays an int, so int64 bounds stay exact beyond 2**53."""
    if isinstance(value, float) and math.isnan(value):
        return Interval(INF, -INF, True)
    v = value if isinstance(value, float) else int(value)
    return Interval(v, v)


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


@dataclass(frozen=True)
class Analysis:
    """Every op's interval, and the inputs split at zero to prove them (with the number of boxes)."""

    ranges: list[Interval]
    split: tuple[str, ...]
    boxes: int


def analyze(ir: IR, params: Mapping[str, Scalar] | None = None) -> list[Interval]:
    """The interval of every op (state fields at their fixpoint)."""
    return analysis(ir, params).ranges


def analysis(ir: IR, params: Mapping[str, Scalar] | None = None, max_boxes: int = MAX_BOXES) -> Analysis:
    """The interval of every op by cases on the inputs' signs, state fields at their fixpoint."""
    values = {**ir.param_defaults, **(params or {})}
    state = {s.name: point(s.init) for s in ir.state}
    for round_ in range(WIDEN_AFTER + 2):
        result = _cases(ir, values, state, max_boxes)
        grown = {name: state[name].union(result.ranges[i]) for name, i in ir.next_state}
        if grown == state:
            return result
        if round_ >= WIDEN_AFTER:  # still growing: widen only the fields that grew
            grown = {name: type_interval(ir.ops[i]) if grown[name] != state[name] else state[name]
                     for name, i in ir.next_state}
        state = grown
    return _cases(ir, values, state, max_boxes)


def _cases(ir: IR, params: Mapping[str, Scalar], state: Mapping[str, Interval], max_boxes: int) -> Analysis:
    """One pass, by cases: the union over the boxes of the split inputs' pieces."""
    whole = _pass(ir, params, state, {})
    pieces = _pieces(ir, whole, max_boxes)
    if not pieces:
        return Analysis(whole, (), 1)
    cases = [_pass(ir, params, state, dict(zip(pieces, box))) for box in itertools.product(*pieces.values())]
    ranges = [functools.reduce(Interval.union, per_case) for per_case in zip(*cases)]
    return Analysis(ranges, tuple(pieces), len(cases))


def _pieces(ir: IR, whole: list[Interval], max_boxes: int) -> dict[str, list[Interval]]:
    """The inputs to split at zero, each with its pieces: scalar inputs holding zero and more,
    that feed an op where a NaN can be born, in op order while the boxes stay within max_boxes.
    (A vector is never split: its elements could fall in different pieces.)"""
    births = {op.id for op in ir.ops if op.args and _births_nan(op, [whole[a] for a in op.args])}
    pieces: dict[str, list[Interval]] = {}
    boxes = 1
    for op in ir.leaves("input"):
        iv = whole[op.id]
        if op.type.vector or op.type.enum is not None or not iv.lo <= 0.0 <= iv.hi or iv.lo == iv.hi:
            continue
        if not births & ir.downstream(op.id):
            continue
        split = _split_at_zero(iv, op.type.dtype)
        if boxes * len(split) > max_boxes:
            break
        pieces[op.name], boxes = split, boxes * len(split)
    return pieces


def _births_nan(op: Op, args: list[Interval]) -> bool:
    """Can `op` make a NaN from arguments that are not NaN (inf * 0, 0 / 0, inf - inf)?"""
    if op.type.dtype != DType.F64 or op.kind in ("min", "max", "select", "gather"):
        return False
    return transfer(op, [replace(a, nan=False) for a in args]).nan


def _split_at_zero(iv: Interval, dtype: DType) -> list[Interval]:
    """[lo, hi] as its negative numbers, zero, and its positive numbers (each keeps the NaN flag)."""
    zero, step = (0.0, TINY) if dtype == DType.F64 else (0, 1)
    parts = [Interval(iv.lo, -step, iv.nan), Interval(zero, zero, iv.nan), Interval(step, iv.hi, iv.nan)]
    return [p for p in parts if p.lo <= p.hi]


def _pass(ir: IR, params: Mapping[str, Scalar], state: Mapping[str, Interval],
          box: Mapping[str, Interval]) -> list[Interval]:
    ranges: list[Interval] = []
    specs = {s.name: s for s in ir.inputs}
    for op in ir.ops:
        if op.kind == "input":
            ranges.append(box[op.name] if op.name in box else input_interval(specs[op.name]))
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
    return _wrapped(Interval(min(numbers), max(numbers), nan and dtype == DType.F64), dtype)


def _wrapped(exact: Interval, dtype: DType) -> Interval:
    """An int64 result whose exact range leaves int64 wraps around: then nothing is proven."""
    if dtype == DType.I64 and (exact.lo < INT64_MIN or exact.hi > INT64_MAX):
        return Interval(INT64_MIN, INT64_MAX)
    return exact


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
        return _wrapped(Interval(-x.hi, -x.lo, x.nan), dtype)
    if kind == "abs":
        lo = 0 if x.lo <= 0 <= x.hi else min(abs(x.lo), abs(x.hi))
        return _wrapped(Interval(lo, max(abs(x.lo), abs(x.hi)), x.nan), dtype)
    if kind in ("floor", "ceil"):
        fn = math.floor if kind == "floor" else math.ceil
        return Interval(*(float(fn(v)) if math.isfinite(v) else v for v in (x.lo, x.hi)), x.nan)
    if kind == "f2i":
        interval = Interval(f2i(x.lo), f2i(x.hi))  # f2i is monotone: truncation, saturation at the bounds
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
