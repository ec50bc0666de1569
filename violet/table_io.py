"""Read input tables and write output tables (Parquet or CSV), checking types at the boundary.

An input table must have one column per graph input, named as the input.
Enum columns hold the enum's names as strings. Every row is checked against
its input's refined type; rows that break it are reported by 0-based row
number and field, and the run is refused before anything is computed or
written, so no partial output can be mistaken for a whole one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from violet.compile.ir import IR
from violet.dag.types import INT64_MAX, TRADE_PREFIX, DType, InputSpec, Lane, ValueType, int64_problem
from violet.errors import InputError, quote
from violet.files import is_file, shown, try_write

MAX_LISTED = 5
TABLE_FORMATS = (".parquet", ".csv")
ARROW_TYPES = {DType.F64: pa.float64(), DType.I64: pa.int64(), DType.BOOL: pa.bool_()}


def read_table(path: str | Path) -> pa.Table:
    """A Parquet or CSV file as an Arrow table; a file that cannot be read (missing, corrupt, not a
    table) is an InputError naming it."""
    path = _readable(path)
    with _unreadable(path):
        if path.suffix == ".parquet":
            table = pq.read_table(path)
        else:  # only an empty field is missing: "nan" is the float NaN, as in Python
            table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(null_values=[""]))
        table.validate(full=True)  # a flipped byte inside a string is invalid UTF-8, found here, not mid-run
    return table


def parquet_names(path: str | Path) -> list[str]:
    """The column names a Parquet file declares, read from its footer alone (a file with two columns of
    one name is readable this way, and only this way: reading its data refuses the ambiguity)."""
    path = _readable(path)
    with _unreadable(path):
        return pq.read_schema(path).names


def _readable(path: str | Path) -> Path:
    path = Path(path)
    if not is_file(path):
        raise InputError("no such file", where=shown(path), fix="check the path")
    if path.suffix not in TABLE_FORMATS:
        raise InputError(f"unknown table format {quote(path.suffix)}", where=shown(path), fix="use a .parquet or .csv file")
    return path


@contextmanager
def _unreadable(path: Path) -> Iterator[None]:
    """Arrow's errors on a file it cannot read as an InputError (a corrupt Parquet file raises
    ArrowInvalid, a bare OSError, or UnicodeDecodeError for a column name, by which bytes are wrong)."""
    try:
        yield
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the table: {quote(str(exc))}", where=shown(path),
                         fix="check the file's format (it may be truncated or corrupt)") from None


def check_output(path: str | Path, option: str, formats: tuple[str, ...] = TABLE_FORMATS, *,
                 make_parent: bool = False) -> None:
    """Refuse an output path that cannot be written, before anything is computed (hours of a sweep
    must not end in a traceback): a known format, not a directory, in an existing directory (made
    first with `make_parent`) that is writable, which is tried, not guessed from the mode bits
    (root ignores them; a read-only file system does not)."""
    path = Path(path)
    try:
        if path.is_dir():
            raise InputError(f"{shown(path)} is a directory", where=option, fix="name a file inside it")
        if path.suffix not in formats:
            raise InputError(f"unknown output format {quote(path.suffix)}", where=option, fix=f"use {' or '.join(formats)}")
        if make_parent:
            path.parent.mkdir(parents=True, exist_ok=True)
        if not path.parent.is_dir():
            raise InputError(f"no directory {shown(path.parent)} to write {quote(path.name)} in", where=option,
                             fix="create the directory first")
        try_write(path.parent)
    except OSError as exc:
        raise InputError(f"cannot write in {shown(path.parent)}: {exc.strerror or exc}", where=option,
                         fix="choose a writable directory") from None


def write_table(columns: Mapping[str, np.ndarray | list], path: str | Path, metadata: Mapping[str, str]) -> None:
    """Write named columns to Parquet (with metadata) or CSV (check the path with `check_output` first)."""
    path = Path(path)
    if path.suffix not in TABLE_FORMATS:
        raise InputError(f"unknown table format {quote(path.suffix)}", where=shown(path), fix="use a .parquet or .csv file")
    table = pa.table(dict(columns))
    try:
        if path.suffix == ".parquet":
            table = table.replace_schema_metadata({k.encode(): v.encode() for k, v in metadata.items()})
            pq.write_table(table, path)
        else:
            pacsv.write_csv(table, path)
    except OSError as exc:  # the disk filled, or the directory changed since check_output
        raise InputError(f"cannot write the table: {exc.strerror or exc}", where=str(path), fix="check the disk and the path") from None


@contextmanager
def table_writer(path: str | Path, metadata: Mapping[str, str]) -> Iterator[Callable[[Mapping[str, list]], None]]:
    """Write a table batch by batch (Parquet with metadata, or CSV): yields `write(columns)`. The batches go
    to a temporary file beside `path`, renamed onto it only when the last is written, so a run that fails
    half way leaves no half table, nor destroys the one that was there."""
    path = Path(path)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    os.close(fd)
    writer: pq.ParquetWriter | pacsv.CSVWriter | None = None

    def write(columns: Mapping[str, list]) -> None:
        nonlocal writer
        table = pa.table(dict(columns))
        if writer is None:
            if path.suffix == ".parquet":
                table = table.replace_schema_metadata({k.encode(): v.encode() for k, v in metadata.items()})
                writer = pq.ParquetWriter(name, table.schema)
            else:
                writer = pacsv.CSVWriter(name, table.schema)
        writer.write_table(table)

    try:
        yield write
        if writer is not None:
            writer.close()
            writer = None
            os.replace(name, path)
    except OSError as exc:  # the disk filled, or the directory changed since check_output
        raise InputError(f"cannot write the table: {exc.strerror or exc}", where=str(path),
                         fix="check the disk and the path") from None
    finally:
        if writer is not None:
            writer.close()
        Path(name).unlink(missing_ok=True)


@dataclass
class Rejections:
    """Rows refused at the boundary: their 0-based numbers and, per row, the first reason."""

    rows: list[int]
    reasons: dict[int, str]

    def render(self, limit: int = MAX_LISTED) -> str:
        listed = "\n    ".join(f"row {r}, {self.reasons[r]}" for r in self.rows[:limit])
        more = f"\n    ... {len(self.rows) - limit} more" if len(self.rows) > limit else ""
        return f"{len(self.rows)} row(s) break the graph's input types (rows are 0-based):\n    {listed}{more}"


@dataclass(frozen=True)
class Assets:
    """N, the number of values every vector of a run holds (the kernels read N from each), and what
    fixed it, for the errors of the rows that differ."""

    n: int
    source: str


def input_columns(ir: IR, table: pa.Table, file: str, universe: pa.Table | None = None, *, skip_bad: bool = False
                  ) -> tuple[dict[str, np.ndarray], Rejections]:
    """The graph's input columns as numpy arrays (enums as int64 codes, vectors as (rows, N)).

    Per-row inputs come from `table`, universe inputs from `universe`. Every row is
    checked against its input's refined type, and every vector's length against N: the
    universe table's row count, or without universe inputs the first vector's length
    in the first row. A bad row refuses the whole table (nothing computed, nothing
    written) unless `skip_bad`, which drops it and returns it among the rejections.
    A bad universe always refuses.
    """
    per_row = [spec for spec in ir.inputs if not spec.universe]
    per_run = [spec for spec in ir.inputs if spec.universe]
    columns: dict[str, np.ndarray] = {}
    if per_run:
        if universe is None:
            raise InputError(f"the graph reads the universe table ({', '.join(s.name for s in per_run)})",
                             where=file, fix="give --universe UNIVERSE.parquet (written beside the scans by `violet scans build`)")
        columns, bad_uni = _checked(per_run, universe, "universe table", Assets(universe.num_rows, ""))
        if bad_uni:
            raise InputError(_listing(bad_uni).render(), where="universe table", fix="fix the universe table")
    assets = Assets(universe.num_rows, f"the universe table has {universe.num_rows} assets") \
        if per_run and universe is not None else _first_length(per_row, table, file)
    row_columns, problems = _checked(per_row, table, file, assets)
    columns.update(row_columns)
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


def _first_length(specs: list[InputSpec], table: pa.Table, file: str) -> Assets:
    """N for a graph without universe inputs: the length of the first vector input's first non-null row."""
    vectors = [spec for spec in specs if spec.type.vector and spec.name in table.column_names]
    if not vectors:
        return Assets(0, "")
    lengths = _list_lengths(vectors[0], table.column(vectors[0].name), file)
    known = np.flatnonzero(lengths >= 0)
    if not len(known):
        return Assets(0, "")
    row = int(known[0])
    return Assets(int(lengths[row]), f"{vectors[0].name} has {lengths[row]} values in row {row}")


def _checked(specs: list[InputSpec], table: pa.Table, file: str, assets: Assets
             ) -> tuple[dict[str, np.ndarray], list[tuple[int, str]]]:
    masks = {spec.mask for spec in specs if spec.mask}
    missing = [spec.name for spec in specs if spec.name not in table.column_names and spec.name not in masks]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", where=file,
                         fix=f"the table needs: {', '.join(s.name for s in specs)}")
    columns: dict[str, np.ndarray] = {name: np.ones((table.num_rows, assets.n), dtype=bool)  # no column: all present
                                      for name in masks if name not in table.column_names}
    problems: list[tuple[int, str]] = []
    for spec in sorted(specs, key=lambda spec: bool(spec.mask)):  # a mask before the values it leaves out
        if spec.name in columns:
            continue
        off = ~columns[spec.mask] if spec.mask else None
        values, bad = _column(spec, table.column(spec.name), file, assets.n, off)
        columns[spec.name] = values
        raw = table.column(spec.name)
        problems += [(int(r), f"field {spec.name}: "
                              f"{_why(spec, values[r], raw[int(r)].as_py(), assets, None if off is None else off[r])}")
                     for r in np.flatnonzero(bad)]
    return {spec.name: columns[spec.name] for spec in specs}, problems


def _listing(problems: list[tuple[int, str]]) -> Rejections:
    reasons: dict[int, str] = {}
    for row, why in sorted(problems):
        reasons.setdefault(row, why)
    return Rejections(sorted(reasons), reasons)


def _column(spec: InputSpec, col: pa.ChunkedArray, file: str, assets: int, off: np.ndarray | None = None
            ) -> tuple[np.ndarray, np.ndarray]:
    """Convert one column; return it and the mask of rows that break the input's type."""
    if spec.type.vector and not spec.universe:
        return _vector_column(spec, col, file, assets, off)
    return _scalar_column(spec, col, file)


def _list_lengths(spec: InputSpec, col: pa.ChunkedArray, file: str) -> np.ndarray:
    """Each row's number of values in a list column (-1 for a null list)."""
    if not (pa.types.is_list(col.type) or pa.types.is_large_list(col.type) or pa.types.is_fixed_size_list(col.type)):
        raise InputError(f"column '{spec.name}' is {col.type}, but the input is {spec.type} (a list per row)", where=file)
    return np.asarray(pc.list_value_length(col).fill_null(-1), dtype=np.int64)


def _vector_column(spec: InputSpec, col: pa.ChunkedArray, file: str, assets: int, off: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """A list column (one list of N values per row) as a (rows, N) array. A row whose list is null or
    not N long is bad (its values left zero): the kernels read N values from every vector. Where `off`
    (its mask input false) an asset has no value: not checked, and NaN (int64 0, bool false)."""
    lengths = _list_lengths(spec, col, file)
    fits = lengths == assets
    flat = col.combine_chunks().filter(pa.array(fits)).flatten()
    values, bad = _scalar_column(InputSpec(spec.name, spec.type.scalar, spec.refine), pa.chunked_array([flat]), file)
    rows = np.zeros((len(lengths), assets), dtype=values.dtype)
    rows[fits] = values.reshape(int(fits.sum()), assets)
    bad = bad.reshape(int(fits.sum()), assets)
    if off is not None:
        bad &= ~off[fits]
        rows[off] = np.nan if values.dtype == np.float64 else 0
    bad_rows = ~fits
    bad_rows[fits] = bad.any(axis=1)
    return rows, bad_rows


def _scalar_column(spec: InputSpec, col: pa.ChunkedArray, file: str) -> tuple[np.ndarray, np.ndarray]:
    nulls = col.is_null().to_numpy(zero_copy_only=False)
    t = spec.type
    if pa.types.is_null(col.type):  # Arrow's type for nothing but nulls (an empty CSV column, empty lists)
        col = col.cast(pa.string() if t.enum is not None else ARROW_TYPES[t.dtype])
    if t.enum is not None:
        if not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
            raise InputError(f"column '{spec.name}' is {col.type}, but the input is {t} (names as strings)", where=file)
        names = np.array(col.fill_null("").to_pylist(), dtype=object)
        codes = np.full(len(names), -1, dtype=np.int64)
        for code, name in enumerate(t.enum):
            codes[names == name] = code
        return codes, nulls | (codes < 0)
    allowed = (pa.types.is_floating(col.type) or pa.types.is_integer(col.type)) if t.dtype == DType.F64 \
        else pa.types.is_integer(col.type) if t.dtype == DType.I64 else pa.types.is_boolean(col.type)
    if not allowed:
        raise InputError(f"column '{spec.name}' is {col.type}, but the input is {t}", where=file,
                         fix="store the column with the input's type")
    if t.dtype == DType.BOOL:
        return np.array(col.fill_null(False).to_numpy(zero_copy_only=False)), nulls
    # a writeable copy: Arrow hands out read-only views, which the kernels would copy on every call
    values, inexact = _exact(np.array(col.fill_null(0).to_numpy(zero_copy_only=False)), t.dtype)
    return values, nulls | inexact | spec.refine.violations(values)


def _exact(raw: np.ndarray, dtype: DType) -> tuple[np.ndarray, np.ndarray]:
    """`raw` (any integer or float width) as float64 or int64, and the mask of values that type cannot
    hold exactly (left 0): a uint64 above INT64_MAX as int64, an integer float64 cannot tell from its
    neighbour (2**53 + 1) as float64. A refinement is then checked on the value the graph would see."""
    inexact = np.zeros(raw.shape, dtype=bool)
    if dtype == DType.I64:
        if raw.dtype == np.uint64:
            inexact = raw > INT64_MAX
        return np.where(inexact, 0, raw).astype(np.int64), inexact
    values = raw.astype(np.float64)
    if raw.dtype.kind in "iu":
        for k in np.flatnonzero(np.abs(values) >= 2.0**53):  # below 2**53 every integer is exact
            inexact[k] = float(values[k]) != int(raw[k])
        values[inexact] = 0.0
    return values, inexact


def _why(spec: InputSpec, value: np.ndarray, raw: object, assets: Assets, off: np.ndarray | None = None) -> str:
    """Why one row's value (as converted, and as stored) breaks its input's type (assets `off` its mask
    are not checked)."""
    if raw is None:
        return "is empty (null)"
    if spec.type.vector and not spec.universe:
        assert isinstance(raw, list)
        if len(raw) != assets.n:
            return f"has {len(raw)} values, but {assets.source}"
        reasons = ((k, _why_value(spec, x, r)) for k, (x, r) in enumerate(zip(value.tolist(), raw))
                   if off is None or not off[k])
        return next((f"asset {k}: {why}" for k, why in reasons if why), "breaks the input's type")
    return _why_value(spec, value.item(), raw) or "breaks the input's type"


def _why_value(spec: InputSpec, value: float | int, raw: object) -> str | None:
    if raw is None:
        return "is empty (null)"
    if spec.type.enum is not None:
        return None if raw in spec.type.enum else f"{quote(raw)} is not one of {', '.join(spec.type.enum)}"
    if isinstance(raw, int) and not isinstance(raw, bool) and spec.type.dtype == DType.I64 and int64_problem(raw):
        return f"is {raw}, outside int64"
    if isinstance(raw, int) and not isinstance(raw, bool) and spec.type.dtype == DType.F64 and float(raw) != raw:
        return f"is {raw}, which has no exact float64 value (nearest: {float(raw)!r})"
    return spec.refine.violation(value)


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


TRADE_REQUIRED = ("entry_scan", "exit_scan", "asset", "pnl")  # a trade's key and what money it made
TRADE_FIX = "see docs/runtime.md, \"The record contract\""


@dataclass(frozen=True)
class StreamLane:
    """Where one lane's trades are among a graph's outputs: its flag, and each field's output (a per-asset
    lane's `asset` has none: it is the index) and whether that output is a vector."""

    name: str
    flag: str
    per_asset: bool
    outputs: tuple[tuple[str, str, bool], ...]  # field, output, vector
    side: int = 0  # which way its trades face, from the record's roles: +1 long, -1 short, 0 undeclared


@dataclass(frozen=True)
class TradeStream:
    """The trade stream a graph declares, the one extraction every reader of trades goes through (`violet
    run --trades`, backtest and sweep, diff, the reactor, the journal's layout and `journal verify`).

    Each lane of the graph's record contributes the scans (the assets, for a per-asset lane) where its
    trade flag is set, its `<trades>*` outputs being the fields; a graph without a record has one lane
    from its `trade` and `trade_*` outputs. Trades come in the order they close: by scan, then lane
    (the record's order), then asset."""

    lanes: tuple[StreamLane, ...]
    types: tuple[tuple[str, ValueType], ...]  # field -> its type (a scalar's), in the first lane's output order

    @property
    def fields(self) -> list[str]:
        return [name for name, _ in self.types]

    @property
    def compared(self) -> list[str]:
        """The fields a reference's trade is compared on: the lane too, when there are several."""
        return self.fields + (["lane"] if len(self.lanes) > 1 else [])

    def columns(self, outputs: Mapping[str, np.ndarray], scan_id: np.ndarray | None = None,
                ts_us: np.ndarray | None = None, symbols: list[str] | None = None) -> dict[str, np.ndarray | list]:
        """The trades of a run's outputs (one row per scan) as columns: `lane`, `side` (+1 long, -1 short, 0
        where the graph declares none), the fields (enums by name), and with the scans' ids and timestamps
        `entry_ts_us` and `exit_ts_us`, with the universe's symbols `symbol`."""
        picked = [self._picked(k, outputs) for k in range(len(self.lanes))]
        rows, lane, assets = (np.concatenate([p[j] for p in picked]) for j in range(3))
        order = np.lexsort((assets, lane, rows))
        rows, lane, assets = rows[order], lane[order], assets[order]
        result: dict[str, np.ndarray | list] = {"lane": [self.lanes[k].name for k in lane.tolist()],
                                                "side": np.array([h.side for h in self.lanes], dtype=np.int64)[lane]}
        for f, (name, vtype) in enumerate(self.types):
            values = np.empty(len(rows), dtype=_dtype(vtype))
            for k, stream_lane in enumerate(self.lanes):
                here = lane == k
                values[here] = _field(stream_lane.outputs[f], outputs, rows[here], assets[here])
            result[name] = _named(values, vtype.enum)
        if scan_id is not None and ts_us is not None:
            entry = np.asarray(result["entry_scan"], dtype=np.int64)
            at = np.clip(np.searchsorted(scan_id, entry), 0, max(len(scan_id) - 1, 0))  # no scans: no trades
            result["entry_ts_us"] = np.where(scan_id[at] == entry, ts_us[at], 0).astype(np.int64)
            result["exit_ts_us"] = ts_us[rows].astype(np.int64)
        if symbols is not None:
            result["symbol"] = [symbols[a] if 0 <= a < len(symbols) else "" for a in
                                np.asarray(result["asset"], dtype=np.int64).tolist()]
        return result

    def _picked(self, k: int, outputs: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, lane number, asset) of lane k's trades; the asset only for a per-asset lane (else 0)."""
        flag = np.asarray(outputs[self.lanes[k].flag])
        if self.lanes[k].per_asset:
            rows, assets = np.nonzero(flag)
        else:
            rows = np.flatnonzero(flag)
            assets = np.zeros(len(rows), dtype=np.int64)
        return rows, np.full(len(rows), k), assets

    def of_scan(self, record: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The trades one decision record (a scan's outputs, enums by name) closes, each with its lane."""
        trades = []
        for lane in self.lanes:
            flag = record[lane.flag]
            assets = np.flatnonzero(flag).tolist() if lane.per_asset else ([0] if flag else [])
            for asset in assets:
                trade: dict[str, Any] = {"lane": lane.name}
                for name, output, vector in lane.outputs:
                    value = asset if not output else (record[output][asset] if vector else record[output])
                    trade[name] = value.item() if isinstance(value, np.generic) else value
                trades.append(trade)
        return trades


def trade_stream(ir: IR) -> TradeStream | None:
    """The graph's trade stream (see TradeStream), or None for a graph that closes no trades; a lane whose
    fields do not fit (a missing required field, a field's type differing between lanes, a vector in a
    lane of one position) is an InputError naming them all."""
    record = ir.record
    lanes = [(lane.name, lane.trade, lane.trades, lane.per_asset, _side(lane)) for lane in record.lanes] if record \
        else [("", "trade", TRADE_PREFIX, False, 0)] if "trade" in ir.output_names else []
    if not lanes:
        return None
    stream_lanes, types, problems = [], {}, []
    for name, flag, prefix, per_asset, side in lanes:
        outputs = [(n.removeprefix(prefix), n) for n in ir.output_names if n.startswith(prefix)]
        outputs += [("asset", "")] * per_asset
        first = not types
        picked = []
        for field_, output in outputs:
            vtype = ir.output_type(output) if output else ValueType(DType.I64)
            scalar = ValueType(vtype.dtype, vtype.enum)
            if first:
                types[field_] = scalar
            elif types.get(field_) != scalar:
                problems.append(f"{output} is {vtype}, the first lane's {field_} {types.get(field_)}")
            if vtype.vector and not per_asset:
                problems.append(f"{output} is a vector in a lane of one position")
            picked.append((field_, output, vtype.vector))
        picked.sort(key=lambda p: list(types).index(p[0]) if p[0] in types else len(types))
        if ir.output_type(flag).vector != per_asset or ir.output_type(flag).dtype != DType.BOOL:
            problems.append(f"trade flag {flag} as a {'vector' if per_asset else 'scalar'} bool")
        stream_lanes.append(StreamLane(name, flag, per_asset, tuple(picked), side))
    problems += [f"a trade field {f} ({lanes[0][2]}{f})" for f in TRADE_REQUIRED if f not in types]
    if problems:
        raise InputError(f"graph {ir.name}'s trade stream does not fit: " + "; ".join(problems), where=ir.name,
                         fix=TRADE_FIX)
    return TradeStream(tuple(stream_lanes), tuple(types.items()))


def trade_rows(ir: IR, outputs: Mapping[str, np.ndarray], inputs: Mapping[str, np.ndarray] | None = None,
               symbols: list[str] | None = None) -> dict[str, np.ndarray | list] | None:
    """The trade stream a graph declares, as columns (TradeStream.columns; timestamps when `inputs` hold
    scan_id and ts_us), or None for a graph that closes no trades."""
    stream = trade_stream(ir)
    if stream is None:
        return None
    scans = inputs if inputs is not None and "scan_id" in inputs and "ts_us" in inputs else {}
    return stream.columns(outputs, scans.get("scan_id"), scans.get("ts_us"), symbols)


def _side(lane: Lane) -> int:
    """Which way a lane's trades face, from the roles of its actions: +1 long, -1 short, 0 neither or both."""
    faces = {role.rsplit("_", 1)[1] for _, role in lane.actions}
    return {frozenset({"long"}): 1, frozenset({"short"}): -1}.get(frozenset(faces), 0)


def _dtype(vtype: ValueType) -> type:
    return np.int64 if vtype.enum else {DType.F64: np.float64, DType.I64: np.int64, DType.BOOL: np.bool_}[vtype.dtype]


def _field(where: tuple[str, str, bool], outputs: Mapping[str, np.ndarray], rows: np.ndarray,
           assets: np.ndarray) -> np.ndarray:
    """One lane's values of one field at its trades' rows (and assets)."""
    _, output, vector = where
    if not output:
        return assets
    values = np.asarray(outputs[output])
    return values[rows, assets] if vector else values[rows]


def _named(values: np.ndarray, enum: tuple[str, ...] | None) -> np.ndarray | list:
    """Column values as a table holds them: enum codes as names (a vector's as a list of names), vectors as lists."""
    if enum is not None:
        return [[enum[c] for c in row] if values.ndim == 2 else enum[row] for row in values.tolist()]
    return list(values) if values.ndim == 2 else values
