"""One row's values on the graph: what every op computed for one row of a table.

`violet dot GRAPH --input T --row K` (or `--scan-id S`, the scan as the journal
names it) draws them: the question a quant asks of a single decision ("why this
asset, why this leverage on scan 1234?") answered on the graph itself. For a stateful graph the state at row K is the one the rows
before it leave behind, carried by the compiled scan kernel, exactly as
`violet run` and the reactor carry it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from violet.compile.ir import IR, Op, input_shape
from violet.compile.numba_backend import CompiledGraph
from violet.errors import InputError, quote

MAX_LISTED = 6  # a vector with more elements is drawn as its size and range


@dataclass(frozen=True)
class RowValues:
    """Every op's value at one row, and the state the row started from."""

    row: int
    values: list[Any]
    state: dict[str, Any]


def row_of_scan(table: pa.Table, scan_id: int, where: str) -> int:
    """The 0-based row of the scan whose `scan_id` is `scan_id`: a user names a scan as the journal, `violet
    replay` and `violet journal verify` do, and the row is found here."""
    if "scan_id" not in table.column_names:
        raise InputError("the table has no scan_id column", where=where, fix="name the row with --row (0-based)")
    rows = np.flatnonzero(np.asarray(table.column("scan_id").to_pylist(), dtype=object) == scan_id)
    if len(rows) != 1:
        ids = table.column("scan_id")
        span = f"{ids[0].as_py()}..{ids[-1].as_py()}" if len(ids) else "none"
        raise InputError(f"scan_id {quote(scan_id)} is " + (f"on {len(rows)} rows ({', '.join(map(str, rows[:5]))})"
                                                            if len(rows) else f"not in the table (its ids: {span})"),
                         where=where, fix="give a scan_id the table holds once, or --row (0-based)")
    return int(rows[0])


def values_at(cg: CompiledGraph, columns: Mapping[str, np.ndarray], row: int,
              params: Mapping[str, Any] | None = None) -> RowValues:
    """Every op's value at `row` (0-based) of typed input columns, as the compiled code computes it."""
    ir = cg.ir
    per_row = [spec.name for spec in ir.inputs if not spec.universe]
    n_rows = len(columns[per_row[0]]) if per_row else 1
    if not 0 <= row < n_rows:
        raise InputError(f"row {row} is outside the table's {n_rows} rows", where="--row",
                         fix=f"give a row in 0..{n_rows - 1}")
    state: dict[str, Any] = {}
    if ir.stateful:  # the state the rows before leave behind: at row 0 the initial state
        before = {name: col[:row] if name in per_row else col for name, col in columns.items()}
        state = cg.scan(before, params)[1] if row else ir.initial_state(input_shape(ir, before, rows=True)[1])
    inputs = {name: col[row] if name in per_row else col for name, col in columns.items()}
    return RowValues(row, cg.trace(inputs, params, state), state)


def vertex_values(ir: IR, values: list[Any]) -> dict[str, str]:
    """Each vertex of the graph view (violet.compile.dot) with its value as text: inputs and params by
    name, a node by its last op's value, an output as `<name> (output)`."""
    texts: dict[str, str] = {}
    for op in ir.ops:
        if op.kind in ("input", "param"):
            texts[op.name] = show(values[op.id], op)
        elif op.node and op.kind not in ("const", "state"):
            texts[op.node] = show(values[op.id], op)  # later ops of the node overwrite: its result stays
    for name, i in ir.outputs:
        texts[f"{name} (output)"] = show(values[i], ir.ops[i])
    return texts


def show(value: Any, op: Op) -> str:
    """A value as a reader wants it: enum names, exact floats (repr round-trips), vectors summarised."""
    enum = op.type.enum
    if op.type.vector:
        items = list(value)
        if len(items) <= MAX_LISTED:
            return "[" + ", ".join(_scalar(x, enum) for x in items) + "]"
        if op.type.dtype.value == "bool":
            return f"[{len(items)}] {sum(map(bool, items))} true"
        numbers = [x for x in items if not (isinstance(x, float) and math.isnan(x))]
        span = f"{min(numbers):.6g} .. {max(numbers):.6g}" if numbers else "all NaN"
        return f"[{len(items)}] {span}"
    return _scalar(value, enum)


def _scalar(x: Any, enum: tuple[str, ...] | None) -> str:
    if enum is not None:
        return enum[int(x)] if 0 <= int(x) < len(enum) else f"<code {int(x)}>"
    if isinstance(x, (bool, np.bool_)):
        return "true" if x else "false"
    return repr(float(x)) if isinstance(x, (float, np.floating)) else str(int(x))
