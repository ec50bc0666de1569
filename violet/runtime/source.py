"""Event sources: scans (and, optionally, price ticks between them) in time order.

A replay source reads a scans table. The table as a whole must be in order
(`check_order`): scan ids strictly increasing and timestamps non-decreasing,
neither ever null, or it is refused before anything runs. Each scan is then
checked at the boundary against the graph's input types; a scan that breaks
one is still an event, carrying its rejection (field, asset, why), so the
reactor journals it as rejected and the graph never sees it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from violet.compile.ir import IR
from violet.errors import InputError, quote
from violet.scans.factors import AsOf, with_factors
from violet.table_io import input_columns, read_table

KEYS = ("scan_id", "ts_us")  # what orders and keys every scan, whatever the graph reads


@dataclass(frozen=True)
class ScanEvent:
    """One scan: the graph's inputs if accepted, else why it was rejected; `raw` is what the journal keeps."""

    ts_us: int
    scan_id: int
    inputs: dict[str, Any] | None
    raw: dict[str, Any]
    rejected: str = ""


@dataclass(frozen=True)
class PriceTick:
    """Prices between scans, for exit checks at a finer cadence."""

    ts_us: int
    price: np.ndarray


@dataclass
class ReplaySource:
    """Scans from a table, in order, plus the universe they refer to."""

    events: list[ScanEvent | PriceTick]
    universe: dict[str, np.ndarray]
    symbols: list[str]
    rejected: int
    stale: dict[str, int] = field(default_factory=dict)  # per factor, the scans on which it was stale

    def __iter__(self) -> Iterator[ScanEvent | PriceTick]:
        return iter(sorted(self.events, key=lambda e: (e.ts_us, isinstance(e, ScanEvent))))


def universe_path(scans: Path) -> Path:
    """Where `violet scans build` writes the universe beside SCANS.parquet."""
    return scans.with_name(scans.name.removesuffix(scans.suffix) + ".universe.parquet")


def replay_source(ir: IR, scans_path: Path, universe: Path | None = None, factors: AsOf | None = None
                  ) -> ReplaySource:
    """Read a scans table and its universe, join the factors as of each scan if given (their columns
    replace the table's), and check every scan at the boundary."""
    scans, stale = read_table(scans_path), {}
    if factors is not None:
        check_order(scans, str(scans_path))
        scans, joined = with_factors(scans, factors)
        stale = joined.stale_counts
    source = source_from_tables(ir, scans, read_table(universe or universe_path(scans_path)), str(scans_path))
    return replace(source, stale=stale)


def check_order(scans: pa.Table, name: str) -> None:
    """Refuse a table whose scan ids are not strictly increasing, whose timestamps go back, or that has
    a null id or timestamp, naming the first offending row (0-based).

    The journal keys a run's rows by scan id and resumes after the last journaled one: a repeated id
    would overwrite an earlier scan's decision, and a smaller one after a kill would never be written."""
    ids, ts = (_integers(scans, column, name) for column in ("scan_id", "ts_us"))
    for column, values, step, rule in (("scan_id", ids, np.diff(ids) <= 0, "scan ids must be strictly increasing"),
                                       ("ts_us", ts, np.diff(ts) < 0, "timestamps must never go back")):
        if step.any():
            row = int(np.argmax(step)) + 1
            raise InputError(f"row {row} has {column} {values[row]} after {values[row - 1]} on row {row - 1}: {rule}",
                             where=f"{name}: {column}", fix="sort the scans by time and give each its own, "
                                                            "increasing scan_id (rows are 0-based)")


def _integers(scans: pa.Table, column: str, name: str) -> np.ndarray:
    """A column as int64, refusing a missing column, a null or a value that is not an integer."""
    if column not in scans.column_names:
        raise InputError(f"the scans table has no {column} column", where=name,
                         fix="write the scans with `violet scans build`")
    values = scans.column(column)
    if values.null_count:
        row = int(np.argmax(values.is_null().to_numpy(zero_copy_only=False)))
        raise InputError(f"row {row} has no {column} (null)", where=f"{name}: {column}",
                         fix="every scan needs a scan_id and a ts_us (rows are 0-based)")
    try:
        return pc.cast(values, pa.int64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InputError(f"{column} must hold integers ({values.type}): {quote(str(exc))}", where=f"{name}: {column}",
                         fix="write integer scan ids and microsecond timestamps") from None


def source_from_tables(ir: IR, scans: pa.Table, universe: pa.Table, name: str = "scans") -> ReplaySource:
    check_order(scans, name)
    columns, rejected = input_columns(ir, scans, name, universe, skip_bad=True)
    per_row = [spec for spec in ir.inputs if not spec.universe]
    kept = dict.fromkeys([*KEYS, *(spec.name for spec in per_row)])  # what the journal keeps of a scan
    raw = {c: scans.column(c).to_pylist() for c in kept if c in scans.column_names}
    bad = set(rejected.rows)
    events: list[ScanEvent | PriceTick] = []
    accepted = 0
    for row in range(scans.num_rows):
        scan = {c: values[row] for c, values in raw.items()}
        if row in bad:
            events.append(ScanEvent(int(scan["ts_us"]), int(scan["scan_id"]), None, scan, rejected.reasons[row]))
            continue
        inputs = {spec.name: columns[spec.name][accepted] for spec in per_row}
        events.append(ScanEvent(int(scan["ts_us"]), int(scan["scan_id"]), inputs, scan))
        accepted += 1
    uni = {spec.name: columns[spec.name] for spec in ir.inputs if spec.universe}
    symbols = universe.column("symbol").to_pylist() if "symbol" in universe.column_names \
        else [str(k) for k in range(universe.num_rows)]
    return ReplaySource(events, uni, symbols, len(bad))
