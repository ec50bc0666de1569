"""Read input tables and write output tables (Parquet or CSV), checking types at the boundary.

An input table must have one column per graph input, named as the input.
Enum columns hold the enum's names as strings. Every row is checked against
its input's refined type; rows that break it are reported by 0-based row
number and field, and the run is refused before anything is computed or
written, so no partial output can be mistaken for a whole one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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
        if path.suffix == ".csv":  # only an empty field is missing: "nan" is the float NaN, as in Python
            return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(null_values=[""]))
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


@dataclass
class Rejections:
    """Rows refused at the boundary: their 0-based numbers and, per row, the first reason."""

    rows: list[int]
    reasons: dict[int, str]

    def render(self, limit: int = MAX_LISTED) -> str:
        listed = "\n    ".join(f"row {r}, {self.reasons[r]}" for r in self.rows[:limit])
        more = f"\n    ... {len(self.rows) - limit} more" if len(self.rows) > limit else ""
        return f"{len(self.rows)} row(s) break the graph's input types (rows are 0-based):\n    {listed}{more}"


def input_columns(ir: IR, table: pa.Table, file: str, universe: pa.Table | None = None, *, skip_bad: bool = False
                  ) -> tuple[dict[str, np.ndarray], Rejections]:
    """The graph's input columns as numpy arrays (enums as int64 codes, vectors as (rows, N)).

    Per-row inputs come from `table`, universe inputs from `universe`. Every row is
    checked against its input's refined type. A bad row refuses the whole table
    (nothing computed, nothing written) unless `skip_bad`, which drops it and
    returns it among the rejections. A bad universe always refuses.
    """
    per_row = [spec for spec in ir.inputs if not spec.universe]
    per_run = [spec for spec in ir.inputs if spec.universe]
    columns, problems = _checked(per_row, table, file)
    if per_run:
        if universe is None:
            raise InputError(f"the graph reads the universe table ({', '.join(s.name for s in per_run)})",
                             where=file, fix="give --universe UNIVERSE.parquet (written beside the scans by `violet scans build`)")
        uni, bad_uni = _checked(per_run, universe, "universe table")
        if bad_uni:
            raise InputError(_listing(bad_uni).render(), where="universe table", fix="fix the universe table")
        columns.update(uni)
    if "scan_id" in table.column_names and problems:
        ids = table.column("scan_id").to_pylist()
        problems = [(r, f"scan_id {ids[r]}, {why}") for r, why in problems]
    rejected = _listing(problems)
    if rejected.rows and not skip_bad:
        raise InputError(rejected.render(), where=file, fix="fix or drop those rows (or --skip-bad-rows); nothing was computed or written")
    if rejected.rows:
        keep = np.ones(table.num_rows, dtype=bool)
        keep[rejected.rows] = False
        columns = {name: col if ir.input_spec(name).universe else col[keep] for name, col in columns.items()}
    return columns, rejected


def _checked(specs: list[InputSpec], table: pa.Table, file: str) -> tuple[dict[str, np.ndarray], list[tuple[int, str]]]:
    missing = [spec.name for spec in specs if spec.name not in table.column_names]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", where=file,
                         fix=f"the table needs: {', '.join(s.name for s in specs)}")
    columns, problems = {}, []
    for spec in specs:
        values, bad = _column(spec, table.column(spec.name), file)
        columns[spec.name] = values
        problems += [(int(r), f"field {spec.name}: {_why(spec, values, int(r), table)}") for r in np.flatnonzero(bad)]
    return columns, problems


def _listing(problems: list[tuple[int, str]]) -> Rejections:
    reasons: dict[int, str] = {}
    for row, why in sorted(problems):
        reasons.setdefault(row, why)
    return Rejections(sorted(reasons), reasons)


def _column(spec: InputSpec, col: pa.ChunkedArray, file: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert one column; return it and the mask of rows that break the input's type."""
    if spec.type.vector:
        return _vector_column(spec, col, file)
    return _scalar_column(spec, col, file)


def _vector_column(spec: InputSpec, col: pa.ChunkedArray, file: str) -> tuple[np.ndarray, np.ndarray]:
    """A list column (one list of N values per row) as a (rows, N) array; a universe column as (N,)."""
    if spec.universe:
        return _scalar_column(spec, col, file)
    if not (pa.types.is_list(col.type) or pa.types.is_large_list(col.type) or pa.types.is_fixed_size_list(col.type)):
        raise InputError(f"column '{spec.name}' is {col.type}, but the input is {spec.type} (a list per row)", where=file)
    arr = col.combine_chunks()
    lengths = np.asarray(arr.value_lengths().fill_null(-1))
    if len(lengths) and (lengths != lengths[0]).any():
        raise InputError(f"column '{spec.name}' has rows of different lengths ({lengths.min()} to {lengths.max()})",
                         where=file, fix="every row lists one value per universe asset")
    n = int(lengths[0]) if len(lengths) else 0
    flat_spec = InputSpec(spec.name, spec.type.scalar, spec.refine)
    values, bad = _scalar_column(flat_spec, pa.chunked_array([arr.flatten()]), file)
    rows = len(arr)
    return values.reshape(rows, n), bad.reshape(rows, n).any(axis=1) if n else np.zeros(rows, dtype=bool)


def _scalar_column(spec: InputSpec, col: pa.ChunkedArray, file: str) -> tuple[np.ndarray, np.ndarray]:
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
    # a writeable copy: Arrow hands out read-only views, which the kernels would copy on every call
    values = np.array(col.cast(want).fill_null(0 if t.dtype != DType.BOOL else False).to_numpy(zero_copy_only=False))
    if t.dtype == DType.BOOL:
        return values, nulls
    return values, nulls | spec.refine.violations(values)


def _why(spec: InputSpec, values: np.ndarray, row: int, table: pa.Table) -> str:
    raw = table.column(spec.name)[row].as_py()
    if raw is None:
        return "is empty (null)"
    if spec.type.enum is not None:
        return f"{raw!r} is not one of {', '.join(spec.type.enum)}"
    if spec.type.vector and not spec.universe:
        for k, x in enumerate(values[row].tolist()):
            why = spec.refine.violation(x) if x is not None else "is empty (null)"
            if why:
                return f"asset {k}: {why}"
    return spec.refine.violation(values[row].item()) or "breaks the input's type"


def output_columns(ir: IR, inputs: Mapping[str, np.ndarray], outputs: Mapping[str, np.ndarray]
                   ) -> dict[str, np.ndarray | list]:
    """Per-row scalar inputs, then the outputs; enums as their names, vector outputs as lists.

    Vector and universe inputs stay in the input files they came from. An
    output named like an input replaces that column.
    """
    result: dict[str, np.ndarray | list] = {}
    for spec in ir.inputs:
        if not spec.type.vector:
            result[spec.name] = _named(inputs[spec.name], spec.type.enum)
    for name in ir.output_names:
        result[name] = _named(outputs[name], ir.output_type(name).enum)
    return result


def trade_rows(ir: IR, outputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray | list] | None:
    """The trade stream a graph declares: rows whose `trade` output is true, fields `trade_*` (prefix dropped)."""
    if "trade" not in outputs:
        return None
    rows = np.flatnonzero(outputs["trade"])
    return {name.removeprefix("trade_"): _named(outputs[name][rows], ir.output_type(name).enum)
            for name in ir.output_names if name.startswith("trade_")}


def _named(values: np.ndarray, enum: tuple[str, ...] | None) -> np.ndarray | list:
    if enum is not None:
        return [enum[c] for c in values.tolist()]
    return list(values) if values.ndim == 2 else values
