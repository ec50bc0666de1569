"""The journal's typed columns for one decision graph: every per-scan input and every output a column of the type
that holds it bit for bit.

A graph's scans, decisions and trades tables are named by its layout's hash, so graphs with the same inputs and
outputs share them and a changed one gets new tables. The trades table holds the graph's trade stream
(violet.table_io.TradeStream): every lane's trades, each with its lane, symbol and timestamps.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from violet.compile.ir import IR
from violet.dag.types import DType, ValueType
from violet.table_io import trade_stream

# the journal's own columns of a decisions row and a trades row; no output may take one of these names
DECISION_HEADER = (("run_id", "String"), ("scan_id", "Int64"), ("ts_us", "Int64"), ("graph_hash", "String"),
                   ("symbol", "String"), ("latency_us", "Float64"))
TRADE_HEADER = (("run_id", "String"), ("source", "LowCardinality(String)"), ("lane", "LowCardinality(String)"),
                ("symbol", "String"), ("entry_ts_us", "Int64"), ("exit_ts_us", "Int64"))
# the journal's own columns of a scans row (scan_id and ts_us are also what a graph may read of them)
SCAN_HEADER = (("run_id", "String"), ("scan_id", "Int64"), ("ts_us", "Int64"), ("rejected", "UInt8"),
               ("reject_reason", "String"))
NEUTRAL = {"Float64": math.nan, "Int64": 0, "UInt8": 0, "Bool": False}
# what a scan's value may be to be journaled in a column of each type, and how it is converted
ACCEPTS: dict[str, tuple[tuple[type, ...], Callable[[Any], Any]]] = {
    "Float64": ((int, float, np.integer, np.floating), float), "Int64": ((int, np.integer), int),
    "Bool": ((bool, np.bool_), bool), "LowCardinality(String)": ((str,), str)}


def column_type(vtype: ValueType, boolean: str = "UInt8") -> str:
    """The ClickHouse type that holds a value bit for bit: floats as Float64, enums by name, bools as `boolean`
    (an output's as UInt8; a scan input's as Bool, which reads back as the bool the input takes)."""
    scalar = ("LowCardinality(String)" if vtype.enum else
              {DType.F64: "Float64", DType.I64: "Int64", DType.BOOL: boolean}[vtype.dtype])
    return f"Array({scalar})" if vtype.vector else scalar


def typed(value: Any, kind: str) -> tuple[Any, bool]:
    """`value` as a column of type `kind` takes it, and whether it had to become the neutral value (NaN, 0,
    false, "", an empty array) because it was missing or not of that type: a rejected scan is journaled as
    it arrived, as far as its columns can hold it."""
    if kind.startswith("Array("):
        if not isinstance(value, (list, tuple, np.ndarray)):
            return [], True
        items = [typed(item, kind[len("Array("):-1]) for item in value]
        return [item for item, _ in items], any(bad for _, bad in items)
    accepted, convert = ACCEPTS[kind]
    if isinstance(value, accepted):
        return convert(value), False
    return NEUTRAL.get(kind, ""), True


@dataclass(frozen=True)
class Layout:
    """The typed columns of a graph's decisions and trades tables; the tables are named by the layout's
    hash, so graphs with the same outputs share them and a changed output gets new tables."""

    decision: tuple[tuple[str, str], ...]  # output -> column type, in the graph's output order
    trade: tuple[tuple[str, str], ...]  # trade field (prefix dropped) -> column type
    scan: tuple[tuple[str, str], ...] = ()  # per-scan input (but scan_id, ts_us) -> column type, in input order

    @property
    def key(self) -> str:
        text = json.dumps([self.decision, self.trade, TRADE_HEADER, self.scan], separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def scans_table(self) -> str:
        return f"scans_{self.key}"

    @property
    def decisions_table(self) -> str:
        return f"decisions_{self.key}"

    @property
    def trades_table(self) -> str:
        return f"trades_{self.key}"

    @property
    def tables(self) -> dict[str, str]:
        """Logical table -> this layout's physical one."""
        return {"decisions": self.decisions_table, "trades": self.trades_table, "scans": self.scans_table}

    def ddl(self) -> list[str]:
        """CREATE TABLE statements ({db} for the database): ReplacingMergeTree on the natural keys, like ddl/."""
        def columns(pairs: tuple[tuple[str, str], ...]) -> str:
            return ",\n".join(f"    `{name}` {kind}" for name, kind in pairs)

        return [f"CREATE TABLE IF NOT EXISTS {{db}}.{self.scans_table}\n(\n{columns(SCAN_HEADER + self.scan)}\n)\n"
                "ENGINE = ReplacingMergeTree\nORDER BY (run_id, scan_id)",
                f"CREATE TABLE IF NOT EXISTS {{db}}.{self.decisions_table}\n(\n{columns(DECISION_HEADER + self.decision)}\n)\n"
                "ENGINE = ReplacingMergeTree\nORDER BY (run_id, scan_id)",
                f"CREATE TABLE IF NOT EXISTS {{db}}.{self.trades_table}\n(\n{columns(TRADE_HEADER + self.trade)}\n)\n"
                "ENGINE = ReplacingMergeTree\nORDER BY (run_id, source, lane, entry_scan, exit_scan, asset)"]

    @property
    def decision_fields(self) -> list[str]:
        return [name for name, _ in self.decision]

    @property
    def trade_fields(self) -> list[str]:
        return [name for name, _ in self.trade]

    @property
    def scan_fields(self) -> list[str]:
        return [name for name, _ in self.scan]

    def scan_row(self, run_id: str, scan_id: int, ts_us: int, values: Mapping[str, Any], rejected: str
                 ) -> dict[str, Any]:
        """A scans row: every per-scan input typed; for a rejected scan (`rejected` its reason), a value its column
        cannot hold is journaled neutral and the reason names it."""
        row: dict[str, Any] = {"run_id": run_id, "scan_id": scan_id, "ts_us": ts_us, "rejected": int(bool(rejected))}
        neutral = []
        for name, kind in self.scan:
            row[name], bad = typed(values.get(name), kind)
            if bad:
                neutral.append(name)
        reason = rejected + (f" (journaled as NaN or neutral: {', '.join(neutral)})" if neutral else "")
        return {**row, "reject_reason": reason}

    def trade_row(self, trade: Mapping[str, Any]) -> dict[str, Any]:
        """A reference's trade in this layout's columns: a field it lacks is its column's neutral value
        (NaN, 0, ""), and the divergence monitor reports the difference."""
        return {name: trade.get(name, NEUTRAL.get(kind, "")) for name, kind in self.trade}


def layout_of(ir: IR) -> Layout:
    """The columns of graph `ir`'s scans (its per-scan inputs), decisions (every output) and trades (its trade
    stream's fields)."""
    stream = trade_stream(ir)
    trade = tuple((name, column_type(vtype)) for name, vtype in stream.types) if stream is not None else ()
    header = {name for name, _ in SCAN_HEADER}
    scan = tuple((s.name, column_type(s.type, "Bool")) for s in ir.inputs if not s.universe and s.name not in header)
    return Layout(tuple((n, column_type(ir.output_type(n))) for n in ir.output_names), trade, scan)
