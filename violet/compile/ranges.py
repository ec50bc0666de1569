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
(after a few rounds, each field still growing to the whole type's range, until
none grows), so a stateful graph's ranges hold on every scan. This feeds the fixed-point formats of the FPGA lowering.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from violet.compile.interval import BOOL, INF, Interval, point
from violet.compile.ir import IR, Op, Scalar
from violet.compile.ops import Refusal, spec
from violet.dag.types import INT64_MAX, INT64_MIN, DType, InputSpec

__all__ = ["Interval", "analysis", "analyze", "ranges_by_node", "transfer"]
FMAX = 1.7976931348623157e308
WIDEN_AFTER = 8  # fixpoint rounds before a state field's range is widened to its whole type
MAX_BOXES = 64  # the most cases (boxes of input pieces) one pass analyses
TINY = math.ulp(0.0)  # the smallest positive float64


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


def analyze(ir: IR, params: Mapping[str, Scalar] | None = None, inputs: Mapping[str, Interval] | None = None,
            assets: int | None = None, clamps: Mapping[int, Interval] | None = None) -> list[Interval]:
    """The interval of every op (state fields at their fixpoint)."""
    return analysis(ir, params, inputs=inputs, assets=assets, clamps=clamps).ranges


def analysis(ir: IR, params: Mapping[str, Scalar] | None = None, max_boxes: int = MAX_BOXES,
             inputs: Mapping[str, Interval] | None = None, assets: int | None = None,
             clamps: Mapping[int, Interval] | None = None) -> Analysis:
    """The interval of every op by cases on the inputs' signs, state fields at their fixpoint. `inputs`
    narrows some inputs' intervals (the hardware's input formats, which saturate beyond them); `assets`, the
    universe's size where it is known (hardware built for N assets), bounds indices and counts by it;
    `clamps`, by op id, the bounds some ops' values saturate to (a node's format sized to its declared
    typical range)."""
    values = {**ir.param_defaults, **(params or {})}
    narrowed = inputs or {}
    bounds = {s.name: narrowed[s.name] if s.name in narrowed else input_interval(s) for s in ir.inputs}
    state = {s.name: point(s.init) for s in ir.state}
    pass_ = functools.partial(_pass, assets=assets, clamps=clamps or {})
    # past WIDEN_AFTER, every round that is not a fixpoint widens a field to its whole type, which cannot grow
    # again: one round per field more reaches the fixpoint (a lag's shift register widens one field a round)
    for round_ in range(WIDEN_AFTER + len(ir.state) + 2):
        result = _cases(ir, values, state, max_boxes, bounds, pass_)
        grown = {name: state[name].union(result.ranges[i]) for name, i in ir.next_state}
        if grown == state:
            return result
        if round_ >= WIDEN_AFTER:  # still growing: widen only the fields that grew
            grown = {name: type_interval(ir.ops[i]) if grown[name] != state[name] else state[name]
                     for name, i in ir.next_state}
        state = grown
    return _cases(ir, values, state, max_boxes, bounds, pass_)


def _cases(ir: IR, params: Mapping[str, Scalar], state: Mapping[str, Interval], max_boxes: int,
           inputs: Mapping[str, Interval], pass_: Callable[..., list[Interval]]) -> Analysis:
    """One pass, by cases: the union over the boxes of the split inputs' pieces."""
    whole = pass_(ir, params, state, inputs)
    pieces = _pieces(ir, whole, max_boxes)
    if not pieces:
        return Analysis(whole, (), 1)
    boxes = itertools.product(*pieces.values())
    cases = [pass_(ir, params, state, {**inputs, **dict(zip(pieces, box))}) for box in boxes]
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
          inputs: Mapping[str, Interval], assets: int | None, clamps: Mapping[int, Interval]) -> list[Interval]:
    """One pass over the ops, each input at its interval in `inputs` (a box's piece, or its whole range), each
    op in `clamps` saturated to its bounds."""
    ranges: list[Interval] = []
    for op in ir.ops:
        if op.kind == "input":
            ranges.append(inputs[op.name])
        elif op.kind == "param":
            ranges.append(point(params[op.name]))
        elif op.kind == "const":
            ranges.append(point(op.value))
        elif op.kind == "state":
            ranges.append(state[op.name])
        else:
            ranges.append(transfer(op, [ranges[a] for a in op.args], assets))
        if op.id in clamps:
            ranges[-1] = ranges[-1].saturated(clamps[op.id].lo, clamps[op.id].hi)
    return ranges


def transfer(op: Op, a: list[Interval], assets: int | None = None) -> Interval:
    """The interval of `op` given its arguments' intervals: the op's catalog rule, within its range over
    `assets` assets where it depends on the universe's size and that size is known."""
    op_spec = spec(op.kind)
    rule = op_spec.interval
    if isinstance(rule, Refusal):
        raise ValueError(f"no range rule for op kind {op.kind!r}: {rule.reason}")
    result = rule(op, a)
    return result.intersect(op_spec.universe(assets)) if assets is not None and op_spec.universe else result


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
