"""One replay session: build the reactor from settings, run it, journal it, report it.

This is the wiring behind `violet replay` (and the main job): compile the
graph, read the scans and the universe, open the journal (applying the DDL),
resume a run that an earlier process started, run the legacy engine in
lockstep as the divergence monitor's reference, and print the closing summary.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from violet.compile.lower import lower
from violet.compile.numba_backend import compile_ir
from violet.dag.graph import load_graph
from violet.errors import InputError
from violet.runtime.cadence import Cadence
from violet.runtime.clock import LiveClock, ReplayClock
from violet.runtime.divergence import TRADE_FIELDS, DivergenceMonitor
from violet.runtime.engine import DecisionEngine
from violet.runtime.execution import ExecutionDriver
from violet.runtime.journal import Journal
from violet.runtime.reactor import Reactor, RunSummary
from violet.runtime.scheduler import DeadlineScheduler
from violet.runtime.source import ScanEvent, replay_source
from violet.runtime.venues import ObserveOnlyVenue, Venue
from violet.tools.diff import load_reference
from violet.tools.table_io import read_table

EXIT_GRAPH = Path(__file__).resolve().parents[2] / "graphs" / "blue_exit.toml"


@dataclass
class ReplaySettings:
    graph: Path
    scans: Path
    universe: Path | None = None
    journal: str | None = None
    database: str = "violet"
    run_id: str | None = None
    reference: str | None = None
    reference_trades: Path | None = None
    exit_q_s: float | None = None
    live_pace_s: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    venue: Venue = field(default_factory=ObserveOnlyVenue)


def resume_point(journal: Journal, run_id: str) -> int:
    """Scans of this run below the returned scan_id are already journaled whole (-1: a new run).

    A scan's `scans` row is written after every other row of that scan, so the
    last journaled scan is complete; it is written again (idempotently) to be safe."""
    rows = journal.query("SELECT max(scan_id), count() FROM {db}.scans FINAL WHERE run_id = %(r)s", r=run_id)
    last, count = rows[0]
    return int(last) if count else -1


def read_trades(path: Path) -> list[dict[str, Any]]:
    """A trades table (entry_scan, exit_scan, asset, reason, leverage, notional, pnl) as a reference stream."""
    table = read_table(path)
    missing = [c for c in TRADE_FIELDS if c not in table.column_names]
    if missing:
        raise InputError(f"the trades table lacks {', '.join(missing)}", where=str(path),
                         fix="write it with `violet run ... --trades` or give those columns")
    return table.select(list(TRADE_FIELDS)).to_pylist()


def build_reactor(s: ReplaySettings, console: Console | None = None) -> tuple[Reactor, Any, Journal | None]:
    ir = lower(load_graph(s.graph)).with_params(s.params) if s.params else lower(load_graph(s.graph))
    cg = compile_ir(ir)
    source = replay_source(ir, s.scans, s.universe)
    run_id = s.run_id or f"{ir.name}-{time.strftime('%Y%m%dT%H%M%S')}"
    exit_graph = compile_ir(lower(load_graph(EXIT_GRAPH))) if s.exit_q_s else None
    engine = DecisionEngine(cg, source.universe, exit_graph=exit_graph)
    first = min((e.ts_us for e in source.events), default=0)
    clock = LiveClock(first) if s.live_pace_s else ReplayClock(first)
    cadence = Cadence(exit_q_us=int(s.exit_q_s * 1e6) if s.exit_q_s else None)
    journal = Journal(s.journal, s.database, flush_seconds=cadence.flush_q_us / 1e6).start() if s.journal else None
    resume = resume_point(journal, run_id) if journal else -1
    monitor = DivergenceMonitor(reference_trades=read_trades(s.reference_trades) if s.reference_trades else None)
    if s.reference:
        cls = load_reference(s.reference)
        monitor.reference = cls(**{k: v.tolist() for k, v in source.universe.items()})
    driver = ExecutionDriver(s.venue, DeadlineScheduler(clock), record=lambda row: None)
    reactor = Reactor(clock, engine, driver, run_id, source.symbols, ir.content_hash, monitor, journal, cadence,
                      resume_after=resume, pace_us=int(s.live_pace_s * 1e6) if s.live_pace_s else None)
    if journal is not None:
        journal.append("runs", {"run_id": run_id, "started_us": int(time.time() * 1e6), "graph": ir.name,
                                "graph_hash": ir.content_hash, "source": str(s.scans), "mode": "DARK",
                                "params": json.dumps(ir.param_defaults), "universe": source.symbols,
                                "universe_inputs": json.dumps({k: v.tolist() for k, v in source.universe.items()}),
                                "exit_q_us": cadence.exit_q_us or 0})
    if console is not None:
        console.print(f"graph {ir.name} {ir.content_hash[:16]} ({len(ir.ops)} ops, kernels "
                      f"{'cached' if cg.cache_hit else 'compiled'} in {cg.seconds:.2f} s); "
                      f"{len(source.events):,} scans x {len(source.symbols)} assets from {s.scans}; "
                      f"DARK: observe-only, no order leaves; {cadence.describe()}")
        if resume >= 0:
            console.print(f"run {run_id} exists in the journal: resuming after scan {resume}")
    return reactor, source, journal


def run_replay(s: ReplaySettings, console: Console, progress: bool = True) -> RunSummary:
    reactor, source, journal = build_reactor(s, console)
    with Progress(TextColumn("replay"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, disable=not progress, transient=True) as bar:
        task = bar.add_task("scans", total=len(source.events))

        def tick(event: ScanEvent) -> None:
            bar.advance(task)

        reactor.on_scan = tick
        start = time.perf_counter()
        summary = reactor.run(source)
        seconds = time.perf_counter() - start
    if journal is not None:
        journal.close()
    console.print(summary.render(), markup=False)
    console.print(f"replay: {summary.scans / seconds:,.0f} scans/s ({seconds:.2f} s)")
    if journal is not None:
        st = journal.stats
        console.print(f"journal {s.journal} database {s.database}: {sum(st.inserted.values()):,} rows written, "
                      f"{st.spilled_rows:,} spilled, {st.replayed_rows:,} replayed, "
                      f"{journal.pending_spill_rows():,} still on disk"
                      + (f" (last error: {st.last_error})" if st.last_error else ""))
        console.print(f"report: violet journal report --journal {s.journal} --run-id {summary.run_id}")
    return summary
