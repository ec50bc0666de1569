"""Several lanes and several positions in one reactor (docs/runtime.md, "Several lanes", "Per-asset lanes").

On small generated universes and the real embedded ClickHouse: the two-lane portfolio (BLUE's short lane
and the LONG lane) and the K-position short each equal their legacy-style reference (`violet diff`), replay
in lockstep with it at 0 divergences, journal every trade with its lane, symbol and times, verify from the
journal, and resume after a SIGKILL; a graph that opens more positions than its record allows gets those
entries (and their exits) refused as orders rows; a record whose lanes' trade fields differ is refused at
load; --exit-q is refused for a per-asset lane.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import GRAPHS, copy_example
from test_runtime import COUNT_SCRIPT, HOUR, scans_written, write_scans
from waiting import LineReader

from violet.api import load
from violet.errors import GraphError
from violet.journal.audit import verify_run
from violet.journal.report import journal_report
from violet.journal.writer import Journal
from violet.runtime.session import ReplaySettings, build_reactor
from violet.runtime.source import PriceTick

EXAMPLES = GRAPHS / "examples"
T0 = 1_700_000_000_000_000  # write_scans' first ts_us; scan k is at T0 + k hours
EXAMPLE = {  # graph -> (reference, the vel_div range its scans are drawn from)
    "two_lane": ("violet.legacy.examples.two_lane:TwoLaneEngine", (-0.08, 0.08)),
    "k_short": ("violet.legacy.examples.k_short:KShortEngine", (-0.08, 0.01)),
}


def violet(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "violet.cli", *map(str, args)], capture_output=True, text=True)


def replay(graph: Path, scans: Path, chdb_dir: Path, reference: str | None) -> tuple:
    """A replay journaled into a fresh database (its reference in lockstep); the journal reopened."""
    db = f"t_{uuid.uuid4().hex[:8]}"
    reactor, source, journal = build_reactor(ReplaySettings(graph, scans, journal=f"chdb://{chdb_dir}", database=db,
                                                            reference=reference))
    summary = reactor.run(source)
    journal.close()
    return Journal(f"chdb://{chdb_dir}", db), reactor, summary  # opened in this process by its first read


@pytest.mark.parametrize("name", sorted(EXAMPLE))
def test_each_example_equals_its_reference(name):
    done = violet("diff", EXAMPLES / f"{name}.toml", "--reference", EXAMPLE[name][0], "--samples", "300",
                  "--extreme", "60")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "mismatches: 0 rows" in done.stdout and "raised" not in done.stdout
    closed = [line for line in done.stdout.splitlines() if line.strip().startswith(("trades:", "step trades:"))]
    assert len(closed) == 2 and all(line.endswith(", 0 differ") and not line.split("trades: ")[1].startswith("0 ")
                                    for line in closed), done.stdout


def test_the_two_lane_portfolio_trades_both_ways_journals_each_lane_and_verifies(chdb_dir, tmp_path):
    scans = write_scans(tmp_path / "scans.parquet", n_scans=300, vel_div=EXAMPLE["two_lane"][1])
    graph = EXAMPLES / "two_lane.toml"
    journal, reactor, summary = replay(graph, scans, chdb_dir, EXAMPLE["two_lane"][0])
    with journal:  # closed at the end: the directory is free again for a writer process
        run = reactor.run_id
        assert summary.divergences == 0 and summary.orders.get("REFUSED", 0) == 0
        decisions, trades, _ = journal.run_tables(run)
        # each lane's orders face its own way: the short SELLs to open and BUYs to close, the long the reverse
        sides = set(journal.query("SELECT splitByChar('-', intent_id)[-3], side, reduce_only FROM {db}.orders FINAL "
                                  "WHERE run_id = {r:String}", r=run))
        assert sides == {("short", "SELL", 0), ("short", "BUY", 1), ("long", "BUY", 0), ("long", "SELL", 1)}
        # one trades table, each row with its lane, the asset's symbol and the times of its entry and exit scans
        rows = journal.query(f"SELECT lane, asset, symbol, entry_scan, exit_scan, entry_ts_us, exit_ts_us FROM "
                             f"{{db}}.{trades} FINAL WHERE run_id = {{r:String}} AND source = 'shadow'", r=run)
        lanes = [row[0] for row in rows]
        assert lanes.count("short") > 2 and lanes.count("long") > 2 and len(rows) == summary.trades
        assert all(symbol == f"A{asset}USDT" and entry_ts == T0 + entry * HOUR and exit_ts == T0 + exit_ * HOUR
                   for _, asset, symbol, entry, exit_, entry_ts, exit_ts in rows)
        # the lanes' trades are the reference's, lane by lane (the reference journaled beside them)
        both = journal.query(f"SELECT source, lane, entry_scan, exit_scan, asset, reason, pnl FROM {{db}}.{trades} FINAL "
                             "WHERE run_id = {r:String} ORDER BY lane, exit_scan", r=run)
        assert [row[1:] for row in both if row[0] == "shadow"] == [row[1:] for row in both if row[0] == "reference"]
        audit = verify_run(journal, run, graph)
        assert audit.ok and audit.trades == (summary.trades, summary.trades), audit.render()
        report = journal_report(f"chdb://{chdb_dir}", journal.database, run)
        assert f"trades (shadow, lane long): {lanes.count('long'):,}" in report
        entries = {a: n for a, n in journal.query(f"SELECT 'short', countIf(short_action = 'ENTER_SHORT') FROM "
                                                  f"{{db}}.{decisions} FINAL WHERE run_id = {{r:String}} UNION ALL "
                                                  f"SELECT 'long', countIf(long_action = 'ENTER_LONG') FROM "
                                                  f"{{db}}.{decisions} FINAL WHERE run_id = {{r:String}}", r=run)}
        assert f"decisions short_action ENTER_SHORT      {entries['short']:,}" in report  # every lane's actions
        assert f"decisions long_action ENTER_LONG       {entries['long']:,}" in report and entries["long"] > 0
        # verify also checks the lane: a trade moved to the other lane is caught
        first = f"run_id = '{run}' AND source = 'shadow' AND lane = 'short' AND exit_scan = {min(r[4] for r in rows if r[0] == 'short')}"
        table = f"{journal.database}.{trades}"
        journal.command(f"INSERT INTO {table} SELECT * REPLACE ('long' AS lane) FROM {table} FINAL WHERE {first}")
        journal.command(f"ALTER TABLE {table} DELETE WHERE {first} SETTINGS mutations_sync = 1")
        assert not verify_run(journal, run, graph).ok


def test_k_shorts_open_up_to_k_positions_each_asset_its_own_and_verify(chdb_dir, tmp_path):
    scans = write_scans(tmp_path / "scans.parquet", n_scans=300, vel_div=EXAMPLE["k_short"][1])
    graph = EXAMPLES / "k_short.toml"
    journal, reactor, summary = replay(graph, scans, chdb_dir, EXAMPLE["k_short"][0])
    with journal:  # closed at the end: the directory is free again for a writer process
        run = reactor.run_id
        assert summary.divergences == 0 and summary.orders.get("REFUSED", 0) == 0  # the graph respects its k
        decisions, trades, _ = journal.run_tables(run)
        most, full_scans = journal.query(f"SELECT max(open), countIf(open = 3) FROM {{db}}.{decisions} FINAL "
                                         "WHERE run_id = {r:String}", r=run)[0]
        assert most == 3 and full_scans > 10
        # several positions at once: some scan has three open, on three different assets
        entries = journal.query("SELECT scan_id, asset FROM {db}.orders FINAL WHERE run_id = {r:String} "
                                "AND reduce_only = 0 ORDER BY scan_id, asset", r=run)
        exits = journal.query("SELECT scan_id, asset FROM {db}.orders FINAL WHERE run_id = {r:String} "
                              "AND reduce_only = 1 ORDER BY scan_id, asset", r=run)
        assert len(exits) == summary.trades and len(entries) - len(exits) <= 3
        # trades exploded per asset: the action vectors' EXIT entries, one trades row each
        exploded = journal.query(f"SELECT scan_id, k - 1 FROM {{db}}.{decisions} FINAL ARRAY JOIN action AS a, "
                                 "arrayEnumerate(action) AS k WHERE run_id = {r:String} AND a = 'EXIT' "
                                 "ORDER BY scan_id, k", r=run)
        assert [tuple(e) for e in exploded] == [tuple(e) for e in exits]
        assert verify_run(journal, run, graph).ok
        report = journal_report(f"chdb://{chdb_dir}", journal.database, run)
        assert f"decisions action (per asset) EXIT             {len(exits):,}" in report
        assert f"trades (shadow): {summary.trades:,}" in report


def test_entries_beyond_the_records_slots_are_refused_as_orders_rows(chdb_dir, tmp_path):
    """k_short holding three shorts while its record allows two: the third entry is not sent but journaled
    REFUSED with the reason, and so is its exit; the decisions (and trades) are the graph's all the same."""
    graph = tmp_path / "k_over.toml"
    graph.write_text((EXAMPLES / "k_short.toml").read_text().replace('max_positions = "k"', "max_positions = 2"))
    scans = write_scans(tmp_path / "scans.parquet", n_scans=200, vel_div=EXAMPLE["k_short"][1])
    journal, reactor, summary = replay(graph, scans, chdb_dir, None)
    with journal:  # closed at the end: the directory is free again for a writer process
        run = reactor.run_id
        decisions = journal.run_tables(run)[0]
        actions = journal.query(f"SELECT action FROM {{db}}.{decisions} FINAL WHERE run_id = {{r:String}} "
                                "ORDER BY scan_id", r=run)
        # the slots, walked independently: exits first, then entries while fewer than two are held
        held, refused = set(), set()
        for scan_id, (action,) in enumerate(actions):
            for asset in [a for a, x in enumerate(action) if x == "EXIT"]:
                if asset in held:
                    held.remove(asset)
                else:
                    refused.add((scan_id, asset, 1))
            for asset in [a for a, x in enumerate(action) if x == "ENTER_SHORT"]:
                if len(held) < 2:
                    held.add(asset)
                else:
                    refused.add((scan_id, asset, 0))
        rows = journal.query("SELECT scan_id, asset, reduce_only, detail FROM {db}.orders FINAL WHERE run_id = {r:String} "
                             "AND status = 'REFUSED'", r=run)
        assert {(s, a, r) for s, a, r, _ in rows} == refused and len(refused) > 4
        assert {d for _, _, r, d in rows if not r} == {"2 positions open, the most the record allows (max_positions = 2)"}
        assert {d for _, _, r, d in rows if r} == {"no open position to close: its entry was refused"}
        assert summary.orders["REFUSED"] == len(refused) and verify_run(journal, run, graph).ok


KILLED = {**EXAMPLE,  # and the LONG lane, and a graph with an extra output (cooldown_short's `cooling`)
          "long_lane": ("violet.legacy.examples.long_lane:LongEngine", (-0.01, 0.08)),
          "cooldown_short": ("violet.legacy.examples.cooldown:CooldownEngine", (-0.08, 0.01))}


@pytest.mark.parametrize("name", sorted(KILLED))
def test_killed_and_resumed_the_journal_is_whole_and_verifies(tmp_path, name):
    scans = write_scans(tmp_path / "scans.parquet", n_scans=120, vel_div=KILLED[name][1])
    dsn = f"chdb://{tmp_path / 'db'}"
    graph = EXAMPLES / f"{name}.toml"
    cmd = [sys.executable, "-m", "violet.cli", "replay", str(graph), "--input", str(scans), "--journal", dsn,
           "--run-id", "killed", "--reference", KILLED[name][0], "--no-progress"]
    proc = subprocess.Popen(cmd + ["--live-pace", "0.01"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)
    try:
        LineReader(proc).wait_line(lambda text: scans_written(text) >= 30, "30 scans journaled")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0 and "resuming after scan" in done.stdout, done.stdout + done.stderr
    counts = subprocess.run([sys.executable, "-c", COUNT_SCRIPT, dsn], capture_output=True, text=True, check=True)
    final, raw = json.loads(counts.stdout)
    assert final == raw == {"scans": 120, "decisions": 120, "divergences": 0}
    verify = violet("journal", "verify", graph, "--journal", dsn, "--run-id", "killed")
    assert verify.returncode == 0 and "verified" in verify.stdout, verify.stdout + verify.stderr
    shadow = int(verify.stdout.split("shadow trades: ")[1].split(" journaled")[0].replace(",", ""))
    assert shadow > 0


def test_run_writes_every_lanes_trades_with_symbols_and_times(tmp_path):
    scans = write_scans(tmp_path / "scans.parquet", n_scans=200, vel_div=EXAMPLE["two_lane"][1])
    done = violet("run", EXAMPLES / "two_lane.toml", "--input", scans, "--output", tmp_path / "out.parquet",
                  "--trades", tmp_path / "trades.parquet")
    assert done.returncode == 0, done.stderr
    trades = pq.read_table(tmp_path / "trades.parquet").to_pydict()
    assert {"short", "long"} == set(trades["lane"])
    assert trades["symbol"] == [f"A{a}USDT" for a in trades["asset"]]
    assert trades["entry_ts_us"] == [T0 + s * HOUR for s in trades["entry_scan"]]
    assert trades["exit_ts_us"] == [T0 + s * HOUR for s in trades["exit_scan"]]
    order = [(x, 0 if lane == "short" else 1) for x, lane in zip(trades["exit_scan"], trades["lane"])]
    assert order == sorted(order)  # in the order they close: by scan, then the record's lane order
    # the file is a reference trade stream for a replay: equal, then one trade moved to the other lane
    reactor, source, _ = build_reactor(ReplaySettings(EXAMPLES / "two_lane.toml", scans,
                                                      reference_trades=tmp_path / "trades.parquet"))
    assert reactor.run(source).divergences == 0 and len(reactor.shadow_trades) == len(trades["lane"])
    trades["lane"][0] = "long" if trades["lane"][0] == "short" else "short"
    pq.write_table(pa.table(trades), tmp_path / "moved.parquet")
    reactor, source, _ = build_reactor(ReplaySettings(EXAMPLES / "two_lane.toml", scans,
                                                      reference_trades=tmp_path / "moved.parquet"))
    assert reactor.run(source).divergences == 1 and reactor.monitor.divergences[0].field == "lane"


def test_lanes_with_different_trade_fields_are_refused_at_load(tmp_path):
    graph = copy_example(tmp_path, "two_lane")
    graph.write_text(graph.read_text().replace("long_trade_reason ", "long_trade_why "))
    with pytest.raises(GraphError) as caught:
        load(graph)
    assert "they differ in reason, why" in caught.value.what
    done = violet("replay", graph, "--input", write_scans(tmp_path / "s.parquet", n_scans=5), "--no-progress")
    assert done.returncode == 2 and "Traceback" not in done.stderr and "trades table" in done.stderr


@pytest.mark.parametrize(("name", "message"), [
    ("k_short", "graph k_short has a per-asset lane: its exits are checked on scans only"),
    ("two_lane", "graph two_lane names no exit graph to check between scans"),
])
def test_exit_q_is_refused_where_no_lane_can_be_checked_between_scans(tmp_path, name, message):
    scans = write_scans(tmp_path / "scans.parquet", n_scans=5)
    graph = copy_example(tmp_path, name)
    graph.write_text("\n".join(line for line in graph.read_text().splitlines() if not line.startswith("exit_check")))
    done = violet("replay", graph, "--input", scans, "--exit-q", "60", "--no-progress")
    assert done.returncode == 2 and message in " ".join(done.stderr.split()), done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("tp_pct, closes", [(None, True), (0.02, False)])
def test_a_lanes_exit_node_inside_its_graph_is_checked_between_scans(tp_pct, closes):
    """two_lane's exit nodes are nested (`short.pos`: node pos of the short lane's graph); --exit-q runs each
    on the portfolio's state under its path, its parameters as the portfolio binds them (`--set
    short.pos.tp_pct=0.02`). A short opened at 100 on asset 1, the price now 98.9: pnl 0.011 by hand, a
    take-profit at tp_pct 0.0095 and none at 0.02; the long lane, flat, closes nothing."""
    from violet.api import bind
    from violet.runtime.record import decision_record
    from violet.runtime.session import exit_checks

    graph = EXAMPLES / "two_lane.toml"
    ir = load(graph)
    if tp_pct is not None:
        ir = bind(ir, {"short.pos.tp_pct": tp_pct})
    checks = exit_checks(graph, ir, decision_record(ir, "two_lane"))
    assert [(c.prefix, c.lane) for c in checks] == [("short.pos.", "short"), ("long.pos.", "long")]
    state = {s.name: s.init for s in ir.state}
    state.update({"short.pos.open": True, "short.pos.asset": 1, "short.pos.entry_price": 100.0,
                  "short.pos.entry_scan": 3, "short.pos.leverage": 2.0, "short.pos.notional": 500.0})
    price = np.array([1.0, 98.9, 7.0])
    trades = [closed for check in checks if (closed := check.run(state, {"scan_id": 5, "price": price})) is not None]
    if closes:
        (closed,) = trades
        trade = closed.trade
        assert (trade["lane"], trade["asset"], trade["reason"], trade["exit_scan"]) == ("short", 1, "TAKE_PROFIT", 5)
        assert trade["pnl"] == (100.0 - 98.9) / 100.0 and trade["notional"] == 500.0
        assert (closed.leverage, closed.notional) == (2.0, 500.0)  # the closing order's sizes, as the lane names them
        assert not state["short.pos.open"]  # the check advanced the portfolio's state
    else:
        assert trades == [] and state["short.pos.open"]
    assert not state["long.pos.open"]


def test_an_exit_check_path_to_no_composed_node_is_one_message(tmp_path):
    graph = copy_example(tmp_path, "two_lane")
    graph.write_text(graph.read_text().replace('exit_check    = "short.pos"', 'exit_check    = "short.sel.nope"'))
    with pytest.raises(GraphError) as caught:
        load(graph)
    assert caught.value.what == "exit_check names 'short.sel.nope': 'nope' (in short.sel) is not a composed graph node"
    assert "record.lanes.short.exit_check" in caught.value.where


def test_the_per_asset_record_reads_every_asset_in_index_order():
    """The host's view of one k_short decision: an intent per asset whose action maps to a role, exits first."""
    from violet.runtime.record import decision_record

    record = decision_record(load(EXAMPLES / "k_short.toml"), "k_short")
    decision = {"action": ["NONE", "ENTER_SHORT", "EXIT", "ENTER_SHORT", "EXIT"],
                "leverage": np.array([1.0, 2.0, 3.0, 4.0, 5.0]), "notional": 10.0,
                "trade": np.array([False, False, True, False, True]), "trade_entry_scan": np.array([0, 0, 3, 0, 4]),
                "trade_exit_scan": 9, "trade_reason": ["NONE", "NONE", "MAX_HOLD", "NONE", "TAKE_PROFIT"],
                "trade_bars_held": np.array([0, 0, 6, 0, 5]), "trade_pnl": np.array([0.0, 0.0, -0.5, 0.0, 0.25]),
                "trade_notional": 10.0}
    intents = [(i.side, i.closes, i.asset, i.leverage, i.notional) for i in record.intents(decision)]
    assert intents == [("BUY", True, 2, 3.0, 10.0), ("BUY", True, 4, 5.0, 10.0), ("SELL", False, 1, 2.0, 10.0),
                       ("SELL", False, 3, 4.0, 10.0)]  # a vector size asset by asset, a scalar one for all
    assert record.trades(decision) == [
        {"lane": "", "entry_scan": 3, "exit_scan": 9, "reason": "MAX_HOLD", "bars_held": 6, "pnl": -0.5,
         "notional": 10.0, "asset": 2},
        {"lane": "", "entry_scan": 4, "exit_scan": 9, "reason": "TAKE_PROFIT", "bars_held": 5, "pnl": 0.25,
         "notional": 10.0, "asset": 4}]


TWO_LONGS = """
[graph]
name = "two_longs"
[inputs]
scan_id = { type = "int64", ge = 0 }
price   = { type = "float64", vector = true, finite = true, gt = 0.0 }
score   = { type = "float64", vector = true, finite = true }
stable  = { type = "bool", vector = true, universe = true }
[params]
size = 100.0
[enums]
action = ["NONE", "ENTER_LONG", "EXIT"]
[nodes.lo_pick]
expr = "argmin(score, not stable)"
[nodes.hi_pick]
expr = "argmax(score, not stable)"
[nodes.lo]
graph = "long_exit.toml"
in = { scan_id = "scan_id", price = "price", want_entry = true, entry_asset = "lo_pick", entry_leverage = 1.0, entry_notional = "size", bar_close = true }
[nodes.hi]
graph = "long_exit.toml"
in = { scan_id = "scan_id", price = "price", want_entry = true, entry_asset = "hi_pick", entry_leverage = 1.0, entry_notional = "size", bar_close = true }
[outputs]
""" + "".join(f"""{p}_action = "action.EXIT if {p}.exit else (action.ENTER_LONG if {p}.enter else action.NONE)"
{p}_asset = "{p}.pos_asset if {p}.exit else ({p}_pick if {p}.enter else -1)"
{p}_size = "size"
{p}_trade = "{p}.exit"
{p}_trade_entry_scan = "{p}.pos_entry_scan"
{p}_trade_exit_scan = "scan_id"
{p}_trade_asset = "{p}.pos_asset"
{p}_trade_reason = "{p}.exit_reason"
{p}_trade_leverage = "{p}.pos_leverage"
{p}_trade_notional = "{p}.pos_notional"
{p}_trade_pnl = "{p}.pnl"
""" for p in ("lo", "hi")) + "".join(f"""
[record.lanes.{p}]
action = "{p}_action"
actions = {{ ENTER_LONG = "enter_long", EXIT = "exit_long" }}
asset = "{p}_asset"
leverage = "{p}_trade_leverage"
notional = "{p}_size"
exit_leverage = "{p}_trade_leverage"
exit_notional = "{p}_trade_notional"
trade = "{p}_trade"
exit_check = "{p}"
trades = "{p}_trade_"
""" for p in ("lo", "hi"))


def test_exits_between_scans_check_each_lane_of_one_position(tmp_path):
    """Two long lanes, each with its exit node: a tick 10 minutes after scan 0 takes the low lane's profit,
    one 20 minutes after the high lane's (the checks go on after one lane closed); each a reduce-only SELL."""
    graph = copy_example(tmp_path, "long_exit").with_name("two_longs.toml")  # beside the exit it composes
    graph.write_text(TWO_LONGS)
    path = tmp_path / "s.parquet"
    pq.write_table(pa.table({"scan_id": [0, 1], "ts_us": [0, HOUR], "price": [[1.0, 50.0, 100.0]] * 2,
                             "score": [[0.0, 1.0, 2.0]] * 2}), path)
    pq.write_table(pa.table({"symbol": ["USDC", "A", "B"], "stable": [True, False, False]}),
                   tmp_path / "s.universe.parquet")
    reactor, source, _ = build_reactor(ReplaySettings(graph, path, exit_q_s=60.0))
    minute = 60_000_000
    source.events.append(PriceTick(10 * minute + 5, np.array([1.0, 50.5, 100.0])))  # the low lane's pnl 0.01
    source.events.append(PriceTick(20 * minute + 5, np.array([1.0, 50.5, 101.0])))  # the high lane's too
    source.events.sort(key=lambda e: e.ts_us)
    summary = reactor.run(source)
    assert summary.intrabar_exits == 2
    assert [(t["lane"], t["asset"], t["reason"], t["exit_scan"], t["pnl"]) for t in reactor.shadow_trades[:2]] == [
        ("lo", 1, "TAKE_PROFIT", 0, (50.5 - 50.0) / 50.0), ("hi", 2, "TAKE_PROFIT", 0, (101.0 - 100.0) / 100.0)]
    attempts = [(i.side, i.reduce_only, i.asset, i.ts_us) for i in reactor.driver.venue.attempts]
    assert attempts[:4] == [("BUY", False, 1, 0), ("BUY", False, 2, 0), ("SELL", True, 1, 11 * minute),
                            ("SELL", True, 2, 21 * minute)]


@pytest.mark.parametrize("name", sorted(EXAMPLE))
def test_the_trade_stream_of_a_run_is_its_scans_trades_one_by_one(name):
    """TradeStream.columns (a whole run's outputs: `violet run --trades`, diff, verify) against of_scan (the
    reactor, one decision at a time) on random outputs of the example's types: the same trades, in order."""
    from violet.runtime.engine import namer
    from violet.table_io import trade_stream

    ir = load(EXAMPLES / f"{name}.toml")
    stream = trade_stream(ir)
    rng = np.random.default_rng(5)
    rows, assets = 40, 5
    outputs = {}
    for out in ir.output_names:
        vtype = ir.output_type(out)
        shape = (rows, assets) if vtype.vector else (rows,)
        outputs[out] = (rng.integers(0, len(vtype.enum), shape) if vtype.enum else
                        rng.random(shape) < 0.3 if vtype.dtype.value == "bool" else
                        rng.integers(0, 4, shape) if vtype.dtype.value == "int64" else rng.normal(size=shape))
    scans = np.arange(100, 100 + rows)
    columns = stream.columns(outputs, scans, T0 + scans * HOUR, [f"S{a}" for a in range(assets)])
    record = namer(ir, ir.output_names)
    one_by_one = [trade for t in range(rows) for trade in
                  stream.of_scan(record(tuple(outputs[out][t] for out in ir.output_names)))]
    assert len(one_by_one) == len(columns["lane"]) > 10
    for k, trade in enumerate(one_by_one):
        assert {f: (v[k].item() if isinstance(v, np.ndarray) else v[k]) for f, v in columns.items()
                if f in trade} == trade
        assert columns["symbol"][k] == f"S{trade['asset']}"


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.replace('leverage      = "leverage"', 'asset         = "open"\nleverage      = "leverage"'),
     "record.action as a scalar enum output (action is enum{NONE,ENTER_SHORT,EXIT}[N])"),
    (lambda t: t.replace('max_positions = "k"', 'max_positions = "tp_pct"'),
     "record.max_positions as a whole number >= 1 (parameter tp_pct is 0.01)"),
    (lambda t: t.replace('trade         = "trade"', 'trade         = "open"'),
     "record.trade as a vector bool output (open is int64)"),
])
def test_a_per_asset_record_that_does_not_fit_is_refused(tmp_path, edit, message):
    from violet.errors import InputError
    from violet.runtime.record import decision_record

    graph = tmp_path / "k.toml"
    graph.write_text(edit((EXAMPLES / "k_short.toml").read_text()))
    with pytest.raises(InputError) as caught:
        decision_record(load(graph), str(graph))
    assert message in caught.value.what


def test_max_positions_names_a_parameter(tmp_path):
    graph = tmp_path / "k.toml"
    graph.write_text((EXAMPLES / "k_short.toml").read_text().replace('max_positions = "k"', 'max_positions = "kk"'))
    with pytest.raises(GraphError) as caught:
        load(graph)
    assert "record.max_positions names 'kk', which is not a parameter" in caught.value.what


def test_a_flat_record_hashes_as_before_lanes_and_lanes_are_hashed(tmp_path):
    """BLUE's record enters its content hash as the list it was before lanes existed (so BLUE's hash, and every
    journal's resume check, is unchanged); a max_positions, or a lane's trade prefix, changes the hash."""
    blue = load(GRAPHS / "blue_decision.toml")
    assert blue.record.canonical() == ["action", [["ENTER_SHORT", "enter_short"], ["EXIT", "exit_short"]], "asset",
                                       "leverage", "notional", "trade_leverage", "trade_notional", "trade", "pos"]
    text = (EXAMPLES / "k_short.toml").read_text()
    hashes = set()
    for edit in ('max_positions = "k"', "max_positions = 3", ""):
        graph = tmp_path / "examples" / "k.toml"
        graph.parent.mkdir(exist_ok=True)
        graph.write_text(text.replace('max_positions = "k"', edit))
        hashes.add(load(graph).content_hash)
    assert len(hashes) == 3
