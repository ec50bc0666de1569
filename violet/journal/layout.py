"""The journal's typed columns for one decision graph: every output a column of the type that holds it bit for bit.

A graph's decisions and trades tables are named by its layout's hash, so graphs with the same outputs share
them and a changed output gets new tables. The trades table holds the graph's trade stream
(violet.table_io.TradeStream): every lane's trades, each with its lane, symbol and timestamps.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from violet.compile.ir import IR
from violet.dag.types import DType, ValueType
from violet.table_io import trade_stream

# the journal's own columns of a decisions row and a trades row; no output may take one of these names
DECISION_HEADER = (("run_id", "String"), ("scan_id", "Int64"), ("ts_us", "Int64"), ("graph_hash", "String"),
                   ("symbol", "String"), ("latency_us", "Float64"))
TRADE_HEADER = (("run_id", "String"), ("source", "LowCardinality(String)"), ("lane", "LowCardinality(String)"),
                ("symbol", "String"), ("entry_ts_us", "Int64"), ("exit_ts_us", "Int64"))
NEUTRAL = {"Float64": math.nan, "Int64": 0, "UInt8": 0}


def column_type(vtype: ValueType) -> str:
    """The ClickHouse type that holds an output bit for bit: floats as Float64, enums by name."""
    scalar = ("LowCardinality(String)" if vtype.enum else
              {DType.F64: "Float64", DType.I64: "Int64", DType.BOOL: "UInt8"}[vtype.dtype])
    return f"Array({scalar})" if vtype.vector else scalar


@dataclass(frozen=True)
class Layout:
    """The typed columns of a graph's decisions and trades tables; the tables are named by the layout's
    hash, so graphs with the same outputs share them and a changed output gets new tables."""

    decision: tuple[tuple[str, str], ...]  # output -> column type, in the graph's output order
    trade: tuple[tuple[str, str], ...]  # trade field (prefix dropped) -> column type

    @property
    def key(self) -> str:
        text = json.dumps([self.decision, self.trade, TRADE_HEADER], separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def decisions_table(self) -> str:
        return f"decisions_{self.key}"

    @property
    def trades_table(self) -> str:
        return f"trades_{self.key}"

    def ddl(self) -> list[str]:
        """CREATE TABLE statements ({db} for the database): ReplacingMergeTree on the natural keys, like ddl/."""
        def columns(pairs: tuple[tuple[str, str], ...]) -> str:
            return ",\n".join(f"    `{name}` {kind}" for name, kind in pairs)

        return [f"CREATE TABLE IF NOT EXISTS {{db}}.{self.decisions_table}\n(\n{columns(DECISION_HEADER + self.decision)}\n)\n"
                "ENGINE = ReplacingMergeTree\nORDER BY (run_id, scan_id)",
                f"CREATE TABLE IF NOT EXISTS {{db}}.{self.trades_table}\n(\n{columns(TRADE_HEADER + self.trade)}\n)\n"
                "ENGINE = ReplacingMergeTree\nORDER BY (run_id, source, lane, entry_scan, exit_scan, asset)"]

    @property
    def decision_fields(self) -> list[str]:
        return [name for name, _ in self.decision]

    @property
    def trade_fields(self) -> list[str]:
        return [name for name, _ in self.trade]

    def trade_row(self, trade: Mapping[str, Any]) -> dict[str, Any]:
        """A reference's trade in this layout's columns: a field it lacks is its column's neutral value
        (NaN, 0, ""), and the divergence monitor reports the difference."""
        return {name: trade.get(name, NEUTRAL.get(kind, "")) for name, kind in self.trade}


def layout_of(ir: IR) -> Layout:
    """The columns of graph `ir`'s decisions (every output) and trades (its trade stream's fields)."""
    stream = trade_stream(ir)
    trade = tuple((name, column_type(vtype)) for name, vtype in stream.types) if stream is not None else ()
    return Layout(tuple((n, column_type(ir.output_type(n))) for n in ir.output_names), trade)
