"""The reactor: one event loop for replay and live, in shadow (observe-only) mode.

Events are processed in time order: scans (and price ticks) from the source,
venue answers, and timers (order TTLs, exit checks at a finer cadence). Before
each event the loop advances the clock to the earliest pending venue event or
timer and handles it, so order TTLs and acks interleave with scans exactly as
their times say. Replay and live differ only in the clock (simulated or
monotonic) and the source; `pace_us` spaces scans in live time.

Per accepted scan: the decision engine decides (latency measured around the
compiled step alone), the record is journaled (kept in a list; the journal's
writer process does the I/O), the divergence monitor compares it with the reference, and the
execution driver turns the actions the graph's record maps to an entry or an
exit into order intents (a long entry BUY, its exit SELL; a short the reverse):
every lane's, a per-asset lane's asset by asset, exits before entries; the
driver gates the portfolio's slots. Each lane's closed trades are journaled
with their lane, symbol and entry and exit times.
Which outputs those are, and the journal's columns, come from the graph's
record (violet/runtime/record.py): no strategy's field is named here. A rejected
scan is journaled as rejected and goes no further.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from violet.compile.ir import IR
from violet.runtime.cadence import Cadence
from violet.runtime.clock import Clock
from violet.runtime.divergence import DivergenceMonitor
from violet.runtime.engine import DecisionEngine
from violet.runtime.execution import ExecutionDriver
from violet.runtime.population import PopulationHost
from violet.runtime.record import DecisionRecord, Intent
from violet.runtime.rows import RunJournal
from violet.runtime.scheduler import DeadlineScheduler, Timer
from violet.runtime.source import PriceTick, ScanEvent
from violet.runtime.venues import OrderIntent


@dataclass
class RunSummary:
    """What a run did, for the closing report."""

    run_id: str
    scans: int = 0
    rejected: int = 0
    decisions: int = 0
    intents: int = 0
    trades: int = 0
    intrabar_exits: int = 0
    divergences: int = 0
    skipped_resume: int = 0
    latencies_us: list[float] = field(default_factory=list)
    orders: dict[str, int] = field(default_factory=dict)
    timer_lateness_us: dict[str, list[int]] = field(default_factory=dict)
    population: int = 0  # instances of a live population (0: none)
    population_latencies_us: list[float] = field(default_factory=list)

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_us, q)) if self.latencies_us else float("nan")

    def render(self) -> str:
        lines = [f"run {self.run_id}: {self.scans:,} scans, {self.rejected:,} rejected, {self.decisions:,} decisions, "
                 f"{self.intents:,} intents, {self.trades:,} trades ({self.intrabar_exits:,} intra-bar exits), "
                 f"{self.divergences:,} divergences",
                 f"decision latency: p50 {self.percentile(50):.1f} us, p99 {self.percentile(99):.1f} us, "
                 f"max {max(self.latencies_us, default=float('nan')):.1f} us",
                 "orders: " + (", ".join(f"{k} {v:,}" for k, v in sorted(self.orders.items())) or "none")]
        if self.population:
            late = self.population_latencies_us
            lines.append(f"population of {self.population:,} instances: step p50 {np.percentile(late, 50):.1f} us, "
                         f"p99 {np.percentile(late, 99):.1f} us, max {max(late):.1f} us per scan")
        for name, late in sorted(self.timer_lateness_us.items()):
            lines.append(f"timer {name}: {len(late):,} fired, lateness p99 {np.percentile(late, 99):.0f} us")
        if self.skipped_resume:
            lines.append(f"resumed: {self.skipped_resume:,} scans were already journaled and were not written again")
        return "\n".join(lines)


@dataclass
class Reactor:
    """Hosts the decision engine on a clock, a source, a venue and a journal."""

    clock: Clock
    engine: DecisionEngine
    driver: ExecutionDriver
    run_id: str
    symbols: list[str]
    graph_hash: str
    record: DecisionRecord
    monitor: DivergenceMonitor = field(default_factory=DivergenceMonitor)  # built with the record's fields
    journal: RunJournal = field(default_factory=RunJournal)  # the driver writes its orders rows to the same one
    cadence: Cadence = field(default_factory=Cadence)
    pace_us: int | None = None
    on_scan: Callable[[ScanEvent], None] | None = None
    population: PopulationHost | None = None  # P more instances of the graph, stepped on every scan
    summary: RunSummary = field(init=False)
    shadow_trades: list[dict[str, Any]] = field(default_factory=list)
    _price: np.ndarray | None = None
    _last_scan: int = -1
    _exit_timer: Timer | None = None
    _scan_ts: dict[int, int] = field(default_factory=dict)  # scan_id -> ts_us of every decided scan (trade times)

    def __post_init__(self) -> None:
        self.summary = RunSummary(self.run_id)

    @property
    def scheduler(self) -> DeadlineScheduler:
        return self.driver.scheduler

    def run(self, events: Iterable[ScanEvent | PriceTick]) -> RunSummary:
        """Process every event in time order; the cyclic garbage collector is paused meanwhile.

        Its collections stopped the decision thread for 10 to 150 ms a few times per
        history (measured: benchmarks/RESULTS.md); the loop creates no reference
        cycles, so reference counting frees everything, and the collector resumes after."""
        gc.freeze()
        gc.disable()
        try:
            return self._run(events)
        finally:
            gc.enable()
            gc.unfreeze()

    def _run(self, events: Iterable[ScanEvent | PriceTick]) -> RunSummary:
        start = self.clock.now_us()
        k = 0
        for event in events:
            due = start + k * self.pace_us if self.pace_us is not None and isinstance(event, ScanEvent) else event.ts_us
            self._advance_to(due)
            if isinstance(event, PriceTick):
                self._price = event.price
                continue
            self._on_scan(event)
            k += 1
        self._advance_to(self.clock.now_us() + self.driver.ttl_us)  # let pending TTLs and acks resolve
        self._finish()
        return self.summary

    # ------------------------------------------------------------ time

    def _advance_to(self, t_us: int) -> None:
        """Handle every venue answer and timer due up to t_us, in time order, then move the clock there."""
        while True:
            pending = [t for t in (self.driver.venue.next_event_us(), self.scheduler.next_deadline()) if t is not None]
            nxt = min(pending, default=None)
            if nxt is None or nxt > t_us:
                break
            self.clock.sleep_until(nxt)
            self.driver.poll_venue()
            self.scheduler.run_due()
        self.clock.sleep_until(t_us)

    # ------------------------------------------------------------ scans

    def _on_scan(self, event: ScanEvent) -> None:
        s = self.summary
        s.scans += 1
        replayed = self.journal.replayed(event.scan_id)
        s.skipped_resume += int(replayed)
        if event.inputs is None:
            s.rejected += 1
            self._journal(replayed, "scans", self._scan_row(event, event.raw))
            return
        record = self.engine.decide(event.inputs)
        s.decisions += 1
        if self.population is not None:
            self.population.on_scan(event.inputs)
        self._last_scan, self._price = event.scan_id, np.asarray(event.inputs["price"])
        self._scan_ts[event.scan_id] = event.ts_us
        journaled = self.journal.writes(replayed)
        # the scan as Python values, once, for whichever of the reference and the scans row wants it
        values = python_scan(self.engine.ir, event.inputs) if journaled or self.monitor.reference is not None else {}
        divergence = None
        if self.monitor.reference is not None:
            divergence = self.monitor.on_decision(event.scan_id, values, record)
        self._journal(replayed, "decisions", self._decision_row(event, record))
        if divergence is not None:
            s.divergences += 1
            self._journal(replayed, "divergences", divergence.row(self.run_id))
        for intent in self.record.intents(record):
            self._intent(event.scan_id, event.ts_us, intent)
        for trade in self.record.trades(record):
            self._trade(trade, event.ts_us, replayed)
        if journaled:
            self._journal(replayed, "scans", self._scan_row(event, values))
        if self.cadence.exit_q_us is not None:
            self._schedule_exit_check(event.ts_us)
        if self.on_scan is not None:
            self.on_scan(event)

    def _scan_row(self, event: ScanEvent, values: Mapping[str, Any]) -> dict[str, Any]:
        """The journal's scans row: an accepted scan's inputs as the graph read them (`python_scan`), a rejected
        one's as they arrived (the graph's per-scan inputs, each in its typed column: the layout's)."""
        return self.record.layout.scan_row(self.run_id, event.scan_id, event.ts_us, values, event.rejected)

    def _decision_row(self, event: ScanEvent, record: dict[str, Any]) -> dict[str, Any]:
        row = {name: record[name] for name in self.record.layout.decision_fields}
        row.update(run_id=self.run_id, scan_id=event.scan_id, ts_us=event.ts_us, graph_hash=self.graph_hash,
                   symbol=self.symbol(self.record.asset(record)), latency_us=self.engine.latencies_us[-1])
        return row

    def symbol(self, asset: int) -> str:
        return self.symbols[asset] if 0 <= asset < len(self.symbols) else ""

    def _intent(self, scan_id: int, ts_us: int, intent: Intent) -> None:
        lane = f"{intent.lane}-" if intent.lane else ""
        order = OrderIntent(f"{self.run_id}-{scan_id}-{lane}{intent.asset}-{'close' if intent.closes else 'open'}",
                            scan_id, ts_us, intent.side, intent.asset, self.symbol(intent.asset), intent.leverage,
                            intent.notional, intent.closes)
        self.summary.intents += 1
        self.driver.submit(order)

    def _trade(self, trade: dict[str, Any], exit_ts_us: int, replayed: bool) -> None:
        trade = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in trade.items()}
        self.shadow_trades.append(trade)
        self.summary.trades += 1
        self._journal(replayed, "trades", self._trade_row("shadow", trade, exit_ts_us))

    def _trade_row(self, source: str, trade: dict[str, Any], exit_ts_us: int) -> dict[str, Any]:
        """A trades row: the trade in the layout's columns, its lane, symbol and the times it opened and closed."""
        return {"run_id": self.run_id, "source": source, "lane": trade.get("lane", ""),
                "symbol": self.symbol(trade["asset"]), "entry_ts_us": self._scan_ts.get(int(trade["entry_scan"]), 0),
                "exit_ts_us": exit_ts_us, **self.record.layout.trade_row(trade)}

    # ------------------------------------------------------------ finer exit cadence

    def _schedule_exit_check(self, after_us: int) -> None:
        """One chain of checks at a time: a scan replaces the chain the previous scan started (the exit
        graph itself says whether a position is held: a flat one never exits)."""
        deadline = self.cadence.next_exit_check(after_us)
        assert deadline is not None
        if self._exit_timer is not None:
            self.scheduler.cancel(self._exit_timer)
        self._exit_timer = self.scheduler.at(deadline, "exit_check", self._exit_check)

    def _exit_check(self, now_us: int) -> None:
        """An intra-bar exit check on the latest prices; reschedules itself until the position closes."""
        self._exit_timer = None
        if self._price is None:
            return
        closed = self.engine.check_exit({"scan_id": self._last_scan, "price": self._price})
        for c in closed:
            self.summary.intrabar_exits += 1
            lane = c.trade["lane"]
            exit_order = self.record.lane(lane).exit_order
            assert exit_order is not None  # the session hosts exit checks of lanes with an exit role only
            self._intent(self._last_scan, now_us, Intent(lane, *exit_order, int(c.trade["asset"]), c.leverage,
                                                         c.notional))
            self._trade(c.trade, now_us, replayed=False)
        if len(closed) < len(self.engine.exit_checks):
            self._schedule_exit_check(now_us)

    # ------------------------------------------------------------ the end

    def _finish(self) -> None:
        for d in self.monitor.on_trades_done(self.shadow_trades):
            self.summary.divergences += 1
            self._journal(False, "divergences", d.row(self.run_id))
        reference = self.monitor.reference_trades
        if reference is None:
            reference = getattr(self.monitor.reference, "trades", None) or []
        for trade in reference:
            exit_ts_us = self._scan_ts.get(int(trade["exit_scan"]), 0)
            self._journal(False, "trades", self._trade_row("reference", trade, exit_ts_us))
        if self.population is not None:
            for row in self.population.rows(self.run_id):
                self._journal(False, "population", row)
            self.summary.population = len(self.population.sets)
            self.summary.population_latencies_us = list(self.population.latencies_us)
        self.summary.latencies_us = list(self.engine.latencies_us)
        self.summary.orders = dict(self.driver.counts)
        self.summary.timer_lateness_us = {k: list(v) for k, v in self.scheduler.lateness_us.items()}

    def _journal(self, replayed: bool, table: str, row: dict[str, Any]) -> None:
        self.journal.append(replayed, table, row)


def python_scan(ir: IR, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """One scan's per-row inputs as a Python reference takes them: vectors as lists, enums as names."""
    out = {}
    for spec in ir.inputs:
        if spec.universe:
            continue
        value = inputs[spec.name]
        out[spec.name] = spec.type.enum[int(value)] if spec.type.enum else np.asarray(value).tolist()
    return out
