"""A lane's totals for one scan, as scalar outputs: what a population adds up per instance.

A population writes one value per instance (`numba_codegen.population_outputs`: scalars only), and its host
adds up, per instance, a lane's entries, closed trades, winning trades and their pnl. A per-asset lane's
action, trade flag and trade pnl are vectors over the universe, so `with_totals` appends to the IR, for each
lane, the ops that make those four scalars per scan from the catalog's own ops: for a per-asset lane,
`count` of the assets whose action enters, `count` of the trade flags, `count` of `trade and pnl > 0`, and
`sum` of the pnl where a trade closes (in index order); for a lane of one position, the same as selects of 1
or 0 (and of the pnl or 0.0). The new outputs' names hold `#`, which no graph output's name can, so they
never meet the graph's own.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace

from violet.compile.ir import IR, Op
from violet.compile.ops import result_type
from violet.dag.types import F64, I64, ValueType

TOTALS = ("entries", "trades", "wins", "pnl")


@dataclass(frozen=True)
class LaneOutputs:
    """The outputs a population reads of one lane, and the action codes that enter a position."""

    name: str
    action: str
    trade: str
    pnl: str
    entry_codes: tuple[int, ...]


def total_name(lane: str, what: str) -> str:
    """The output holding one of `TOTALS` for lane `lane` ("" for a flat record's one lane)."""
    return f"{lane}#{what}"


def with_totals(ir: IR, lanes: Sequence[LaneOutputs]) -> IR:
    """`ir` with the outputs `total_name(lane, t)` for each lane and each t of TOTALS (see the module)."""
    ops = list(ir.ops)
    outputs = dict(ir.outputs)

    def add(kind: str, *args: int, value: bool | int | float | None = None, vtype: ValueType | None = None) -> int:
        if vtype is None:
            found = result_type(kind, [ops[a].type for a in args])
            assert not isinstance(found, str), found  # the lane's outputs were typed by the record's check
            vtype = found
        ops.append(Op(len(ops), kind, vtype, args, value, node="population totals"))
        return len(ops) - 1

    for lane in lanes:
        action, trade, pnl = (outputs[name] for name in (lane.action, lane.trade, lane.pnl))
        codes = [add("eq", action, add("const", value=code, vtype=ops[action].type.scalar)) for code in lane.entry_codes]
        enters = functools.reduce(lambda a, b: add("or", a, b), codes) if codes else None  # none: no entry role
        wins = add("and", trade, add("gt", pnl, add("const", value=0.0, vtype=F64)))
        none = add("const", value=0, vtype=I64)
        if ops[trade].type.vector:
            totals = [none if enters is None else add("count", enters), add("count", trade), add("count", wins),
                      add("sum", pnl, trade)]
        else:
            one = add("const", value=1, vtype=I64)
            totals = [none if flag is None else add("select", flag, one, none) for flag in (enters, trade, wins)]
            totals.append(add("select", trade, pnl, add("const", value=0.0, vtype=F64)))
        outputs.update({total_name(lane.name, what): k for what, k in zip(TOTALS, totals)})
    return replace(ir, ops=tuple(ops), outputs=tuple(outputs.items()), _hashes={})
