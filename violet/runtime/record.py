"""A decision graph's record, as its host reads it: lanes, roles, sides and the journal's typed columns.

The graph declares its record (`[record]`, docs/runtime.md "The record contract"): one lane, or several
run as one portfolio, each naming which output is the action and which action values enter or exit which
side, the asset (none for a per-asset lane, whose outputs are vectors over the universe), the entry size,
the size an exit closes and the trade flag; each lane's `<trades>*` outputs are its trade record
(violet.table_io.TradeStream). Everything the runtime does with a decision comes from here: the order
intents of each scan, the trades it closes, the columns of the journal's decisions and trades tables
(every output, each typed), the most positions the portfolio holds, and the checks that refuse a graph
the host cannot read, naming what is missing. No field of any one strategy is named in this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from violet.compile.ir import IR
from violet.dag.types import DType, Lane, Record, ValueType
from violet.errors import InputError
from violet.journal.layout import DECISION_HEADER, SCAN_HEADER, TRADE_HEADER, Layout, layout_of
from violet.table_io import TradeStream, trade_stream

SCAN_INPUTS = ("scan_id", "price")  # what a decision graph must read of a scan (the reactor keeps its time)
SCAN_KEYS = ("scan_id", "ts_us")  # the journal's key columns of a scan, which a graph may read (as int64)
INT64 = ValueType(DType.I64)
# the order each role sends: (side, closes a position)
SIDES = {"enter_long": ("BUY", False), "exit_long": ("SELL", True),
         "enter_short": ("SELL", False), "exit_short": ("BUY", True)}
RECORD_FIX = "declare [record] in the graph file (docs/runtime.md, \"The record contract\"; e.g. graphs/blue_decision.toml)"
SIZES = ("leverage", "notional", "exit_leverage", "exit_notional")


@dataclass(frozen=True)
class Intent:
    """One order a decision asks for: which lane, side, whether it closes, the asset and the size."""

    lane: str
    side: str
    closes: bool
    asset: int
    leverage: float
    notional: float


@dataclass(frozen=True)
class HostLane:
    """One lane of the record and the role of each of its action values."""

    lane: Lane
    roles: dict[str, str]  # action value -> role

    def order(self, action: str) -> tuple[str, bool] | None:
        """(side, closes) of the order an action value sends, or None for an action that sends none."""
        role = self.roles.get(action)
        return SIDES[role] if role is not None else None

    @property
    def exit_order(self) -> tuple[str, bool] | None:
        """(side, closes) of the exit a check between scans sends: the lane's exit role (None if it has none)."""
        exits = sorted({role for role in self.roles.values() if role.startswith("exit_")})
        return SIDES[exits[0]] if exits else None

    def intents(self, record: dict[str, Any]) -> list[Intent]:
        """The orders this lane's outputs in one decision record ask for (a per-asset lane's in index order)."""
        lane = self.lane
        actions = record[lane.action]
        if not lane.per_asset:
            order = self.order(actions)
            return [] if order is None else [self._intent(record, order, int(record[lane.asset]), None)]
        return [self._intent(record, order, asset, asset) for asset, action in enumerate(actions)
                if (order := self.order(action)) is not None]

    def _intent(self, record: dict[str, Any], order: tuple[str, bool], asset: int, at: int | None) -> Intent:
        side, closes = order
        lane = self.lane
        sizes = (lane.exit_leverage, lane.exit_notional) if closes else (lane.leverage, lane.notional)
        values = [record[name] for name in sizes]
        if at is not None:
            values = [v[at] if isinstance(v, (np.ndarray, list)) else v for v in values]
        return Intent(lane.name, side, closes, asset, float(values[0]), float(values[1]))


@dataclass(frozen=True)
class DecisionRecord:
    """What the host reads of one decision graph (built by `decision_record`, which checks it)."""

    record: Record
    layout: Layout
    stream: TradeStream
    lanes: tuple[HostLane, ...]
    max_positions: int | None  # the most positions the portfolio holds at once (None: no limit)

    def lane(self, name: str) -> HostLane:
        return next(h for h in self.lanes if h.lane.name == name)

    def intents(self, record: dict[str, Any]) -> list[Intent]:
        """Every order one decision asks for, exits first (a position closed on a scan frees its slot before
        an entry of that scan takes one), then lane by lane in the record's order, assets in index order."""
        intents = [intent for lane in self.lanes for intent in lane.intents(record)]
        return sorted(intents, key=lambda intent: not intent.closes)

    def trades(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        """The trades one decision closes, each with its lane."""
        return self.stream.of_scan(record)

    def asset(self, record: dict[str, Any]) -> int:
        """The asset a decision row names (its first one-position lane's; -1 when every lane is per-asset)."""
        return next((int(record[h.lane.asset]) for h in self.lanes if not h.lane.per_asset), -1)

    @property
    def action_outputs(self) -> list[str]:
        """The action outputs `journal report` counts decisions by: every lane's, in the record's order."""
        return [h.lane.action for h in self.lanes]


def decision_record(ir: IR, where: str) -> DecisionRecord:
    """The record of a graph the reactor can host, or one InputError listing everything it lacks."""
    lacks = [f"input {name}" for name in SCAN_INPUTS if name not in {s.name for s in ir.inputs if not s.universe}]
    if not ir.stateful:
        lacks.append("state (a position carried from scan to scan)")
    record = ir.record
    stream = None
    if record is None:
        lacks.append("a [record] table")
    else:
        for lane in record.lanes:
            lacks += _lane_problems(ir, lane)
        try:
            stream = trade_stream(ir)
        except InputError as exc:
            lacks.append(f"a trade stream that fits ({exc.what})")
    lacks += [f"an input not named {spec.name} (the journal's own column)" if spec.name not in SCAN_KEYS
              else f"input {spec.name} as a scalar int64 (it is {spec.type})" for spec in ir.inputs
              if spec.name in dict(SCAN_HEADER) and (spec.name not in SCAN_KEYS or spec.type != INT64)]
    taken = {name for name, _ in DECISION_HEADER} & set(ir.output_names)
    taken |= {name for name, _ in TRADE_HEADER} & set(stream.fields if stream else ())
    lacks += [f"an output not named {name} (the journal's own column)" for name in sorted(taken)]
    limit = _max_positions(ir, record, lacks)
    if lacks:
        listed = ", ".join(lacks[:8]) + (f" and {len(lacks) - 8} more" if len(lacks) > 8 else "")
        raise InputError(f"graph {ir.name} is not a decision graph: it lacks {listed}", where=where, fix=RECORD_FIX)
    assert record is not None and stream is not None
    return DecisionRecord(record, layout_of(ir), stream, tuple(HostLane(lane, dict(lane.actions)) for lane in record.lanes),
                          limit)


def _lane_problems(ir: IR, lane: Lane) -> list[str]:
    """What in one lane does not fit the graph's outputs: each named output's kind, and the action values.

    A lane of one position reads scalars; a per-asset lane reads its action and trade flag as vectors and
    its sizes as vectors or scalars (the same for every asset)."""
    key = f"record.lanes.{lane.name}" if lane.name else "record"
    wanted: dict[str, tuple[DType | None, bool | None]] = {
        "action": (None, lane.per_asset), "trade": (DType.BOOL, lane.per_asset),
        **{size: (DType.F64, None if lane.per_asset else False) for size in SIZES}}
    if not lane.per_asset:
        wanted["asset"] = (DType.I64, False)
    problems = []
    for field, (dtype, vector) in wanted.items():
        vtype = ir.output_type(getattr(lane, field))
        if not _fits(vtype, dtype, vector):
            shape = {True: "a vector", False: "a scalar", None: "a scalar or vector"}[vector]
            problems.append(f"{key}.{field} as {shape} {dtype.value if dtype else 'enum'} output "
                            f"({getattr(lane, field)} is {vtype})")
    enum = ir.output_type(lane.action).enum
    if enum is None:
        problems.append(f"{key}.action as an enum output ({lane.action} is not an enum)")
    else:
        problems += [f"action value {value} ({key}.actions names it; {lane.action} is one of {', '.join(enum)})"
                     for value, _ in lane.actions if value not in enum]
    return problems


def _fits(vtype: ValueType, dtype: DType | None, vector: bool | None) -> bool:
    if vector is not None and vtype.vector != vector:
        return False
    return vtype.enum is not None if dtype is None else (vtype.dtype == dtype and vtype.enum is None)


def _max_positions(ir: IR, record: Record | None, lacks: list[str]) -> int | None:
    """The record's max_positions as a number: itself, or its parameter's value (which must be an int >= 1)."""
    limit = record.max_positions if record is not None else None
    if not isinstance(limit, str):
        return limit
    value = ir.param_defaults.get(limit)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        lacks.append(f"record.max_positions as a whole number >= 1 (parameter {limit} is {value!r})")
        return None
    return value
