"""`violet journal verify`: a run recomputed from the journal alone and compared with what it journaled.

The journal holds every scan the reactor accepted (its inputs, bit for bit), the
run's parameters and universe, and every decision and trade. Verification reads
only those, runs the graph over the accepted scans in one compiled loop from the
initial state (what the reactor did, scan by scan), and compares every decision
field (float64 by bit pattern, every NaN one value) and every shadow trade (its
fields, lane and times, every lane's, through the one trade stream). It
also checks that each accepted scan has exactly one decision and no decision
lacks its scan. The graph file must be the one that decided: its content hash
(with the journaled parameters) must equal the run's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from violet.api import bind, compile_graph, load
from violet.errors import VioletError
from violet.compile.identity import bits, first_difference, plain, stream_differences
from violet.journal.writer import Journal
from violet.journal.layout import Layout, layout_of
from violet.table_io import input_columns, output_columns, trade_stream

MAX_LISTED = 5


@dataclass
class Audit:
    """What verification found for one run."""

    run_id: str
    graph_hash: str
    scans: int = 0
    decisions: int = 0
    missing: list[int] = field(default_factory=list)  # accepted scans with no decision
    extra: list[int] = field(default_factory=list)  # decisions with no accepted scan
    mismatches: list[str] = field(default_factory=list)  # one line per differing decision (first field)
    trades: tuple[int, int] = (0, 0)  # journaled shadow trades, recomputed trades
    trade_mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.mismatches or self.trade_mismatches)

    def render(self) -> str:
        lines = [f"run {self.run_id}: graph {self.graph_hash[:16]} recomputed from the journal alone",
                 f"scans: {self.scans:,} accepted; decisions: {self.decisions:,} journaled, "
                 f"{len(self.mismatches):,} differ, {len(self.missing):,} missing, {len(self.extra):,} without a scan",
                 f"shadow trades: {self.trades[0]:,} journaled, {self.trades[1]:,} recomputed, "
                 f"{len(self.trade_mismatches):,} differ"]
        lines += [f"  missing decision: scan {s}" for s in self.missing[:MAX_LISTED]]
        lines += [f"  decision without a scan: scan {s}" for s in self.extra[:MAX_LISTED]]
        lines += [f"  {m}" for m in (self.mismatches + self.trade_mismatches)[:MAX_LISTED]]
        lines.append("verified: the journal is exactly what the graph decides" if self.ok else "NOT VERIFIED")
        return "\n".join(lines)


def verify_run(journal: Journal, run_id: str, graph: Path) -> Audit:
    """Recompute run `run_id` from the journal with `graph` and compare (see the module's doc)."""
    where = f"run {run_id}"
    run = journal.query("SELECT graph_hash, params, universe_inputs, exit_q_us FROM {db}.runs FINAL "
                        "WHERE run_id = {r:String}", r=run_id)
    if not run:
        raise VioletError(f"no run '{run_id}' in the journal", where=journal.database, fix="omit --run-id for the latest")
    graph_hash, params, universe_inputs, exit_q_us = run[0]
    if exit_q_us:
        raise VioletError(f"exits were also checked between scans (every {exit_q_us / 1e6:g} s): the position state "
                          "changed outside the journaled scans, so scans alone cannot recompute it", where=where,
                          fix="verify a run replayed with exits on scans only (no --exit-q)")
    if not universe_inputs:
        raise VioletError("the run predates journaled universe inputs", where=where, fix="replay it again to verify")
    ir = bind(load(graph), json.loads(params), where)
    if ir.content_hash != graph_hash:
        raise VioletError(f"{graph} is graph {ir.content_hash[:16]}, the run was decided by {graph_hash[:16]}",
                          where=where, fix="give the graph file of the version that ran")
    per_row = [spec.name for spec in ir.inputs if not spec.universe]
    scans_table = journal.run_scans(run_id)
    unjournaled = [name for name in per_row if name not in journal.physical_columns(scans_table)]
    if unjournaled:  # also what keeps a graph's input names, spliced into the query below, plain columns
        raise VioletError(f"graph {ir.name} reads {', '.join(unjournaled)}, which the journal's scans do not hold",
                          where=where, fix="give the decision graph that ran")
    scans = journal.query(f"SELECT {', '.join(f'`{name}`' for name in per_row)}, ts_us FROM {{db}}.{scans_table} FINAL "
                          "WHERE run_id = {r:String} AND rejected = 0 ORDER BY scan_id", r=run_id)
    table = pa.table({name: [row[k] for row in scans] for k, name in enumerate(per_row)})
    ts_us = np.array([row[-1] for row in scans], dtype=np.int64)
    universe = pa.table(json.loads(universe_inputs))
    columns, _ = input_columns(ir, table, f"journal scans of {where}", universe)
    results = compile_graph(ir).batch(columns)
    audit = Audit(run_id, graph_hash, scans=len(scans))
    layout = layout_of(ir)
    decisions, trades, _ = journal.run_tables(run_id)
    if decisions != f"decisions_{layout.key}":
        raise VioletError(f"the run's journal layout is not {graph}'s", where=where, fix="give the graph file that ran")
    _compare_decisions(journal, decisions, layout, run_id, columns["scan_id"].tolist(),
                       output_columns(ir, columns, results), audit)
    stream = trade_stream(ir)
    recomputed = stream.columns(results, columns["scan_id"], ts_us) if stream is not None else {"lane": []}
    _compare_trades(journal, trades, layout, run_id, recomputed, audit)
    return audit


def _compare_decisions(journal: Journal, table: str, layout: Layout, run_id: str, scan_ids: list[int],
                       want: dict[str, Any], audit: Audit) -> None:
    """Every journaled field of every decision (the graph's every output) against the recomputed one."""
    fields = layout.decision_fields
    rows = journal.query(f"SELECT scan_id, {', '.join(f'`{f}`' for f in fields)} FROM {{db}}.{table} FINAL "
                         "WHERE run_id = {r:String} ORDER BY scan_id", r=run_id)
    audit.decisions = len(rows)
    journaled = {row[0]: row[1:] for row in rows}
    audit.missing = [s for s in scan_ids if s not in journaled]
    audit.extra = sorted(set(journaled) - set(scan_ids))
    for k, scan_id in enumerate(scan_ids):
        if scan_id not in journaled:
            continue
        got = dict(zip(fields, journaled[scan_id]))
        expected = {name: want[name][k] for name in fields}
        name = first_difference(fields, got, expected)
        if name is not None:
            value, recomputed = got[name], plain(expected[name])
            audit.mismatches.append(f"scan {scan_id}, {name}: journal {value!r} ({bits(value)}), "
                                    f"recomputed {recomputed!r} ({bits(recomputed)})")


TRADE_KEY = ("exit_scan", "lane", "asset", "entry_scan")  # one order for the journal's trades and the recomputed


def _compare_trades(journal: Journal, table: str, layout: Layout, run_id: str, want: dict[str, Any],
                    audit: Audit) -> None:
    """Every journaled shadow trade (every field, its lane and times) against the recomputed trade stream."""
    fields = ["lane", *layout.trade_fields, "entry_ts_us", "exit_ts_us"]
    rows = journal.query(f"SELECT {', '.join(f'`{f}`' for f in fields)} FROM {{db}}.{table} FINAL "
                         f"WHERE run_id = {{r:String}} AND source = 'shadow' ORDER BY {', '.join(TRADE_KEY)}", r=run_id)
    n = len(want["lane"])
    audit.trades = (len(rows), n)
    key = [fields.index(f) for f in TRADE_KEY]
    recomputed = sorted((tuple(plain(want[f][k]) for f in fields) for k in range(n)),
                        key=lambda row: tuple(row[i] for i in key))
    journaled = [dict(zip(fields, row)) for row in rows]
    for d in stream_differences(fields, journaled, [dict(zip(fields, row)) for row in recomputed]):
        audit.trade_mismatches.append(f"trades: journal {d.mine:,}, recomputed {d.theirs:,}" if d.field == "count" else
                                      f"trade {d.index}, {d.field}: journal {rows[d.index]}, recomputed "
                                      f"{recomputed[d.index]}")
