"""Bit-identity checking: compiled kernels vs the interpreter, or vs any Python reference.

Floats are compared by their 64-bit patterns (so -0.0 differs from 0.0 and
every NaN bit counts), ints exactly. On a mismatch the report names the first
IR op, in evaluation order, whose values differ, the graph node that op came
from, both values, their hex bits and the ULP distance between them.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from violet.compile.interp import Interpreter
from violet.compile.ir import IR, Op, Scalar
from violet.compile.numba_backend import CompiledGraph
from violet.dag.types import DType
from violet.errors import InputError

Reference = Callable[..., Mapping[str, Any]]


def float_bits(x: float) -> int:
    return int(np.float64(x).view(np.uint64))


def ulp_distance(a: float, b: float) -> int | None:
    """How many representable float64 values lie between a and b (None if either is NaN)."""
    if math.isnan(a) or math.isnan(b):
        return None

    def ordered(x: float) -> int:
        bits = float_bits(x)
        return -(bits & 0x7FFF_FFFF_FFFF_FFFF) if bits >> 63 else bits

    return abs(ordered(a) - ordered(b))


def same(a: Scalar, b: Scalar, dtype: DType) -> bool:
    return float_bits(a) == float_bits(b) if dtype == DType.F64 else a == b


def describe(value: Scalar, dtype: DType) -> str:
    if dtype == DType.F64:
        return f"{value!r} (0x{float_bits(value):016x})"
    return repr(value)


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

    def render(self) -> str:
        dtype = self.op.type.dtype
        lines = [f"first difference at row {self.row}, node '{self.op.node or '(constant)'}', IR op:",
                 f"    {self.ir_line}",
                 f"  {self.left_name:>11}: {describe(self.left, dtype)}",
                 f"  {self.right_name:>11}: {describe(self.right, dtype)}"]
        if dtype == DType.F64:
            ulp = ulp_distance(float(self.left), float(self.right))
            lines.append(f"  ULP distance: {ulp if ulp is not None else 'n/a (NaN)'}")
        lines.append("  inputs: " + ", ".join(f"{k}={v!r}" for k, v in self.inputs.items()))
        return "\n".join(lines)


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

    @property
    def ok(self) -> bool:
        return self.mismatched_rows == 0

    def render(self) -> str:
        lines = [f"compared {self.rows:,} rows x {len(self.compared)} outputs: compiled vs {self.against}",
                 f"mismatches: {self.mismatched_rows:,} rows ({self.seconds:.1f} s)"]
        lines += [f"  {name}: {count:,}" for name, count in self.per_output.items() if count]
        if self.errors:
            lines.append(f"  the reference raised on {self.errors:,} rows; first: {self.first_error}")
        if self.first is not None:
            lines.append(self.first.render())
        return "\n".join(lines)


def row_inputs(ir: IR, columns: Mapping[str, np.ndarray], row: int) -> dict[str, Scalar]:
    return {spec.name: columns[spec.name][row].item() for spec in ir.inputs}


def first_divergence(ir: IR, left: list[Scalar], right: list[Scalar]) -> Op | None:
    """The first op, in evaluation order, whose two values differ."""
    return next((op for op in ir.ops if not same(left[op.id], right[op.id], op.type.dtype)), None)


def diff_interpreter(cg: CompiledGraph, columns: Mapping[str, np.ndarray],
                     params: Mapping[str, Scalar] | None = None) -> DiffReport:
    """Compiled batch kernel vs the reference interpreter, every output, every row."""
    start = time.perf_counter()
    interp = Interpreter(cg.ir)
    expected = interp.batch(columns, params)
    report = _compare(cg, cg.batch(columns, params), expected, "interpreter")
    row = report.first_row
    if row is not None:
        inputs = row_inputs(cg.ir, columns, row)
        left, right = cg.trace(inputs, params), interp.trace(inputs, params)
        op = first_divergence(cg.ir, left, right)
        if op is not None:
            report.report.first = Attribution(row, inputs, op, op.render(), left[op.id], right[op.id],
                                              "compiled", "interpreter")
    report.report.seconds = time.perf_counter() - start
    return report.report


def diff_reference(cg: CompiledGraph, columns: Mapping[str, np.ndarray], reference: Reference,
                   name: str = "reference") -> DiffReport:
    """Compiled batch kernel vs a Python callable taking the inputs as keyword arguments."""
    start = time.perf_counter()
    expected, errors, first_error = call_reference(cg.ir, columns, reference)
    compared = [n for n in cg.ir.output_names if n in expected]
    if not compared:
        raise InputError(f"the reference returned none of the graph's outputs ({', '.join(cg.ir.output_names)})",
                         where=name, fix="return a mapping keyed by the graph's output names")
    result = _compare(cg, cg.batch(columns), {n: expected[n] for n in compared}, name, errors)
    report = result.report
    report.errors, report.first_error = int(errors.sum()), first_error
    row = result.first_row
    if row is not None and not errors[row]:
        report.first = _output_attribution(cg, columns, row, {n: expected[n][row] for n in compared}, name)
    report.seconds = time.perf_counter() - start
    return report


def _output_attribution(cg: CompiledGraph, columns: Mapping[str, np.ndarray], row: int,
                        ref: dict[str, Any], name: str) -> Attribution | None:
    """First differing output in evaluation order; the graph cannot see inside the reference."""
    inputs = row_inputs(cg.ir, columns, row)
    values = cg.trace(inputs)
    producer = dict(cg.ir.outputs)
    for out_name in sorted(ref, key=lambda n: producer[n]):
        op = cg.ir.ops[producer[out_name]]
        if not same(values[op.id], ref[out_name], op.type.dtype):
            return Attribution(row, inputs, op, f"{op.render()}   (output '{out_name}')",
                               values[op.id], ref[out_name], "compiled", name)
    return None


def call_reference(ir: IR, columns: Mapping[str, np.ndarray], reference: Reference
                   ) -> tuple[dict[str, np.ndarray], np.ndarray, str]:
    """Call the reference once per row; enums are passed as their names."""
    names = [spec.name for spec in ir.inputs]
    cols = []
    for spec in ir.inputs:
        values = columns[spec.name].tolist()
        cols.append([spec.type.enum[v] for v in values] if spec.type.enum else values)
    n = len(cols[0]) if cols else 0
    out = {name: np.zeros(n, dtype=ir.output_type(name).dtype.value) for name in ir.output_names}
    errors = np.zeros(n, dtype=bool)
    first_error = ""
    returned: set[str] = set()
    for r, row in enumerate(zip(*cols)):
        try:
            result = reference(**dict(zip(names, row)))
            for key, value in result.items():
                if key in out:
                    _store(out[key], r, value, key)
            returned |= set(result)
        except Exception as exc:  # the reference's failure is data for the report, not a crash
            errors[r] = True
            first_error = first_error or f"row {r}: {type(exc).__name__}: {exc}"
    return {k: v for k, v in out.items() if k in returned or not returned}, errors, first_error


def _store(column: np.ndarray, row: int, value: Any, key: str) -> None:
    """Store a reference value; an int64 output must come back as an int, not a float."""
    if column.dtype == np.int64 and not isinstance(value, (int, np.integer)):
        raise TypeError(f"output '{key}' is int64 in the graph, the reference returned {type(value).__name__} {value!r}")
    column[row] = value


@dataclass
class _Compared:
    report: DiffReport
    first_row: int | None


def _compare(cg: CompiledGraph, got: Mapping[str, np.ndarray], expected: Mapping[str, np.ndarray],
             against: str, errors: np.ndarray | None = None) -> _Compared:
    bad = np.zeros(len(next(iter(got.values()))), dtype=bool) if errors is None else errors.copy()
    per_output = {}
    for name, want in expected.items():
        have = got[name]
        differ = have.view(np.uint64) != want.view(np.uint64) if have.dtype == np.float64 else have != want
        per_output[name] = int(differ.sum())
        bad |= differ
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
