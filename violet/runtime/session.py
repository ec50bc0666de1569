"""One replay session: build the reactor from settings, run it, journal it, report it.

This is the wiring behind `violet replay` (and the main job): compile the
graph, read the scans and the universe, open the journal (applying the DDL),
resume a run that an earlier process started, run the legacy engine in
lockstep as the divergence monitor's reference, and print the closing summary.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numba
import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from violet.api import compile_graph, exit_check, load
from violet.errors import InputError, quote
from violet.runtime.cadence import Cadence
from violet.runtime.clock import LiveClock, ReplayClock
from violet.runtime.divergence import DivergenceMonitor
from violet.runtime.engine import DecisionEngine, ExitCheck
from violet.runtime.execution import ExecutionDriver
from violet.journal.dsn import JournalError, check_dsn, identifier
from violet.journal.writer import Journal
from violet.runtime.population import PopulationHost
from violet.runtime.reactor import Reactor, RunSummary
from violet.runtime.rows import RunJournal
from violet.runtime.record import SCAN_INPUTS, DecisionRecord, decision_record
from violet.runtime.scheduler import DeadlineScheduler
from violet.runtime.source import ScanEvent, replay_source
from violet.scans.factors import AsOf
from violet.runtime.venues import ObserveOnlyVenue, Venue, VenueKeys, guarded
from violet.tools.diff import build_engine, load_reference
from violet.table_io import read_table

MIN_SECONDS, MAX_SECONDS = 0.001, 86_400.0  # the range of --exit-q and --live-pace: 1 ms to one day
RUN_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}")


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
    factors: AsOf | None = None  # joined as of each scan, replacing the scans' own factor columns
    population: list[dict[str, Any]] = field(default_factory=list)  # a live population's parameter sets
    population_threads: int = 1
    realtime: int | None = None  # run the decision's process at SCHED_FIFO this priority
    venue: Venue = field(default_factory=ObserveOnlyVenue)
    keys: VenueKeys | None = None  # the only way a sending venue is let send (the DARK guard)


def check_seconds(value: float | None, option: str) -> None:
    """A cadence in seconds is None or finite in [MIN_SECONDS, MAX_SECONDS]: -1 schedules exit checks
    backwards for ever, NaN never compares, 1e-9 asks for a billion timers per simulated second."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not MIN_SECONDS <= value <= MAX_SECONDS:
        raise InputError(f"{quote(value)} is not a number of seconds from {MIN_SECONDS:g} (1 ms) to "
                         f"{MAX_SECONDS:,.0f} (one day)", where=option, fix=f"e.g. {option} 60, or leave it out")


def check_settings(s: ReplaySettings) -> None:
    """Everything a user typed that is not a file, checked before anything is read, compiled or journaled."""
    check_seconds(s.exit_q_s, "--exit-q")
    check_seconds(s.live_pace_s, "--live-pace")
    identifier(s.database, "--database")
    cores = numba.config.NUMBA_NUM_THREADS
    if isinstance(s.population_threads, bool) or not isinstance(s.population_threads, int) \
            or not 1 <= s.population_threads <= cores:
        raise InputError(f"{quote(s.population_threads)} is not a number of cores from 1 to {cores}",
                         where="--population-threads", fix="e.g. --population-threads 1")
    if s.realtime is not None and (isinstance(s.realtime, bool) or not isinstance(s.realtime, int)
                                   or not 1 <= s.realtime <= 99):
        raise InputError(f"{quote(s.realtime)} is not a real-time priority from 1 to 99", where="--realtime",
                         fix="e.g. --realtime 10, or leave it out")
    if s.journal is not None:
        check_dsn(s.journal)
    if s.run_id is not None and not (isinstance(s.run_id, str) and RUN_ID.fullmatch(s.run_id)):
        raise InputError(f"{quote(s.run_id)} is not a run id", where="--run-id",
                         fix="letters, digits and _ . : - (not first), at most 128 characters")


def realtime(priority: int) -> None:
    """Run this process at SCHED_FIFO `priority`, its children (a journal writer started later) reset to
    ordinary: the decision is then never preempted by ordinary processes, which is what the latency tail
    under load is (benchmarks/RESULTS.md, "Journal writer"). Needs root or CAP_SYS_NICE."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, os.sched_param(priority))
    except PermissionError:
        raise InputError("this process may not take a real-time priority", where="--realtime",
                         fix="run as root or with CAP_SYS_NICE (or `chrt --fifo --reset-on-fork 10 violet replay "
                             "...`), or leave out --realtime") from None


def reference_engine(spec: str, universe: Mapping[str, np.ndarray], params: Mapping[str, Any]) -> Any:
    """The divergence monitor's reference: an engine class with `on_scan`, built from the universe and the
    run's --set parameters (compared at the same parameter point as the graph).

    `--reference` names any attribute of any module (`os:system` is callable too), so the target is
    checked to be such a class, and its constructor to take those keywords, before it is called."""
    target = load_reference(spec)
    if not inspect.isclass(target) or not callable(getattr(target, "on_scan", None)):
        raise InputError(f"{quote(spec)} is not an engine class with an on_scan method", where="--reference",
                         fix="name one, e.g. violet.legacy.engine:BlueEngine, or give --reference none")
    return build_engine(target, {name: values.tolist() for name, values in universe.items()}, params, spec)


def resume_point(journal: Journal, run_id: str, graph_hash: str) -> int:
    """Scans of this run below the returned scan_id are already journaled whole (-1: a new run).

    A scan's scans row (in the graph's `scans_<layout>`) is written after every other row of that scan, so the
    last journaled scan is complete; it is written again (idempotently) to be safe.
    A run is resumed only by the graph (and parameters) that started it."""
    started = journal.query("SELECT graph_hash FROM {db}.runs FINAL WHERE run_id = {r:String}", r=run_id)
    if started and started[0][0] != graph_hash:
        raise InputError(f"run {quote(run_id)} was started by graph {started[0][0][:16]}, this is {graph_hash[:16]}",
                         where="--run-id", fix="resume it with the graph and --set values that started it, "
                                               "or give a new --run-id")
    rows = journal.query(f"SELECT max(scan_id), count() FROM {{db}}.{journal.table('scans')} FINAL "
                         "WHERE run_id = {r:String}", r=run_id)
    last, count = rows[0]
    return int(last) if count else -1


def read_trades(path: Path, fields: list[str]) -> list[dict[str, Any]]:
    """A trades table with the fields the graph's trades are compared on (TradeStream.compared) as a reference stream."""
    table = read_table(path)
    missing = [c for c in fields if c not in table.column_names]
    if missing:
        raise InputError(f"the trades table lacks {', '.join(missing)}", where=str(path),
                         fix="write it with `violet run ... --trades` or give those columns")
    return table.select(fields).to_pylist()


def exit_checks(graph: Path, ir: Any, record: DecisionRecord) -> list[ExitCheck]:
    """The exit checks between scans (--exit-q): the composed exit node each lane of the graph's record names,
    compiled. A per-asset lane cannot be checked between scans (its exits are the whole scan's vectors)."""
    where = f"{graph} [record] exit_check"
    per_asset = [h.lane.name for h in record.lanes if h.lane.per_asset]
    if per_asset:
        lane = f" {per_asset[0]}" if per_asset[0] else ""
        raise InputError(f"graph {ir.name} has a per-asset lane{lane}: its exits are checked on scans only",
                         where="--exit-q", fix="leave out --exit-q for this graph")
    hosted = [h for h in record.lanes if h.lane.exit_check and h.exit_order is not None]
    if not hosted:
        raise InputError(f"graph {ir.name} names no exit graph to check between scans (or no exit action)",
                         where=where, fix="declare exit_check (a composed exit node) in [record], or leave out --exit-q")
    held = (*SCAN_INPUTS, *(spec.name for spec in ir.inputs if spec.universe))  # what a check can be given
    return [ExitCheck(compile_graph(check), plan, h.lane.name)
            for h in hosted for check, plan in [exit_check(graph, h.lane, ir, held)]]


def build_reactor(s: ReplaySettings, console: Console | None = None,
                  on_scan: Callable[[ScanEvent], None] | None = None) -> tuple[Reactor, Any, Journal | None]:
    """The one place a reactor is composed: settings, graph, scans and reference are checked first (a user
    error journals nothing), then the venue passes the DARK guard, then the journal opens. Each part is
    built with what it needs (the monitor with the record's fields and its reference, the driver and the
    reactor with the run's one RunJournal, the reactor with `on_scan`, called after each decided scan):
    nothing is patched in afterwards."""
    check_settings(s)
    ir = load(s.graph, s.params)
    record = decision_record(ir, str(s.graph))
    checks = exit_checks(s.graph, ir, record) if s.exit_q_s else []
    source = replay_source(ir, s.scans, s.universe, s.factors)
    if console is not None and source.stale:
        console.print("stale factors (taken as neutral): "
                      + ", ".join(f"{name} on {count:,} scans" for name, count in source.stale.items()))
    monitor = DivergenceMonitor(reference=reference_engine(s.reference, source.universe, s.params) if s.reference else None,
                                reference_trades=read_trades(s.reference_trades, record.stream.compared)
                                if s.reference_trades else None,
                                fields=record.layout.decision_fields, trade_fields=record.stream.compared)
    cg = compile_graph(ir)
    run_id = s.run_id or f"{ir.name}-{time.strftime('%Y%m%dT%H%M%S')}"
    engine = DecisionEngine(cg.bind(source.universe, assets=len(source.symbols)), exit_checks=checks)
    population = (PopulationHost(cg, source.universe, s.population, record, threads=s.population_threads,
                                 assets=len(source.symbols))
                  if s.population else None)
    first = min((e.ts_us for e in source.events), default=0)
    clock = LiveClock(first) if s.live_pace_s else ReplayClock(first)
    cadence = Cadence(exit_q_us=int(s.exit_q_s * 1e6) if s.exit_q_s else None)
    venue = guarded(s.venue, s.keys)
    mode = "LIVE" if venue.sends else "DARK"
    journal = (Journal(s.journal, s.database, flush_seconds=cadence.flush_q_us / 1e6, layout=record.layout).start()
               if s.journal else None)
    resume = resume_point(journal, run_id, ir.content_hash) if journal else -1
    rows = RunJournal(journal, run_id, resume)
    driver = ExecutionDriver(venue, DeadlineScheduler(clock), record=rows.order, max_positions=record.max_positions)
    reactor = Reactor(clock, engine, driver, run_id, source.symbols, ir.content_hash, record, monitor, rows, cadence,
                      pace_us=int(s.live_pace_s * 1e6) if s.live_pace_s else None, on_scan=on_scan,
                      population=population)
    if journal is not None:
        journal.append("runs", {"run_id": run_id, "started_us": int(time.time() * 1e6), "graph": ir.name,
                                "graph_hash": ir.content_hash, "source": str(s.scans), "mode": mode,
                                "params": json.dumps(ir.param_defaults), "universe": source.symbols,
                                "universe_inputs": json.dumps({k: v.tolist() for k, v in source.universe.items()}),
                                "exit_q_us": cadence.exit_q_us or 0, "layout": record.layout.key,
                                "action_output": ",".join(record.action_outputs)})
    if console is not None:
        console.print(f"graph {ir.name} {ir.content_hash[:16]} ({len(ir.ops)} ops, kernels "
                      f"{'cached' if cg.cache_hit else 'compiled'} in {cg.seconds:.2f} s); "
                      f"{len(source.events):,} scans x {len(source.symbols)} assets from {s.scans}; "
                      + ("DARK: observe-only, no order leaves; " if mode == "DARK" else "LIVE: orders are sent; ")
                      + cadence.describe())
        if resume >= 0:
            console.print(f"run {run_id} exists in the journal: resuming after scan {resume}")
    return reactor, source, journal


def run_and_close(reactor: Reactor, source: Any, journal: Journal | None) -> RunSummary:
    """Run the reactor; close the journal however the run ends (what is queued is written or spilled)."""
    try:
        return reactor.run(source)
    finally:
        if journal is not None:
            journal.close()


def run_replay(s: ReplaySettings, console: Console, progress: bool = True) -> RunSummary:
    """Run a replay to its end and print the summary. The journal is closed (everything queued written or
    spilled) however the run ends; if the journal could not keep rows, the run stops with a JournalError
    that says how to resume it. On the live clock each decided scan is also one line, with the scans the
    journal has written so far."""
    def tick(event: ScanEvent) -> None:  # called by the reactor only once `bar`, `task` and `journal` are bound below
        bar.advance(task)
        if s.live_pace_s:
            written = journal.stats.inserted.get("scans", 0) if journal is not None else 0
            console.print(f"scan {event.scan_id} decided; journal: {written:,} scans written")

    reactor, source, journal = build_reactor(s, console, on_scan=tick)
    if s.realtime is not None:
        realtime(s.realtime)
        console.print(f"the decision's process runs at SCHED_FIFO {s.realtime} (the journal writer stays ordinary)")
    with Progress(TextColumn("replay"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, disable=not progress, transient=True) as bar:
        task = bar.add_task("scans", total=len(source.events))
        start = time.perf_counter()
        try:
            summary = run_and_close(reactor, source, journal)
        except JournalError as exc:
            raise JournalError(f"run {reactor.run_id} stopped: {exc.what}", where=exc.where,
                               fix=f"{exc.fix} (--run-id {reactor.run_id})") from None
        seconds = time.perf_counter() - start
    console.print(summary.render(), markup=False)
    console.print(f"replay: {summary.scans / seconds:,.0f} scans/s ({seconds:.2f} s)")
    if journal is not None:
        st = journal.stats
        console.print(f"journal {s.journal} database {s.database}: {sum(st.inserted.values()):,} rows written, "
                      f"{st.spilled_rows:,} spilled, {st.replayed_rows:,} replayed, "
                      f"{st.pending_rows:,} still on disk"
                      + (f" (last error: {st.last_error})" if st.last_error else ""))
        console.print(f"report: violet journal report --journal {s.journal} --run-id {summary.run_id}")
    return summary
