"""A decision graph's record, as its host reads it: roles, sides and the journal's typed columns.

The graph declares its record (`[record]`, docs/runtime.md "The record contract"): which output is the
action and which action values enter or exit which side, the asset, the entry size, the size an exit
closes and the trade flag; outputs named `trade_*` are the trade record. Everything the runtime does
with a decision comes from here: the order side of each action, the columns of the journal's
decisions and trades tables (every output, each typed), and the checks that refuse a graph the host
cannot read, naming what is missing. No field of any one strategy is named in this module.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from violet.compile.ir import IR
from violet.dag.types import DType, Record, ValueType
from violet.errors import InputError

SCAN_INPUTS = ("scan_id", "price")  # what a decision graph must read of a scan (the reactor keeps its time)
TRADE_PREFIX = "trade_"
TRADE_REQUIRED = ("entry_scan", "exit_scan", "asset", "pnl")  # a trade's key and what money it made
# the order each role sends: (side, closes a position)
SIDES = {"enter_long": ("BUY", False), "exit_long": ("SELL", True),
         "enter_short": ("SELL", False), "exit_short": ("BUY", True)}
# the journal's own columns of a decisions row and a trades row; no output may take one of these names
DECISION_HEADER = (("run_id", "String"), ("scan_id", "Int64"), ("ts_us", "Int64"), ("graph_hash", "String"),
                   ("symbol", "String"), ("latency_us", "Float64"))
TRADE_HEADER = (("run_id", "String"), ("source", "LowCardinality(String)"), ("symbol", "String"))
NEUTRAL = {"Float64": math.nan, "Int64": 0, "UInt8": 0}
RECORD_FIX = "declare [record] in the graph file (docs/runtime.md, \"The record contract\"; e.g. graphs/blue_decision.toml)"


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
        text = json.dumps([self.decision, self.trade], separators=(",", ":"))
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
                "ENGINE = ReplacingMergeTree\nORDER BY (run_id, source, entry_scan, exit_scan, asset)"]

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


@dataclass(frozen=True)
class DecisionRecord:
    """What the host reads of one decision graph (built by `decision_record`, which checks it)."""

    record: Record
    layout: Layout
    roles: dict[str, str]  # action value -> role

    def order(self, action: str) -> tuple[str, bool] | None:
        """(side, closes) of the order an action value sends, or None for an action that sends none."""
        role = self.roles.get(action)
        return SIDES[role] if role is not None else None

    @property
    def exit_order(self) -> tuple[str, bool]:
        """(side, closes) of the exit a check between scans sends: the graph's one exit role."""
        exits = sorted({role for role in self.roles.values() if role.startswith("exit_")})
        return SIDES[exits[0]]

    def trade(self, record: dict[str, Any]) -> dict[str, Any]:
        """The trade fields of a decision whose trade flag is set (prefix dropped)."""
        return {name: record[TRADE_PREFIX + name] for name in self.layout.trade_fields}


def decision_record(ir: IR, where: str) -> DecisionRecord:
    """The record of a graph the reactor can host, or one InputError listing everything it lacks."""
    lacks = [f"input {name}" for name in SCAN_INPUTS if name not in {s.name for s in ir.inputs if not s.universe}]
    if not ir.stateful:
        lacks.append("state (a position carried from scan to scan)")
    record = ir.record
    if record is None:
        lacks.append("a [record] table")
    else:
        lacks += _record_problems(ir, record)
    trade = [(n.removeprefix(TRADE_PREFIX), column_type(ir.output_type(n))) for n in ir.output_names
             if n.startswith(TRADE_PREFIX)]
    lacks += [f"output {TRADE_PREFIX}{name}" for name in TRADE_REQUIRED if name not in dict(trade)]
    taken = {name for name, _ in DECISION_HEADER} & set(ir.output_names)
    taken |= {name for name, _ in TRADE_HEADER} & set(dict(trade))
    lacks += [f"an output not named {name} (the journal's own column)" for name in sorted(taken)]
    if lacks:
        listed = ", ".join(lacks[:8]) + (f" and {len(lacks) - 8} more" if len(lacks) > 8 else "")
        raise InputError(f"graph {ir.name} is not a decision graph: it lacks {listed}", where=where, fix=RECORD_FIX)
    assert record is not None
    layout = Layout(tuple((n, column_type(ir.output_type(n))) for n in ir.output_names), tuple(trade))
    return DecisionRecord(record, layout, dict(record.actions))


def _record_problems(ir: IR, record: Record) -> list[str]:
    """What in `record` does not fit the graph's outputs: each named output's kind, and the action values."""
    wanted = {"action": None, "asset": DType.I64, "leverage": DType.F64, "notional": DType.F64,
              "exit_leverage": DType.F64, "exit_notional": DType.F64, "trade": DType.BOOL}
    problems = []
    for key, dtype in wanted.items():
        vtype = ir.output_type(getattr(record, key))
        if vtype.vector or (dtype is not None and (vtype.dtype != dtype or vtype.enum)):
            problems.append(f"record.{key} as a scalar {dtype.value if dtype else 'enum'} output "
                            f"({getattr(record, key)} is {vtype})")
    enum = ir.output_type(record.action).enum
    if enum is None:
        problems.append(f"record.action as an enum output ({record.action} is not an enum)")
    else:
        problems += [f"action value {value} (record.actions names it; {record.action} is one of {', '.join(enum)})"
                     for value, _ in record.actions if value not in enum]
    return problems
