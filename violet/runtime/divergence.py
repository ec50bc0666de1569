"""The divergence monitor: shadow decisions and trades against a reference stream.

The reference is the legacy engine run in lockstep (or any object with
`on_scan(**scan)` and `trades`), or a recorded trades table. For each scan the
first breakdown field (in record order) whose float64 bits or value differ is
recorded with both values and their bit patterns; trades are compared one by
one on every field. The fields are the graph's (its outputs, its trade
record), given when it is built (from the graph's record).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from violet.compile.identity import bits, first_difference, stream_differences



@dataclass(frozen=True)
class Divergence:
    scan_id: int
    kind: str  # DECISION or TRADE
    field: str
    shadow: Any
    reference: Any

    def row(self, run_id: str) -> dict[str, Any]:
        return {"run_id": run_id, "scan_id": self.scan_id, "kind": self.kind, "field": self.field,
                "shadow_value": repr(self.shadow), "reference_value": repr(self.reference),
                "shadow_bits": bits(self.shadow), "reference_bits": bits(self.reference)}


@dataclass
class DivergenceMonitor:
    """Compares as the run goes; `divergences` holds one entry per differing scan or trade."""

    reference: Any = None  # an engine with on_scan(**scan) and trades, or None
    reference_trades: Sequence[Mapping[str, Any]] | None = None
    fields: Sequence[str] = ()  # the decision's outputs, in record order
    trade_fields: Sequence[str] = ()  # the trade record's fields
    divergences: list[Divergence] = field(default_factory=list)
    compared_scans: int = 0

    def on_decision(self, scan_id: int, scan: Mapping[str, Any], record: Mapping[str, Any]) -> Divergence | None:
        if self.reference is None:
            return None
        expected = self.reference.on_scan(**scan)
        self.compared_scans += 1
        name = first_difference([n for n in self.fields if n in expected], record, expected)
        if name is None:
            return None
        found = Divergence(scan_id, "DECISION", name, record[name], expected[name])
        self.divergences.append(found)
        return found

    def on_trades_done(self, shadow: Sequence[Mapping[str, Any]]) -> list[Divergence]:
        """Compare the whole trade streams at the end of a run."""
        reference = self.reference_trades
        if reference is None and self.reference is not None:
            reference = self.reference.trades
        if reference is None:
            return []
        found = [Divergence(int((shadow if d.index < len(shadow) else reference)[d.index]["exit_scan"]), "TRADE",
                            d.field, d.mine, d.theirs)
                 for d in stream_differences(self.trade_fields, shadow, reference)]
        self.divergences += found
        return found
