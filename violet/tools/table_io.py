"""Read input tables and write output tables (Parquet or CSV), checking types at the boundary.

An input table must have one column per graph input, named as the input.
Enum columns hold the enum's names as strings. Every row is checked against
its input's refined type; rows that break it are reported by 0-based row
number and field, and the run is refused before anything is computed or
written, so no partial output can be mistaken for a whole one.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from violet.compile.ir import IR
from violet.dag.types import DType, InputSpec
from violet.errors import InputError

MAX_LISTED = 5


def read_table(path: str | Path) -> pa.Table:
    """A Parquet or CSV file as an Arrow table."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", where=str(path), fix="check the --input path")
    try:
        if path.suffix == ".parquet":
            return pq.read_table(path)
        if path.suffix == ".csv":
            return pacsv.read_csv(path)
    except pa.ArrowException as exc:
        raise InputError(f"cannot read the table: {exc}", where=str(path), fix="check the file's format") from None
    raise InputError(f"unknown table format '{path.suffix}'", where=str(path), fix="use a .parquet or .csv file")


def write_table(columns: Mapping[str, np.ndarray | list], path: str | Path, metadata: Mapping[str, str]) -> None:
    """Write named columns to Parquet (with metadata) or CSV."""
    path = Path(path)
    table = pa.table(dict(columns))
    if path.suffix == ".parquet":
        table = table.replace_schema_metadata({k.encode(): v.encode() for k, v in metadata.items()})
        pq.write_table(table, path)
    elif path.suffix == ".csv":
        pacsv.write_csv(table, path)
    else:
        raise InputError(f"unknown table format '{path.suffix}'", where=str(path), fix="use a .parquet or .csv file")


def input_columns(ir: IR, table: pa.Table, file: str) -> dict[str, np.ndarray]:
    """The graph's input columns as numpy arrays (enums as int64 codes), every row type-checked."""
    missing = [spec.name for spec in ir.inputs if spec.name not in table.column_names]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", where=file,
                         fix=f"the graph's inputs are: {', '.join(s.name for s in ir.inputs)}")
    columns, problems = {}, []
    for spec in ir.inputs:
        values, bad = _column(spec, table.column(spec.name), file)
        columns[spec.name] = values
        problems += [(int(r), spec.name, _why(spec, values, int(r), table)) for r in np.flatnonzero(bad)]
    if problems:
        problems.sort()
        listed = "\n    ".join(f"row {r}, field {f}: {why}" for r, f, why in problems[:MAX_LISTED])
        more = f"\n    ... {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
        rows = len({r for r, _, _ in problems})
        raise InputError(f"{rows} row(s) break the graph's input types (rows are 0-based):\n    {listed}{more}",
                         where=file, fix="fix or drop those rows; nothing was computed or written")
    return columns


def _column(spec: InputSpec, col: pa.ChunkedArray, file: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert one column; return it and the mask of rows that break the input's type."""
    nulls = col.is_null().to_numpy(zero_copy_only=False)
    t = spec.type
    if t.enum is not None:
        if not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
            raise InputError(f"column '{spec.name}' is {col.type}, but the input is {t} (names as strings)", where=file)
        names = np.array(col.fill_null("").to_pylist(), dtype=object)
        codes = np.full(len(names), -1, dtype=np.int64)
        for code, name in enumerate(t.enum):
            codes[names == name] = code
        return codes, nulls | (codes < 0)
    want = {DType.F64: pa.float64(), DType.I64: pa.int64(), DType.BOOL: pa.bool_()}[t.dtype]
    allowed = (pa.types.is_floating(col.type) or pa.types.is_integer(col.type)) if t.dtype == DType.F64 \
        else pa.types.is_integer(col.type) if t.dtype == DType.I64 else pa.types.is_boolean(col.type)
    if not allowed:
        raise InputError(f"column '{spec.name}' is {col.type}, but the input is {t}", where=file,
                         fix="store the column with the input's type")
    values = col.cast(want).fill_null(0 if t.dtype != DType.BOOL else False).to_numpy(zero_copy_only=False)
    return values, nulls | spec.refine.violations(values) if t.dtype != DType.BOOL else nulls


def _why(spec: InputSpec, values: np.ndarray, row: int, table: pa.Table) -> str:
    raw = table.column(spec.name)[row].as_py()
    if raw is None:
        return "is empty (null)"
    if spec.type.enum is not None:
        return f"{raw!r} is not one of {', '.join(spec.type.enum)}"
    return spec.refine.violation(values[row].item()) or "breaks the input's type"


def output_columns(ir: IR, inputs: Mapping[str, np.ndarray], outputs: Mapping[str, np.ndarray]
                   ) -> dict[str, np.ndarray | list]:
    """Inputs then outputs, enums turned back into their names (an output named like an input replaces it)."""
    result: dict[str, np.ndarray | list] = {}
    for spec in ir.inputs:
        result[spec.name] = _named(inputs[spec.name], spec.type.enum)
    for name in ir.output_names:
        result[name] = _named(outputs[name], ir.output_type(name).enum)
    return result


def _named(values: np.ndarray, enum: tuple[str, ...] | None) -> np.ndarray | list:
    return [enum[c] for c in values.tolist()] if enum is not None else values
