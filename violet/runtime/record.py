"""A decision graph's record, as its host reads it: roles, sides and the journal's typed columns.

The graph declares its record (`[record]`, docs/runtime.md "The record contract"): which output is the
action and which action values enter or exit which side, the asset, the entry size, the size an exit
closes and the trade flag; outputs named `trade_*` are the trade record. Everything the runtime does
with a decision comes from here: the order side of each action, the columns of the journal's
decisions and trades tables (every output, each typed), and the checks that refuse a graph the host
cannot read, naming what is missing. No field of any one strategy is named in this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from violet.compile.ir import IR
from violet.dag.types import DType, Record, ValueType
from violet.errors import InputError
from violet.journal.layout import DECISION_HEADER, SCAN_HEADER, TRADE_HEADER, TRADE_PREFIX, Layout, layout_of

SCAN_INPUTS = ("scan_id", "price")  # what a decision graph must read of a scan (the reactor keeps its time)
SCAN_KEYS = ("scan_id", "ts_us")  # the journal's key columns of a scan, which a graph may read (as int64)
INT64 = ValueType(DType.I64)
TRADE_REQUIRED = ("entry_scan", "exit_scan", "asset", "pnl")  # a trade's key and what money it made
# the order each role sends: (side, closes a position)
SIDES = {"enter_long": ("BUY", False), "exit_long": ("SELL", True),
         "enter_short": ("SELL", False), "exit_short": ("BUY", True)}
RECORD_FIX = "declare [record] in the graph file (docs/runtime.md, \"The record contract\"; e.g. graphs/blue_decision.toml)"


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
    trade = dict(layout_of(ir).trade)
    lacks += [f"output {TRADE_PREFIX}{name}" for name in TRADE_REQUIRED if name not in trade]
    lacks += [f"an input not named {spec.name} (the journal's own column)" if spec.name not in SCAN_KEYS
              else f"input {spec.name} as a scalar int64 (it is {spec.type})" for spec in ir.inputs
              if spec.name in dict(SCAN_HEADER) and (spec.name not in SCAN_KEYS or spec.type != INT64)]
    taken = {name for name, _ in DECISION_HEADER} & set(ir.output_names)
    taken |= {name for name, _ in TRADE_HEADER} & set(dict(trade))
    lacks += [f"an output not named {name} (the journal's own column)" for name in sorted(taken)]
    if lacks:
        listed = ", ".join(lacks[:8]) + (f" and {len(lacks) - 8} more" if len(lacks) > 8 else "")
        raise InputError(f"graph {ir.name} is not a decision graph: it lacks {listed}", where=where, fix=RECORD_FIX)
    assert record is not None
    return DecisionRecord(record, layout_of(ir), dict(record.actions))


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
