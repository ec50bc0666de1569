"""Bit-identity checking: compiled kernels vs the interpreter, or vs any Python reference.

Both compiled paths are held to it: the scan kernel (every row in one compiled
loop, the state carried inside it: `violet run`, `violet sweep`) and the step
kernel the runtime calls once per scan, its state handed back in from Python
(`violet replay`, the reactor). They are separate compiled functions, so
agreeing on one proves nothing about the other.

Floats are compared by their 64-bit patterns, so -0.0 differs from 0.0 and
one ULP is a mismatch; every NaN is one value (IEEE 754 leaves the sign and
payload of an arithmetic NaN unspecified, and LLVM uses that freedom, see
docs/semantics.md). Ints are compared exactly. On a mismatch the report names the first
IR op, in evaluation order, whose values differ, the graph node that op came
from, both values, their hex bits and the ULP distance between them.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from violet.compile.identity import float_bits, identity_view, plain, same, stream_differences
from violet.compile.interp import Interpreter
from violet.compile.ir import IR, Op, Scalar
from violet.compile.numba_backend import CompiledGraph
from violet.compile.semantics import C_MATH
from violet.dag.types import DType, ValueType
from violet.errors import InputError, quote
from violet.table_io import trade_stream

Reference = Callable[..., Mapping[str, Any]]


def ulp_distance(a: float, b: float) -> int | None:
    """How many representable float64 values lie between a and b (None if either is NaN)."""
    if math.isnan(a) or math.isnan(b):
        return None

    def ordered(x: float) -> int:
        bits = float_bits(x)
        return -(bits & 0x7FFF_FFFF_FFFF_FFFF) if bits >> 63 else bits

    return abs(ordered(a) - ordered(b))


def describe(value: Any, dtype: DType) -> str:
    if isinstance(value, (list, np.ndarray)):
        return _short([describe(x, dtype) for x in list(value)]).replace("'", "")
    if dtype == DType.F64:
        value = float(value)
        return f"{value!r} (0x{float_bits(value):016x})"
    return repr(value.item() if isinstance(value, np.generic) else value)


def row_name(row: int, scan_id: Any = None) -> str:
    """How a report names a row: its 0-based number, and its scan_id when the table has one (the scan as the
    journal, `violet replay` and `violet dot --scan-id` name it)."""
    return f"row {row}" + ("" if scan_id is None else f" (scan_id {int(scan_id)})")


@dataclass
class Attribution:
    """Where two evaluations of one row first part ways."""

    row: int
    inputs: dict[str, Scalar]
    op: Op
    ir_line: str
    left: Scalar
    right: Scalar
    left_name: str
    right_name: str
    shown: dict[str, Any] = field(default_factory=dict)  # the inputs as a person reads them (enum names)
    note: str = ""

    def render(self) -> str:
        dtype = self.op.type.dtype
        lines = [f"first difference at {row_name(self.row, self.inputs.get('scan_id'))}, node '{self.op.node or '(constant)'}', IR op:",
                 f"    {self.ir_line}",
                 f"  {self.left_name:>11}: {describe(self.left, dtype)}",
                 f"  {self.right_name:>11}: {describe(self.right, dtype)}"]
        if dtype == DType.F64:
            ulp = ulp_distance(float(self.left), float(self.right))
            lines.append(f"  ULP distance: {ulp if ulp is not None else 'n/a (NaN)'}")
        lines.append("  inputs: " + ", ".join(f"{k}={_short(v)}" for k, v in self.shown.items()))
        return "\n".join(lines + ([f"  note: {self.note}"] if self.note else []))


@dataclass
class DiffReport:
    """The outcome of one diff run."""

    rows: int
    compared: list[str]
    mismatched_rows: int
    per_output: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    first: Attribution | None = None
    first_error: str = ""
    seconds: float = 0.0
    against: str = "interpreter"
    trades: TradeReport | None = None
    step: StepReport | None = None  # the same rows through the step kernel, as the runtime calls it

    @property
    def ok(self) -> bool:
        return (self.mismatched_rows == 0 and (self.trades is None or self.trades.ok)
                and (self.step is None or self.step.ok))

    def render(self) -> str:
        lines = [f"compared {self.rows:,} rows x {len(self.compared)} outputs: compiled vs {self.against} (scan kernel)",
                 f"mismatches: {self.mismatched_rows:,} rows ({self.seconds:.1f} s)"]
        lines += [f"  {name}: {count:,}" for name, count in self.per_output.items() if count]
        if self.errors:
            lines.append(f"  the reference raised on {self.errors:,} rows; first: {self.first_error}")
        if self.trades is not None:
            lines.append(self.trades.render())
        if self.step is not None:
            lines.append(self.step.render())
        if self.first is not None:
            lines.append(self.first.render())
        return "\n".join(lines)


def _short(value: Any) -> str:
    """A value for a report line: long vectors abbreviated."""
    if isinstance(value, list) and len(value) > 6:
        return "[" + ", ".join(repr(x) for x in value[:6]) + f", ... ({len(value)} assets)]"
    return repr(value)


def shown_inputs(ir: IR, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Inputs for a report: enum codes as their names."""
    return {spec.name: spec.type.enum[inputs[spec.name]] if spec.type.enum and not spec.type.vector
            else inputs[spec.name] for spec in ir.inputs}


def row_inputs(ir: IR, columns: Mapping[str, np.ndarray], row: int) -> dict[str, Any]:
    """One row's inputs as Python values (universe inputs whole)."""
    return {spec.name: (columns[spec.name] if spec.universe else columns[spec.name][row]).tolist()
            for spec in ir.inputs}


def rows_before(ir: IR, columns: Mapping[str, np.ndarray], row: int) -> dict[str, np.ndarray]:
    """The first `row` rows of the columns (universe inputs whole)."""
    return {spec.name: columns[spec.name] if spec.universe else columns[spec.name][:row] for spec in ir.inputs}


def first_divergence(ir: IR, left: list[Any], right: list[Any]) -> Op | None:
    """The first op, in evaluation order, whose two values differ."""
    return next((op for op in ir.ops if not same(left[op.id], right[op.id])), None)


def diff_interpreter(cg: CompiledGraph, columns: Mapping[str, np.ndarray],
                     params: Mapping[str, Scalar] | None = None) -> DiffReport:
    """Compiled kernel vs the reference interpreter, every output of every row (state carried)."""
    start = time.perf_counter()
    interp = Interpreter(cg.ir)
    expected = interp.batch(columns, params)
    result = _compare(cg.batch(columns, params), expected, "interpreter")
    result.report.step = compare_step(cg, columns, expected, "interpreter", params)
    row = result.first_row
    if row is not None:
        state = interp.scan(rows_before(cg.ir, columns, row), params)[1]
        inputs = row_inputs(cg.ir, columns, row)
        left, right = cg.trace(inputs, params, state), interp.trace(inputs, params, state)
        op = first_divergence(cg.ir, left, right)
        if op is not None:
            result.report.first = Attribution(row, inputs, op, op.render(), left[op.id], right[op.id],
                                              "compiled", "interpreter", shown_inputs(cg.ir, inputs))
    result.report.seconds = time.perf_counter() - start
    return result.report


def diff_reference(cg: CompiledGraph, columns: Mapping[str, np.ndarray], reference: Reference,
                   name: str = "reference", params: Mapping[str, Any] | None = None) -> DiffReport:
    """Compiled kernel vs a Python reference.

    A function is called once per row with the inputs as keyword arguments; a
    class is an engine: built with the universe inputs as keywords, fed each row
    through `on_scan(**inputs)` in order, its `trades` compared with the graph's
    trade stream. Either returns a mapping keyed by output names; enums as names.
    `params` (the graph's parameters set away from their defaults) go to the
    reference as keywords too: to the engine's constructor, or to every call.
    """
    start = time.perf_counter()
    ir = cg.ir
    if ir.stateful and not inspect.isclass(reference):
        raise InputError(f"{ir.name} carries state, so its reference must be an engine class with on_scan()",
                         where=name, fix="point --reference at a class, e.g. violet.legacy.engine:BlueEngine")
    universe = {spec.name: columns[spec.name].tolist() for spec in ir.inputs if spec.universe}
    engine = build_engine(reference, universe, params or {}, name) if inspect.isclass(reference) else None
    call = engine.on_scan if engine is not None else with_params(reference, params or {}, name)
    expected, errors, first_error = call_reference(ir, columns, call)
    compared = [n for n in ir.output_names if n in expected]
    if not compared:
        raise InputError(f"the reference returned none of the graph's outputs ({', '.join(ir.output_names)})",
                         where=name, fix="return a mapping keyed by the graph's output names")
    got = cg.batch(columns)
    result = _compare(got, {n: expected[n] for n in compared}, name, errors)
    report = result.report
    report.errors, report.first_error = int(errors.sum()), first_error
    if engine is not None and trade_stream(ir) is not None:
        report.trades = compare_trades(ir, got, getattr(engine, "trades", []))
    report.step = compare_step(cg, columns, {n: expected[n] for n in compared}, name, valid=~errors,
                               trades=getattr(engine, "trades", None) if report.trades is not None else None)
    row = result.first_row
    if row is not None and not errors[row]:
        report.first = _output_attribution(cg, columns, row, {n: expected[n][row] for n in compared}, name)
    report.seconds = time.perf_counter() - start
    return report


def build_engine(cls: Any, universe: Mapping[str, list], params: Mapping[str, Any], name: str) -> Any:
    """An engine built with the universe inputs and the parameters as keywords; one whose constructor
    cannot take them is refused (a reference compared at the wrong parameter point proves nothing)."""
    try:
        inspect.signature(cls).bind(**universe, **params)
        return cls(**universe, **params)
    except (TypeError, ValueError) as exc:
        taken = ", ".join([*universe, *params])
        raise InputError(f"{quote(name)} cannot be built from {taken}: {quote(str(exc))}", where="--reference",
                         fix="its constructor must take the universe inputs and the --set parameters as keywords"
                         ) from None


def with_params(fn: Reference, params: Mapping[str, Any], name: str) -> Reference:
    """A reference function with the parameters bound as keywords; one that cannot take them is refused."""
    if not params:
        return fn
    try:
        inspect.signature(fn).bind_partial(**params)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{quote(name)} takes no parameter {quote(str(exc))}", where="--reference",
                         fix="a reference compared at --set values takes each parameter as a keyword") from None
    return functools.partial(fn, **params)


def _output_attribution(cg: CompiledGraph, columns: Mapping[str, np.ndarray], row: int,
                        ref: dict[str, Any], name: str) -> Attribution | None:
    """First differing output in evaluation order; the graph cannot see inside the reference."""
    ir = cg.ir
    state = Interpreter(ir).scan(rows_before(ir, columns, row))[1] if ir.stateful else None
    inputs = row_inputs(ir, columns, row)
    values = cg.trace(inputs, None, state)
    producer = dict(ir.outputs)
    for out_name in sorted(ref, key=lambda n: (producer[n], n)):
        op = ir.ops[producer[out_name]]
        if not same(values[op.id], ref[out_name]):
            return Attribution(row, inputs, op, f"{op.render()}   (output '{out_name}')",
                               values[op.id], ref[out_name], "compiled", name, shown_inputs(ir, inputs),
                               libm_note(ir, op.id))
    return None


def libm_note(ir: IR, op_id: int) -> str:
    """Which C-library functions (exp, log, pow, ...) an output depends on: their bits are the platform's
    libm's, and a reference computing them another way (numpy's vectorised np.exp) may differ by an ULP."""
    cone, used = {op_id}, []
    for op in reversed(ir.ops[:op_id + 1]):
        if op.id in cone:
            cone.update(op.args)
            if op.kind in C_MATH:
                used.append(f"{op.kind} (node '{op.node}')")
    if not used:
        return ""
    return (f"this output depends on {', '.join(reversed(used))}: the C library's value, which a reference "
            "using numpy's vectorised functions may miss by an ULP (docs/semantics.md, 'Transcendental functions')")


def call_reference(ir: IR, columns: Mapping[str, np.ndarray], reference: Reference
                   ) -> tuple[dict[str, np.ndarray], np.ndarray, str]:
    """Call the reference once per row, in order; enums are passed and returned as names."""
    per_row = [spec for spec in ir.inputs if not spec.universe]
    names = [spec.name for spec in per_row]
    cols = []
    for spec in per_row:
        values = columns[spec.name].tolist()
        cols.append([spec.type.enum[v] for v in values] if spec.type.enum else values)
    n = len(cols[0]) if cols else 0
    assets = next((columns[spec.name].shape[1] for spec in per_row if spec.type.vector), None)
    out = {name: np.zeros((n, assets) if ir.ops[i].type.vector else n, dtype=ir.ops[i].type.dtype.value)
           for name, i in ir.outputs if assets is not None or not ir.ops[i].type.vector}
    errors = np.zeros(n, dtype=bool)
    first_error = ""
    returned: set[str] = set()
    for r, row in enumerate(zip(*cols)):
        try:
            result = reference(**dict(zip(names, row)))
            for key, value in result.items():
                if key in out:
                    _store(out[key], r, value, key, ir.output_type(key))
            returned |= set(result)
        except Exception as exc:  # the reference's failure is data for the report, not a crash
            errors[r] = True
            first_error = first_error or f"row {r}: {type(exc).__name__}: {exc}"
    return {k: v for k, v in out.items() if k in returned or not returned}, errors, first_error


def _store(column: np.ndarray, row: int, value: Any, key: str, vtype: ValueType) -> None:
    """Store a reference value: enums by name, an int64 output only from an int, a vector's N values each."""
    if vtype.vector:
        values = list(value)
        if len(values) != column.shape[1]:
            raise TypeError(f"output '{key}' is {vtype} over {column.shape[1]} assets, the reference returned "
                            f"{len(values)} values")
        for k, item in enumerate(values):
            _store(column[row], k, item, key, ValueType(vtype.dtype, vtype.enum))
        return
    if vtype.enum is not None:
        if value not in vtype.enum:
            raise TypeError(f"output '{key}' is {vtype}, the reference returned {value!r}")
        value = vtype.enum.index(value)
    elif column.dtype == np.int64 and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
        raise TypeError(f"output '{key}' is int64 in the graph, the reference returned {type(value).__name__} {value!r}")
    column[row] = value


def run_step(cg: CompiledGraph, columns: Mapping[str, np.ndarray], params: Mapping[str, Scalar] | None = None
             ) -> dict[str, np.ndarray]:
    """Every row through the compiled step kernel, one call each, its next state handed back in from
    Python on the next call: the path the runtime takes (violet/runtime/engine.py), which the scan
    kernel's compiled loop does not exercise. A stateful graph starts from its initial state."""
    ir = cg.ir
    per_row = [spec.name for spec in ir.inputs if not spec.universe]
    universe = {spec.name: columns[spec.name] for spec in ir.inputs if spec.universe}
    n = len(columns[per_row[0]]) if per_row else 0
    values: dict[str, list[Any]] = {name: [] for name in ir.output_names}
    state: Mapping[str, Any] | None = None  # the step kernel starts from the initial state
    for r in range(n):
        outputs, state = cg.advance({**universe, **{name: columns[name][r] for name in per_row}}, state, params)
        for name, value in outputs.items():
            values[name].append(value)
    return {name: np.array(vals, dtype=ir.output_type(name).dtype.value).reshape(n, *np.shape(vals)[1:])
            for name, vals in values.items()}


@dataclass
class StepReport:
    """The step kernel, row by row with the state threaded through Python, against the same expectation
    as the scan kernel: rows and outputs compared, rows that differ, the first difference."""

    rows: int
    outputs: int
    mismatched_rows: int
    per_output: dict[str, int]
    against: str
    first: str = ""
    trades: TradeReport | None = None

    @property
    def ok(self) -> bool:
        return self.mismatched_rows == 0 and (self.trades is None or self.trades.ok)

    def render(self) -> str:
        lines = [f"step kernel (one call per row, state threaded in Python, as the runtime runs it) vs "
                 f"{self.against}: {self.rows:,} rows x {self.outputs} outputs compared, "
                 f"mismatches: {self.mismatched_rows:,} rows"]
        lines += [f"  {name}: {count:,}" for name, count in self.per_output.items() if count]
        if self.trades is not None:
            lines.append("  step " + self.trades.render())
        return "\n".join(lines + ([f"  first: {self.first}"] if self.first else []))


def compare_step(cg: CompiledGraph, columns: Mapping[str, np.ndarray], expected: Mapping[str, np.ndarray],
                 against: str, params: Mapping[str, Scalar] | None = None, valid: np.ndarray | None = None,
                 trades: list[Mapping[str, Any]] | None = None) -> StepReport:
    """run_step's outputs vs `expected` on the rows `valid` marks (all by default; a reference that
    raised on a row is counted by the scan's report), bit for bit; with an engine's `trades`, the step
    path's trade stream against them too."""
    got = run_step(cg, columns, params)
    differ, per_output = _differing(got, expected, valid)
    rows = np.flatnonzero(differ)
    report = StepReport(len(differ), len(expected), len(rows), per_output, against)
    if len(rows):
        row = int(rows[0])
        name = next(n for n in expected if not same(got[n][row], expected[n][row]))
        dtype = cg.ir.output_type(name).dtype
        scan_id = columns["scan_id"][row] if "scan_id" in columns else None
        report.first = (f"{row_name(row, scan_id)}, output '{name}': step {describe(got[name][row], dtype)}, "
                        f"{against} {describe(expected[name][row], dtype)}")
    if trades is not None:
        report.trades = compare_trades(cg.ir, got, trades)
    return report


def compare_trades(ir: IR, got: Mapping[str, np.ndarray], trades: list[Mapping[str, Any]]) -> TradeReport:
    """The graph's trade stream (violet.table_io.TradeStream: every lane's, in the order they close) vs the
    engine's list of trades, field by field (and lane by lane, for several lanes)."""
    stream = trade_stream(ir)
    assert stream is not None, "compare_trades needs a graph that closes trades"
    mine = stream.columns(got)
    fields = stream.compared
    ours = [{name: mine[name][k] for name in fields} for k in range(len(mine["lane"]))]
    report = TradeReport(len(ours), len(trades))
    differing = [d for d in stream_differences(fields, ours, trades) if d.field != "count"]  # counts: the report's
    report.mismatches = len(differing)
    if differing:
        d = differing[0]
        report.first = f"trade {d.index} field {d.field}: graph {plain(d.mine)!r}, reference {d.theirs!r}"
    return report


@dataclass
class TradeReport:
    """Trades: how many each side closed, and how many differ."""

    graph: int
    reference: int
    mismatches: int = 0
    first: str = ""

    @property
    def ok(self) -> bool:
        return self.mismatches == 0 and self.graph == self.reference

    def render(self) -> str:
        head = f"trades: {self.graph:,} (graph) vs {self.reference:,} (reference), {self.mismatches:,} differ"
        return head + (f"\n  first: {self.first}" if self.first else "")


@dataclass
class _Compared:
    report: DiffReport
    first_row: int | None


def _differing(got: Mapping[str, np.ndarray], expected: Mapping[str, np.ndarray], valid: np.ndarray | None = None
               ) -> tuple[np.ndarray, dict[str, int]]:
    """Which rows differ in some expected output (bit patterns; every NaN one value), among the rows
    `valid` marks, and how many rows differ per output."""
    n = len(next(iter(got.values())))
    bad = np.zeros(n, dtype=bool)
    per_output = {}
    for name, want in expected.items():
        have = got[name]
        differ = identity_view(have) != identity_view(want) if have.dtype == np.float64 else have != want
        if differ.ndim > 1:
            differ = differ.any(axis=1)
        if valid is not None:
            differ &= valid
        per_output[name] = int(differ.sum())
        bad |= differ
    return bad, per_output


def _compare(got: Mapping[str, np.ndarray], expected: Mapping[str, np.ndarray],
             against: str, errors: np.ndarray | None = None) -> _Compared:
    bad, per_output = _differing(got, expected)
    if errors is not None:
        bad |= errors
    rows = np.flatnonzero(bad)
    report = DiffReport(len(bad), list(expected), int(bad.sum()), per_output, against=against)
    return _Compared(report, int(rows[0]) if len(rows) else None)


def load_reference(spec: str) -> Reference:
    """`package.module:function` or `path/to/file.py:function` -> the callable."""
    target, sep, func = spec.rpartition(":")
    if not sep or not target or not func:
        raise InputError(f"bad reference {spec!r}", where="--reference",
                         fix="write module:function, e.g. violet.legacy.sizing:size")
    try:
        module = _load_module(target)
    except (ImportError, OSError) as exc:
        raise InputError(f"cannot import {target!r}: {exc}", where="--reference",
                         fix="check the module path (it must be importable) or the file path") from None
    fn = getattr(module, func, None)
    if not callable(fn):
        raise InputError(f"{target!r} has no callable {func!r}", where="--reference", fix="check the function name")
    return fn


def _load_module(target: str) -> Any:
    if target.endswith(".py"):
        path = Path(target)
        spec = importlib.util.spec_from_file_location(path.stem, path)
        if spec is None or spec.loader is None or not path.is_file():
            raise ImportError(f"no such file {target}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    return importlib.import_module(target)
