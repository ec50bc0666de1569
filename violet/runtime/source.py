"""Event sources: scans (and, optionally, price ticks between them) in time order.

A replay source reads a scans table. Each scan is checked at the boundary
against the graph's input types; a scan that breaks one is still an event,
carrying its rejection (field, asset, why), so the reactor journals it as
rejected and the graph never sees it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from violet.compile.ir import IR
from violet.tools.table_io import input_columns, read_table

SCAN_COLUMNS = ("scan_id", "ts_us", "vel_div", "price", "score", "acb_boost", "acb_beta", "mc_scale", "ob_mult",
                "esof_score", "dc_status", "posture", "capital")


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

    def __iter__(self) -> Iterator[ScanEvent | PriceTick]:
        return iter(sorted(self.events, key=lambda e: (e.ts_us, isinstance(e, ScanEvent))))


def universe_path(scans: Path) -> Path:
    """Where `violet scans build` writes the universe beside SCANS.parquet."""
    return scans.with_name(scans.name.removesuffix(scans.suffix) + ".universe.parquet")


def replay_source(ir: IR, scans_path: Path, universe: Path | None = None) -> ReplaySource:
    """Read a scans table and its universe; check every scan at the boundary."""
    return source_from_tables(ir, read_table(scans_path), read_table(universe or universe_path(scans_path)),
                              str(scans_path))


def source_from_tables(ir: IR, scans: pa.Table, universe: pa.Table, name: str = "scans") -> ReplaySource:
    columns, rejected = input_columns(ir, scans, name, universe, skip_bad=True)
    raw = {c: scans.column(c).to_pylist() for c in SCAN_COLUMNS if c in scans.column_names}
    bad = set(rejected.rows)
    per_row = [spec for spec in ir.inputs if not spec.universe]
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
