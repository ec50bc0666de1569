"""The reactor in shadow mode, end to end, against the real embedded ClickHouse (a database per test)."""

from __future__ import annotations

import os
import re
import signal
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import GRAPHS
from waiting import wait_for

from violet.compile.lower import lower
from violet.compile.numba_backend import compile_ir
from violet.dag.graph import load_graph
from violet.legacy.engine import BlueEngine
from violet.runtime.cadence import Cadence
from violet.runtime.clock import ReplayClock
from violet.runtime.divergence import DivergenceMonitor
from violet.runtime.engine import DecisionEngine
from violet.runtime.execution import ExecutionDriver
from violet.journal.writer import Journal
from violet.runtime.reactor import Reactor
from violet.runtime.rows import RunJournal
from violet.runtime.scheduler import DeadlineScheduler
from violet.runtime.record import decision_record
from violet.runtime.session import exit_checks
from violet.runtime.source import PriceTick, replay_source
from violet.runtime.venues import ObserveOnlyVenue, ScriptedVenue, ScriptStep, VenueKeys, guarded

HOUR = 3_600_000_000
COUNT_SCRIPT = """
import json, sys
from violet.journal.writer import Journal
j = Journal(sys.argv[1], "violet")
tables = {"scans": j.run_scans("killed"), "decisions": j.run_tables("killed")[0], "divergences": "divergences"}
final = {t: j.query(f"SELECT count() FROM {{db}}.{p} FINAL WHERE run_id = 'killed'")[0][0] for t, p in tables.items()}
for p in tables.values():
    j.command(f"OPTIMIZE TABLE {{db}}.{p} FINAL")
raw = {t: j.query(f"SELECT count() FROM {{db}}.{p} WHERE run_id = 'killed'")[0][0] for t, p in tables.items()}
print(json.dumps([final, raw]))
"""


def write_scans(path: Path, n_scans: int = 240, n_assets: int = 6, seed: int = 7, bad: dict | None = None,
                vel_div: tuple[float, float] = (-0.08, 0.01)) -> Path:
    """A scans file and its universe: random-walk prices, a stablecoin at index 0, signal most scans (a short
    signal with the default `vel_div` range, a long one with a mirrored range)."""
    rng = np.random.default_rng(seed)
    price = 100.0 * np.cumprod(1 + rng.normal(0, 0.006, (n_scans, n_assets)), axis=0)
    for (row, asset), value in (bad or {}).items():
        price[row, asset] = value
    table = pa.table({
        "scan_id": np.arange(n_scans), "ts_us": 1_700_000_000_000_000 + np.arange(n_scans) * HOUR,
        "vel_div": rng.uniform(*vel_div, n_scans), "price": list(price), "score": list(rng.normal(size=(n_scans, n_assets))),
        "acb_boost": np.ones(n_scans), "acb_beta": np.full(n_scans, 0.5), "mc_scale": np.ones(n_scans),
        "ob_mult": np.ones(n_scans), "esof_score": rng.normal(size=n_scans),
        "dc_status": rng.choice(["CONFIRM", "NEUTRAL", "CONTRADICT"], n_scans),
        "posture": rng.choice(["APEX", "STALKER", "TURTLE"], n_scans), "capital": np.full(n_scans, 10_000.0)})
    pq.write_table(table, path)
    universe = pa.table({"index": np.arange(n_assets), "symbol": ["USDCUSDT"] + [f"A{k}USDT" for k in range(1, n_assets)],
                         "stable": [True] + [False] * (n_assets - 1), "exchange_max_leverage": [20] * n_assets})
    pq.write_table(universe, path.with_name(path.stem + ".universe.parquet"))
    return path


@pytest.fixture(scope="module")
def compiled():
    ir = lower(load_graph(GRAPHS / "blue_decision.toml"))
    return ir, compile_ir(ir)


def make_reactor(compiled, scans: Path, venue=None, journal=None, cadence=None, checks=(), on_scan=None):
    ir, cg = compiled
    source = replay_source(ir, scans)
    clock = ReplayClock(source.events[0].ts_us)
    record = decision_record(ir, "test")
    monitor = DivergenceMonitor(reference=BlueEngine(**{k: v.tolist() for k, v in source.universe.items()}),
                                fields=record.layout.decision_fields, trade_fields=record.stream.compared)
    rows = RunJournal(journal, f"run-{uuid.uuid4().hex[:8]}")
    driver = ExecutionDriver(venue or ObserveOnlyVenue(), DeadlineScheduler(clock), record=rows.order)
    engine = DecisionEngine(cg.bind(source.universe), exit_checks=checks)
    reactor = Reactor(clock, engine, driver, rows.run_id, source.symbols, ir.content_hash, record, monitor, rows,
                      cadence or Cadence(), on_scan=on_scan)
    return reactor, source


def test_end_to_end_replay_journals_every_row_with_no_divergence(compiled, chdb_dir, tmp_path):
    scans = write_scans(tmp_path / "scans.parquet", bad={(30, 2): float("nan"), (31, 4): -1.0})
    layout = decision_record(compiled[0], "test").layout
    journal = Journal(f"chdb://{chdb_dir}", f"t_{uuid.uuid4().hex[:8]}", spill_dir=tmp_path / "spill",
                      layout=layout).start()
    reactor, source = make_reactor(compiled, scans, journal=journal)
    summary = reactor.run(source)
    journal.flush()  # read through the writer process, before it closes
    assert summary.scans == 240 and summary.rejected == 2 and summary.decisions == 238
    assert summary.divergences == 0 and summary.trades > 0 and summary.trades == len(reactor.monitor.reference.trades)
    run = reactor.run_id
    assert journal.count("scans", run) == 240
    assert journal.count("decisions", run) == 238
    assert journal.count("orders", run) == summary.intents
    assert journal.count("trades", run) == 2 * summary.trades  # shadow and reference
    assert journal.count("divergences", run) == 0
    # the NaN scan is journaled as rejected, naming scan and field, and never reached the graph
    rejected = journal.query(f"SELECT scan_id, reject_reason FROM {{db}}.{layout.scans_table} FINAL WHERE run_id = %(r)s "
                             "AND rejected = 1 "
                             "ORDER BY scan_id", r=run)
    assert [r[0] for r in rejected] == [30, 31]
    assert "field price: asset 2: is NaN" in rejected[0][1] and "must be > 0.0" in rejected[1][1]
    assert journal.query(f"SELECT count() FROM {{db}}.{layout.decisions_table} FINAL WHERE run_id = %(r)s "
                         "AND scan_id IN (30, 31)", r=run)[0][0] == 0
    # every float of the breakdown journaled bit for bit: leverage of the first entry equals the engine's
    first_entry = next(t for t in reactor.monitor.reference.trades)
    lev = journal.query(f"SELECT leverage FROM {{db}}.{layout.decisions_table} FINAL WHERE run_id = %(r)s "
                        "AND scan_id = %(s)s", r=run, s=first_entry["entry_scan"])[0][0]
    assert lev == first_entry["leverage"]
    journal.close()


def test_journal_failing_mid_run_loses_and_duplicates_nothing(compiled, chdb_dir, tmp_path):
    scans = write_scans(tmp_path / "scans.parquet", n_scans=300)
    db = f"t_{uuid.uuid4().hex[:8]}"
    journal = Journal(f"chdb://{chdb_dir}", db, spill_dir=tmp_path / "spill", flush_seconds=0.01,
                      layout=decision_record(compiled[0], "test").layout).start()
    decisions = journal.table("decisions")

    def sabotage(event):
        if event.scan_id == 80:
            wait_for(lambda: journal.stats.inserted.get("decisions", 0) == 81, "decisions 0..80 inserted")
            journal.command(f"DETACH TABLE {db}.{decisions}")  # the journal fails for real (in the writer process)
        if event.scan_id == 200:
            wait_for(lambda: journal.stats.spilled_rows > 0, "a failed insert spilled")
            journal.command(f"ATTACH TABLE {db}.{decisions}")

    reactor, source = make_reactor(compiled, scans, journal=journal, on_scan=sabotage)
    summary = reactor.run(source)
    journal.close()
    assert journal.stats.failures > 0 and journal.stats.spilled_rows > 0
    assert journal.stats.replayed_rows == journal.stats.spilled_rows
    with journal:  # the writer is gone: reopened in this process for these reads, closed after
        assert journal.pending_spill_rows() == 0
        assert journal.count("decisions", reactor.run_id) == summary.decisions == 300
        assert journal.query(f"SELECT count() FROM {{db}}.{decisions}")[0][0] == 300  # no duplicate, even before merges


def scans_written(line: str) -> int:
    """N from a live replay's per-scan line '... journal: N scans written', else -1."""
    found = re.search(r"journal: ([\d,]+) scans written", line)
    return int(found.group(1).replace(",", "")) if found else -1


def test_dark_guard_lets_no_order_leave_whatever_the_script(compiled, tmp_path):
    scans = write_scans(tmp_path / "scans.parquet")
    scripted = ScriptedVenue([ScriptStep(ack_us=1_000, outcome="FILL"), ScriptStep(ack_us=None)])
    reactor, source = make_reactor(compiled, scans, venue=guarded(scripted, keys=None))
    summary = reactor.run(source)
    assert summary.intents > 0 and scripted.submitted == []
    assert summary.orders == {"RECORDED_NOT_SENT": summary.intents}
    assert len(reactor.driver.venue.attempts) == summary.intents
    # with keys, the same venue does receive the orders: the guard is what held them back
    keyed = ScriptedVenue([ScriptStep(ack_us=1_000)])
    reactor, source = make_reactor(compiled, scans, venue=guarded(keyed, keys=VenueKeys("key", "secret")))
    assert reactor.run(source).intents == len(keyed.submitted) > 0


def test_order_ttl_expires_with_a_slow_venue(compiled, tmp_path):
    scans = write_scans(tmp_path / "scans.parquet", n_scans=60)
    slow = ScriptedVenue([ScriptStep(ack_us=150_000, outcome="FILL", done_us=1_000)])  # ack after 150 ms > TTL
    reactor, source = make_reactor(compiled, scans, venue=slow)
    summary = reactor.run(source)
    assert summary.intents > 0
    assert summary.orders["EXPIRED"] == summary.intents
    assert summary.orders["ACK_AFTER_EXPIRY"] == summary.intents and "ACKED" not in summary.orders
    assert summary.timer_lateness_us["order_ttl"] == [0] * summary.intents  # the replay clock fires exactly on time
    fast = ScriptedVenue([ScriptStep(ack_us=20_000, outcome="FILL", done_us=5_000)])
    reactor, source = make_reactor(compiled, scans, venue=fast)
    summary = reactor.run(source)
    assert summary.orders.get("EXPIRED", 0) == 0 and summary.orders["FILLED"] == summary.intents


def test_finer_exit_cadence_exits_between_scans(compiled, tmp_path):
    """Q(exit) = 1 minute: a price tick 10 minutes after the entry scan takes profit before the next scan."""
    n_assets = 3
    table = pa.table({
        "scan_id": [0, 1], "ts_us": [0, HOUR], "vel_div": [-0.05, 0.0], "price": [[1.0, 1.0, 100.0]] * 2,
        "score": [[0.0, 1.0, 2.0]] * 2, "acb_boost": [1.0, 1.0], "acb_beta": [0.0, 0.0], "mc_scale": [1.0, 1.0],
        "ob_mult": [1.0, 1.0], "esof_score": [0.0, 0.0], "dc_status": ["NEUTRAL"] * 2, "posture": ["APEX"] * 2,
        "capital": [10_000.0, 10_000.0]})
    path = tmp_path / "s.parquet"
    pq.write_table(table, path)
    pq.write_table(pa.table({"symbol": ["USDC", "A", "B"], "stable": [True, False, False],
                             "exchange_max_leverage": [20] * n_assets}), tmp_path / "s.universe.parquet")
    checks = exit_checks(GRAPHS / "blue_decision.toml", compiled[0], decision_record(compiled[0], "test"))
    reactor, source = make_reactor(compiled, path, cadence=Cadence(exit_q_us=60_000_000), checks=checks)
    source.events.append(PriceTick(10 * 60_000_000 + 5, np.array([1.0, 1.0, 99.0])))  # pnl 0.01 >= tp 0.0095
    summary = reactor.run(source)
    assert summary.intrabar_exits == 1 and summary.trades == 1
    trade = reactor.shadow_trades[0]
    assert trade["reason"] == "TAKE_PROFIT" and trade["pnl"] == (100.0 - 99.0) / 100.0 and trade["exit_scan"] == 0
    assert not reactor.engine.state["pos.open"] or reactor.engine.state["pos.entry_scan"] == 1  # re-entered on scan 1
    # at scan cadence the same data has no exit before scan 1 (whose price is back at 100)
    reactor, source = make_reactor(compiled, path)
    source.events.append(PriceTick(10 * 60_000_000 + 5, np.array([1.0, 1.0, 99.0])))
    assert reactor.run(source).trades == 0


def test_a_reference_trades_table_and_an_attributed_divergence(compiled, chdb_dir, tmp_path):
    """The monitor against a trades table: equal streams agree; one changed pnl is one TRADE divergence, journaled."""
    from violet.runtime.session import ReplaySettings, build_reactor

    scans = write_scans(tmp_path / "scans.parquet")
    ir, cg = compiled
    trades = cg.scan(replay_columns(ir, scans))[0]
    rows = np.flatnonzero(trades["trade"])
    table = {f: trades[f"trade_{f}"][rows].tolist() for f in ("entry_scan", "exit_scan", "asset", "leverage",
                                                              "notional", "pnl")}
    table["reason"] = [ir.output_type("trade_reason").enum[c] for c in trades["trade_reason"][rows]]
    good, bad = tmp_path / "good.parquet", tmp_path / "bad.parquet"
    pq.write_table(pa.table(table), good)
    table["pnl"][1] = np.nextafter(table["pnl"][1], 1.0)  # one ULP off, on the second trade
    pq.write_table(pa.table(table), bad)
    for path, expected in ((good, 0), (bad, 1)):
        db = f"t_{uuid.uuid4().hex[:8]}"
        settings = ReplaySettings(GRAPHS / "blue_decision.toml", scans, journal=f"chdb://{chdb_dir}", database=db,
                                  reference_trades=path)
        reactor, source, journal = build_reactor(settings)
        with journal:
            summary = reactor.run(source)
            row = journal.query("SELECT kind, field, scan_id, shadow_bits, reference_bits FROM {db}.divergences FINAL")
        assert summary.divergences == expected == len(row)
        if expected:
            assert row[0][:3] == ("TRADE", "pnl", table["exit_scan"][1])
            assert int(row[0][3], 16) + 1 == int(row[0][4], 16) or int(row[0][3], 16) - 1 == int(row[0][4], 16)


def replay_columns(ir, scans: Path) -> dict:
    source = replay_source(ir, scans)
    rows = [e.inputs for e in source.events if e.inputs is not None]
    cols = {k: np.array([r[k] for r in rows]) for k in rows[0]}
    return {**cols, **source.universe}


def exited(pid: int) -> bool:
    """True once child `pid` has exited, every thread of it (so its pipes are closed); it is left to be reaped
    by its owner (WNOWAIT). A killed engine's threads can take a while after its main thread shows as a zombie."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def test_a_killed_writer_process_stops_the_run_and_the_same_run_id_resumes_exactly(chdb_dir, tmp_path):
    """SIGKILL the journal's writer process mid-run: the decision side raises at its next scan (it never runs on
    unjournaled), naming the writer and how to resume; the same run id then resumes, nothing lost or duplicated."""
    from violet.journal.audit import verify_run
    from violet.journal.dsn import JournalError
    from violet.runtime.session import ReplaySettings, build_reactor, run_and_close

    scans = write_scans(tmp_path / "scans.parquet", n_scans=200)
    settings = ReplaySettings(GRAPHS / "blue_decision.toml", scans, journal=f"chdb://{chdb_dir}",
                              database=f"t_{uuid.uuid4().hex[:8]}", run_id="killed")
    seen: list[int] = []

    def kill_at_80(event):  # called once `journal` and `writer` are bound below
        seen.append(event.scan_id)
        if event.scan_id == 40:
            wait_for(lambda: journal.stats.inserted.get("scans", 0) == 41, "scans 0..40 written")
        if event.scan_id == 80:
            os.kill(writer, signal.SIGKILL)
            wait_for(lambda: exited(writer), "the writer to be dead")

    reactor, source, journal = build_reactor(settings, on_scan=kill_at_80)
    writer = journal.writer_pid
    with pytest.raises(JournalError, match=rf"the journal writer process \(pid {writer}\) is gone "
                                           r"\(killed by signal 9\)") as caught:
        run_and_close(reactor, source, journal)
    assert seen[-1] == 80 and "same --run-id" in caught.value.fix  # scan 81 was decided, and its rows refused
    reactor, source, journal = build_reactor(settings)
    assert 40 <= reactor.journal.resume_after <= 80  # what the dead writer had written is kept
    summary = run_and_close(reactor, source, journal)
    assert summary.scans == 200 and summary.skipped_resume == reactor.journal.resume_after
    with Journal(settings.journal, settings.database) as reopened:
        decisions = reopened.run_tables("killed")[0]
        for table in (reopened.run_scans("killed"), decisions):
            final = f"SELECT count() FROM {{db}}.{table} FINAL WHERE run_id = 'killed'"
            assert reopened.query(final)[0][0] == 200
            reopened.command(f"OPTIMIZE TABLE {{db}}.{table} FINAL")  # merged: a row there twice would show
            assert reopened.query(f"SELECT count() FROM {{db}}.{table} WHERE run_id = 'killed'")[0][0] == 200
        assert verify_run(reopened, "killed", GRAPHS / "blue_decision.toml").ok
