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

import itertools
import math
import random
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from violet.compile.interp import Interpreter
from violet.compile.ir import IR, LEAVES, Op, input_shape
from violet.compile.ops import Refusal, spec
from violet.compile.qformat import Fmt, LoweringError, saturate
from violet.compile.ranges import Interval, analyze, input_interval
from violet.compile.reassociate import regroup_products
from violet.dag.types import DType

__all__ = ["MISSING", "FixedConfig", "FixedModel", "Fmt", "LoweringError", "error_report", "monte_carlo_rows",
           "quantize"]


MONOTONE = frozenset({"add", "sub", "mul", "div", "min", "max", "neg", "floor", "ceil", "f2i", "i2f"})  # monotone rules
WIDE = 1 << 16  # integer bits of a format no exact result leaves: the rules' results unsaturated
WIDEN_RAW = 8  # rounds of the state fields' raw bounds before one still growing takes its whole format


@dataclass(frozen=True)
class FixedConfig:
    """`bound_inputs`: an input declaring a typical range gets the format that holds it (instead of
    `max_int_bits` where its type is unbounded) and saturates beyond it, and its range is the format's; so
    does a node's value declaring one (`IR.typical`: blue_exit's pnl, which no analysis bounds below).
    `assets`: the universe size the module is built for; an index (argmax, argmin, rank) or count is then
    proven within it (a module built for more assets refuses the format: verilog's `refuse_short_index`).
    `as_written`: products keep the graph's grouping (else chains of them are regrouped earliest factor
    first: `violet.compile.reassociate`)."""

    frac_bits: int = 24
    max_int_bits: int = 24
    bound_inputs: bool = False
    assets: int | None = None  # the universe the hardware is built for: indices and counts sized to it
    as_written: bool = False


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


def refuse_nan_state(ir: IR) -> None:
    """Refuse a state field that starts at NaN (a lag's default fill, a rolling window, an EWMA), naming it:
    a register has no NaN."""
    for s in ir.state:
        if isinstance(s.init, float) and math.isnan(s.init):
            raise LoweringError(f"state '{s.name}' starts at NaN, which has no fixed-point value"
                                + (f" ({s.doc})" if s.doc else ""), where=ir.name,
                                fix="a register has no NaN: start the field at a number (for a lag, give a "
                                    "finite fill: lag(x, k, 0.0))")


def refuse_unlowerable(ir: IR) -> None:
    """Refuse, before any evaluation, an op whose catalog entry has no fixed-point rule, with its reason."""
    for op in ir.ops:
        if op.kind not in LEAVES and isinstance(rule := spec(op.kind).fixed, Refusal):
            raise LoweringError(f"op '{op.kind}' has no fixed-point lowering: {rule.reason}", where=f"node '{op.node}'",
                                fix=op.render())


def int_bits_for(interval: Interval, frac_bits: int) -> int | None:
    """The fewest integer bits m with -2**m <= lo and hi <= 2**m - 2**-n (None if unbounded or only NaN)."""
    if interval.lo > interval.hi or math.isinf(interval.lo) or math.isinf(interval.hi):
        return None
    lo, hi, ulp = Fraction(interval.lo), Fraction(interval.hi), Fraction(1, 1 << frac_bits)
    bits = 0
    while lo < -(1 << bits) or hi > (1 << bits) - ulp:
        bits += 1
    return bits


def typical_bounds(ir: IR, cfg: FixedConfig) -> dict[str, Interval]:
    """Each numeric input declaring a typical range: its declared interval narrowed to the format that
    holds the typical range (the input saturates there), for the analysis to start from."""
    bounds = {}
    for op in ir.leaves("input"):
        spec_ = ir.input_spec(op.name)
        if spec_.refine.typical is None or op.type.enum is not None or op.type.dtype == DType.BOOL:
            continue
        if (held := _held(op, spec_.refine.typical, cfg)) is not None:
            iv = input_interval(spec_)
            bounds[op.name] = Interval(max(iv.lo, held.lo), min(iv.hi, held.hi), iv.nan)
    return bounds


def typical_clamps(ir: IR, cfg: FixedConfig) -> dict[int, Interval]:
    """Each node's value declaring a typical range (by op id): the range of the format that holds it, which
    the value saturates to."""
    return {i: held for i, lo, hi in ir.typical if (held := _held(ir.ops[i], (lo, hi), cfg)) is not None}


def _held(op: Op, typical: tuple[float, float], cfg: FixedConfig) -> Interval | None:
    """The range of the format holding a typical range, at op's fractional bits; None where it would take
    `max_int_bits` or more (the default format holds it already)."""
    frac = cfg.frac_bits if op.type.dtype == DType.F64 else 0
    bits = int_bits_for(Interval(*typical), frac)
    if bits is None or bits >= cfg.max_int_bits:
        return None
    fmt = Fmt(bits, frac)
    lo, hi = fmt.lo / (1 << frac), fmt.hi / (1 << frac)
    return Interval(int(lo), int(hi)) if op.type.dtype == DType.I64 else Interval(lo, hi)


def choose_formats(ir: IR, ranges: list[Interval], cfg: FixedConfig, clamps: Collection[int] = ()) -> list[Fmt]:
    """A format for every op (a vector's elements share it): from its proven range, capped and
    saturating where none is proven; saturating too for the values in `clamps` (their declared typical
    range bounds them)."""
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
            formats.append(Fmt(bits, frac, saturates=op.id in clamps))
    return formats


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


def to_number(raw: int | Missing, fmt: Fmt) -> float | int | bool:
    if raw is MISSING:
        return math.nan
    if fmt.boolean:
        return bool(raw)
    return raw / (1 << fmt.frac_bits) if fmt.frac_bits else raw


class FixedModel:
    """The IR evaluated in fixed point, with the formats chosen for it. `ir` is the hardware's: the graph's,
    its chains of products regrouped unless `cfg.as_written` (op ids then differ from the graph's: read
    formats, ranges and traces by `model.ir`'s ids)."""

    def __init__(self, graph: IR, cfg: FixedConfig = FixedConfig(), params: Mapping[str, Any] | None = None) -> None:
        self.cfg = cfg
        refuse_nan_state(graph)
        self.params = {**graph.param_defaults, **(params or {})}
        bounds = typical_bounds(graph, cfg) if cfg.bound_inputs else None
        clamps = typical_clamps(graph, cfg) if cfg.bound_inputs else {}
        self.ranges = analyze(graph, self.params, bounds, cfg.assets, clamps)
        self.ir = ir = graph if cfg.as_written else regroup_products(graph, self.ranges)
        if ir is not graph:  # the regrouped products' ranges (the declared ones by the new op ids)
            clamps = typical_clamps(ir, cfg) if cfg.bound_inputs else {}
            self.ranges = analyze(ir, self.params, bounds, cfg.assets, clamps)
        self.declared = set(clamps)  # the nodes' values saturating to a declared typical range
        self.formats = choose_formats(ir, self.ranges, cfg, self.declared)
        self.missing = missing_ops(ir, self.params)
        refuse_unlowerable(ir)
        self._constants: dict[int, int | Missing] = {}
        self._folded: dict[int, int | None] = {}
        self._exact_bounds, self._raw_bounds = self._state_fixpoint()

    def initial_state(self, assets: int) -> dict[str, Any]:
        """The state fields' raw initial values (the registers' reset values), a list of `assets` of them
        for a vector field."""
        start = self.ir.initial_state(assets)
        return {op.name: [quantize(x, self.formats[op.id]) for x in start[op.name].tolist()] if op.type.vector
                else quantize(start[op.name], self.formats[op.id]) for op in self.ir.leaves("state")}

    def trace(self, inputs: Mapping[str, Any], state: Mapping[str, Any] | None = None) -> list[Any]:
        """Every op's raw value (a list for a vector) for one row of (float) inputs and raw state."""
        state = self.initial_state(input_shape(self.ir, inputs, rows=False)[1]) if state is None else state
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

    def advance(self, inputs: Mapping[str, Any], state: Mapping[str, Any] | None = None
                ) -> tuple[list[Any], dict[str, Any]]:
        """One scan: the trace, and the next raw state."""
        v = self.trace(inputs, state)
        return v, {name: v[i] for name, i in self.ir.next_state}

    def _apply(self, op: Op, a: list[Any], fa: list[Fmt], out: Fmt) -> Any:
        """The op's catalog rule on raw values, per asset for an elementwise op on vectors."""
        entry = spec(op.kind)
        rule = entry.fixed
        if not (entry.elementwise and op.type.vector):
            return rule(op, a, fa, out)
        n = len(next(x for x in a if isinstance(x, list)))
        return [rule(op, [x[j] if isinstance(x, list) else x for x in a], fa, out) for j in range(n)]

    def constant(self, op: Op) -> int | Missing:
        """The raw value of a param or const op (parameters are constants of the hardware)."""
        if op.id not in self._constants:
            value = self.params[op.name] if op.kind == "param" else op.value
            self._constants[op.id] = MISSING if op.id in self.missing else quantize(value, self.formats[op.id])
        return self._constants[op.id]

    def folded(self, i: int) -> int | None:
        """Op i's raw value when it depends only on parameters and constants (a constant of the hardware,
        which may then divide by it with a multiplication), else None."""
        if i not in self._folded:
            op = self.ir.ops[i]
            args = [self.folded(a) for a in op.args]
            if op.kind in ("param", "const"):
                value = self.constant(op)
                self._folded[i] = None if value is MISSING else value
            elif op.kind in ("input", "state") or not op.args or op.type.vector or None in args:
                self._folded[i] = None
            else:
                self._folded[i] = self._apply(op, args, [self.formats[a] for a in op.args], self.formats[i])
        return self._folded[i]

    def few_values(self, i: int, limit: int = 16) -> list[tuple[int, int]] | None:
        """The raw values op i can take when the hardware can list them: [(0, v)] for a constant, or
        [(k, raw of float(k))] for an int-to-float of an integer proven in a range of at most `limit`
        values (blue_sizing's exchange leverage, in [1, 9]); else None."""
        folded = self.folded(i)
        if folded is not None:
            return [(0, folded)]
        op = self.ir.ops[i]
        if op.kind != "i2f" or op.type.vector:
            return None
        iv, fa = self.ranges[op.args[0]], [self.formats[op.args[0]]]
        if iv.nan or not (math.isfinite(iv.lo) and math.isfinite(iv.hi)) or iv.hi - iv.lo >= limit:
            return None
        return [(k, self._apply(op, [k], fa, self.formats[i])) for k in range(int(iv.lo), int(iv.hi) + 1)]

    def _state_fixpoint(self) -> tuple[list[tuple[int, int] | None], list[tuple[int, int]]]:
        """`_bounds` with each state field's raw bounds grown from its initial value by its next values to a
        fixpoint (a field still growing after WIDEN_RAW rounds takes its whole format): blue_exit's entry
        price is never negative, as the price it is written from."""
        whole = {op.name: (self.formats[op.id].lo, self.formats[op.id].hi) for op in self.ir.leaves("state")}
        start = self.initial_state(1)
        state = {name: (v, v) for name, raw in start.items() for v in [raw[0] if isinstance(raw, list) else raw]}
        for round_ in range(WIDEN_RAW + len(whole) + 1):
            exact, raw = self._bounds(state)
            grown = {name: (min(state[name][0], raw[i][0]), max(state[name][1], raw[i][1]))
                     for name, i in self.ir.next_state}
            if grown == state:
                break
            state = {name: whole[name] if round_ >= WIDEN_RAW and grown[name] != state[name] else grown[name]
                     for name in grown}
        return exact, raw

    def _bounds(self, state: Mapping[str, tuple[int, int]]) -> tuple[list[tuple[int, int] | None],
                                                                      list[tuple[int, int]]]:
        """Every op's exact bounds (or None) and raw bounds, in op order, each from the raw bounds of what
        it reads (see `exact_bounds`); a state field's from `state`."""
        exact: list[tuple[int, int] | None] = []
        raw: list[tuple[int, int]] = []
        for op in self.ir.ops:
            fmt, args = self.formats[op.id], [raw[a] for a in op.args]
            ends = None
            if op.kind in MONOTONE and (op.kind != "div" or args[1][0] > 0 or args[1][1] < 0):
                rule, fa, wide = spec(op.kind).fixed, [self.formats[a] for a in op.args], Fmt(WIDE, fmt.frac_bits)
                corners = [rule(op, list(c), fa, wide) for c in itertools.product(*args)]
                ends = (min(corners), max(corners))
            elif op.kind == "select":  # either branch's value, unchanged
                ends = (min(args[1][0], args[2][0]), max(args[1][1], args[2][1]))
            elif op.kind == "gather":  # an element, or 0 outside the universe
                ends = (saturate(min(args[0][0], 0), fmt), saturate(max(args[0][1], 0), fmt))
            exact.append(ends)
            if op.kind in ("param", "const"):
                value = self.constant(op)
                raw.append((0, 0) if value is MISSING else (value, value))
            elif op.kind == "input" and not fmt.boolean and self.ranges[op.id].lo <= self.ranges[op.id].hi:
                raw.append((quantize(self.ranges[op.id].lo, fmt), quantize(self.ranges[op.id].hi, fmt)))
            elif op.kind == "state":
                raw.append(state[op.name])
            elif ends is None:
                raw.append((fmt.lo, fmt.hi))
            else:  # the rules saturate to the format, but a select passes its branch's value as it is
                raw.append(ends if op.kind in ("select", "gather") else (saturate(ends[0], fmt), saturate(ends[1], fmt)))
        return exact, raw

    def exact_bounds(self, i: int) -> tuple[int, int] | None:
        """The raw bounds of op i's exact result before it is fitted to its format, when its rule is monotone
        in each argument (add, sub, mul, min, max, neg, and div by a divisor that cannot be 0): the rule at the
        corners of its arguments' raw bounds, unsaturated; a select's, the union of its branches'. The raw bounds of a value: an input's proven range
        quantized (the boundary refuses what its refined type excludes), a constant's value, the exact bounds
        saturated, else the format's. The hardware saturates only where the exact bounds leave the format:
        `s * s` of an `s` proven in [0, 1] needs no clamp, though two Q1.n can make 4."""
        return self._exact_bounds[i]

    def raw_bounds(self, i: int) -> tuple[int, int]:
        """The raw bounds of op i's value (see `exact_bounds`): a divider whose numerator cannot be negative
        needs no complement of it."""
        return self._raw_bounds[i]

    def unbounded(self) -> list[tuple[str, int]]:
        """The values whose format fell back to `max_int_bits` (no finite range proven), one per input,
        state field and node (its last such op): what saturates, and what `--bound-inputs` (or narrower
        refined input types) would narrow."""
        named: dict[str, int] = {}
        for op in self.ir.ops:
            if self.formats[op.id].saturates and op.kind not in ("param", "const") and op.id not in self.declared:
                named[f"{op.kind} {op.name}" if op.kind in ("input", "state") else f"node {op.node}"] = op.id
        return list(named.items())

    def step(self, inputs: Mapping[str, Any], state: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Outputs as numbers (raw / 2**frac_bits), for comparison with the float interpreter."""
        v = self.trace(inputs, state)
        return {name: to_number(v[i], self.formats[i]) for name, i in self.ir.outputs}


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
        for inp in model.ir.inputs:
            fmt = model.formats[next(op.id for op in model.ir.ops if op.kind == "input" and op.name == inp.name)]
            if inp.type.enum is not None:
                row[inp.name] = rnd.randrange(len(inp.type.enum))
            elif fmt.boolean:
                row[inp.name] = rnd.random() < 0.5
            else:
                lo, hi = inp.refine.typical or (fmt.lo / (1 << fmt.frac_bits), fmt.hi / (1 << fmt.frac_bits))
                iv = model.ranges[next(op.id for op in model.ir.ops if op.kind == "input" and op.name == inp.name)]
                lo, hi = max(lo, iv.lo), min(hi, iv.hi)
                row[inp.name] = rnd.randint(int(lo), int(hi)) if inp.type.dtype == DType.I64 else rnd.uniform(lo, hi)
        rows.append(row)
    return rows
