"""The record contract: the runtime hosts any decision graph that declares one (docs/runtime.md).

On the real embedded ClickHouse: the LONG lane replays with its entries sent as BUY and its exits as
reduce-only SELL, every output journaled in a typed column and verified from the journal; the cooldown
short journals its extra outputs (`cooling`) and verifies; a graph whose record lacks a field, or names
what is not an output, is refused with exit 2; the exit check between scans runs whatever the exit
node's name; and violet/runtime names no field of BLUE's."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import GRAPHS, copy_example
from test_runtime import HOUR, write_scans

from violet.api import load
from violet.cli import decision_graph
from violet.errors import InputError
from violet.journal.audit import verify_run
from violet.table_io import TRADE_REQUIRED
from violet.journal.layout import SCAN_HEADER, layout_of
from violet.journal.spill import SpillDir
from violet.journal.writer import Journal
from violet.runtime.record import SCAN_INPUTS, decision_record
from violet.runtime.session import ReplaySettings, build_reactor
from violet.runtime.source import PriceTick

EXAMPLES = GRAPHS / "examples"
RUNTIME = Path(__file__).resolve().parents[1] / "violet" / "runtime"
ROOT = RUNTIME.parents[1]


def replay(graph: Path, scans: Path, chdb_dir: Path, reference: str) -> tuple:
    """A replay of `graph` journaled into a fresh database, its reference in lockstep; the journal reopened."""
    db = f"t_{uuid.uuid4().hex[:8]}"
    reactor, source, journal = build_reactor(ReplaySettings(graph, scans, journal=f"chdb://{chdb_dir}", database=db,
                                                            reference=reference))
    summary = reactor.run(source)
    journal.close()
    return Journal(f"chdb://{chdb_dir}", db), reactor, summary


def test_the_long_lane_buys_to_enter_sells_to_exit_journals_every_output_and_verifies(chdb_dir, tmp_path):
    scans = write_scans(tmp_path / "scans.parquet", n_scans=300, vel_div=(-0.01, 0.08))
    graph = EXAMPLES / "long_lane.toml"
    journal, reactor, summary = replay(graph, scans, chdb_dir, "violet.legacy.examples.long_lane:LongEngine")
    with journal:  # opened in this process for the reads below, closed at the end
        run = reactor.run_id
        assert summary.divergences == 0 and summary.trades > 3
        decisions, trades, actions = journal.run_tables(run)
        assert actions == ["action"]
        # every output is a column of its own type
        ir = load(graph)
        types = dict(journal.query("SELECT name, type FROM system.columns WHERE database = {d:String} AND table = {t:String}",
                                   d=journal.database, t=decisions))
        assert set(ir.output_names) <= set(types)
        assert types["leverage"] == "Float64" and types["asset"] == "Int64" and types["trade"] == "UInt8"
        assert types["action"] == types["exit_reason"] == "LowCardinality(String)"
        # entries BUY, exits SELL reduce-only, one intent per ENTER_LONG and per EXIT decision
        sides = dict(((a, s, r), n) for a, s, r, n in journal.query(
            f"SELECT d.action, o.side, o.reduce_only, count() FROM {{db}}.orders AS o FINAL "
            f"JOIN (SELECT scan_id, action FROM {{db}}.{decisions} FINAL WHERE run_id = {{r:String}}) AS d "
            "ON o.scan_id = d.scan_id WHERE o.run_id = {r:String} GROUP BY d.action, o.side, o.reduce_only", r=run))
        entries, exits = (journal.query(f"SELECT countIf(action = '{a}') FROM {{db}}.{decisions} FINAL "
                                        "WHERE run_id = {r:String}", r=run)[0][0] for a in ("ENTER_LONG", "EXIT"))
        assert sides == {("ENTER_LONG", "BUY", 0): entries, ("EXIT", "SELL", 1): exits} and exits == summary.trades
        shadow = journal.query(f"SELECT count() FROM {{db}}.{trades} FINAL WHERE run_id = {{r:String}} "
                               "AND source = 'shadow'", r=run)[0][0]
        assert shadow == summary.trades
        audit = verify_run(journal, run, graph)
        assert audit.ok and audit.decisions == 300 and audit.trades == (summary.trades, summary.trades), audit.render()


def test_the_cooldown_short_journals_its_extra_outputs_and_verifies(chdb_dir, tmp_path):
    scans = write_scans(tmp_path / "scans.parquet", n_scans=300, seed=3, bad={(40, 2): float("nan")})
    graph = EXAMPLES / "cooldown_short.toml"
    journal, reactor, summary = replay(graph, scans, chdb_dir, "violet.legacy.examples.cooldown:CooldownEngine")
    with journal:  # opened in this process for the reads below, closed at the end
        assert summary.divergences == 0 and summary.trades > 0 and summary.rejected == 1
        decisions = journal.run_tables(reactor.run_id)[0]
        # its scans table holds what it reads of a scan, no other strategy's inputs; the rejected scan as it arrived
        table = journal.run_scans(reactor.run_id)
        assert journal.physical_columns(table) == ["run_id", "scan_id", "ts_us", "rejected", "reject_reason",
                                                   "price", "score", "vel_div"]
        (price, reason), = journal.query(f"SELECT price, reject_reason FROM {{db}}.{table} FINAL "
                                         "WHERE run_id = {r:String} AND rejected = 1", r=reactor.run_id)
        arrived = pq.read_table(scans).column("price")[40].as_py()
        assert np.isnan(price[2]) and price[:2] + price[3:] == arrived[:2] + arrived[3:]
        assert "scan_id 40, field price: asset 2: is NaN" in reason and "neutral" not in reason  # a NaN is held as is
        cooling = journal.query(f"SELECT max(cooling), countIf(cooling > 0) FROM {{db}}.{decisions} FINAL "
                                "WHERE run_id = {r:String}", r=reactor.run_id)[0]
        assert cooling[0] >= 1 and cooling[1] > 0  # stop-losses really barred assets, and it is journaled
        sides = set(journal.query("SELECT side, reduce_only FROM {db}.orders FINAL WHERE run_id = {r:String}",
                                  r=reactor.run_id))
        assert sides == {("SELL", 0), ("BUY", 1)}
        assert verify_run(journal, reactor.run_id, graph).ok
        # verify compares the extra output too: one changed `cooling` is caught
        scan = journal.query(f"SELECT min(scan_id) FROM {{db}}.{decisions} FINAL WHERE run_id = {{r:String}} "
                             "AND cooling > 0", r=reactor.run_id)[0][0]
        journal.command(f"INSERT INTO {journal.database}.{decisions} SELECT * REPLACE (cooling + 1 AS cooling) "
                        f"FROM {journal.database}.{decisions} FINAL WHERE run_id = '{reactor.run_id}' "
                        f"AND scan_id = {scan}")
        audit = verify_run(journal, reactor.run_id, graph)
        assert not audit.ok and audit.mismatches[0].startswith(f"scan {scan}, cooling: journal ")


def violet(*args: object, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "violet.cli", *map(str, args)], capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.replace('trade         = "trade"\n', ""), "record.trade: required key is missing"),
    (lambda t: t.replace('asset         = "asset"', 'asset         = "where"'),
     "record.asset names 'where', which is not an output"),
    (lambda t: t.replace('ENTER_LONG = "enter_long"', 'GO_LONG = "enter_long"'),
     "it lacks action value GO_LONG (record.actions names it; action is one of NONE, ENTER_LONG, EXIT)"),
    (lambda t: t.replace('leverage      = "leverage"', 'leverage      = "selected"'),
     "it lacks record.leverage as a scalar float64 output"),
    (lambda t: t[:t.index("# What a host reads")], "it lacks a [record] table"),
])
def test_a_record_that_does_not_fit_is_refused_with_exit_2(tmp_path, edit, message):
    bad = copy_example(tmp_path, "long_lane")
    bad.write_text(edit(bad.read_text()))
    scans = write_scans(tmp_path / "scans.parquet", n_scans=10)
    done = violet("replay", bad, "--input", scans, "--journal", f"chdb://{tmp_path / 'j'}", "--no-progress")
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in " ".join(done.stderr.split()) and "Traceback" not in done.stderr
    assert not (tmp_path / "j").exists()  # refused before the journal opened


def test_exits_between_scans_whatever_the_exit_node_is_called(tmp_path):
    """The LONG lane with its exit node renamed `lane`: a tick 10 minutes after the entry takes profit, SELL."""
    graph = copy_example(tmp_path, "long_lane")
    text = graph.read_text().replace("[nodes.pos]", "[nodes.lane]").replace("pos.", "lane.")
    graph.write_text(text.replace('exit_check    = "pos"', 'exit_check    = "lane"'))
    assert any(s.name.startswith("lane.") for s in load(graph).state)
    table = pa.table({
        "scan_id": [0, 1], "ts_us": [0, HOUR], "vel_div": [0.05, 0.0], "price": [[1.0, 1.0, 100.0]] * 2,
        "score": [[2.0, 1.0, 0.0]] * 2, "acb_boost": [1.0, 1.0], "acb_beta": [0.0, 0.0], "mc_scale": [1.0, 1.0],
        "ob_mult": [1.0, 1.0], "esof_score": [0.0, 0.0], "dc_status": ["NEUTRAL"] * 2, "posture": ["APEX"] * 2,
        "capital": [10_000.0, 10_000.0]})
    path = tmp_path / "s.parquet"
    pq.write_table(table, path)
    pq.write_table(pa.table({"symbol": ["USDC", "A", "B"], "stable": [True, False, False],
                             "exchange_max_leverage": [20] * 3}), tmp_path / "s.universe.parquet")
    reactor, source, _ = build_reactor(ReplaySettings(graph, path, exit_q_s=60.0))
    source.events.append(PriceTick(10 * 60_000_000 + 5, np.array([1.0, 1.0, 101.0])))  # a long's pnl 0.01
    summary = reactor.run(source)
    assert summary.intrabar_exits == 1 and summary.trades == 1
    trade = reactor.shadow_trades[0]
    assert trade["reason"] == "TAKE_PROFIT" and trade["pnl"] == (101.0 - 100.0) / 100.0 and trade["exit_scan"] == 0
    sides = [(i.side, i.reduce_only) for i in reactor.driver.venue.attempts]
    assert sides[:2] == [("BUY", False), ("SELL", True)]


def test_a_scans_row_types_every_input_and_names_what_it_could_not_hold():
    """The layout's scans columns are the graph's per-scan inputs, typed; a rejected scan's value that its column
    cannot hold (a null, a missing list) is journaled NaN or neutral and the reason says which."""
    blue = layout_of(load(GRAPHS / "blue_decision.toml"))
    assert dict(blue.scan)["dc_status"] == "LowCardinality(String)" and dict(blue.scan)["tradable"] == "Array(Bool)"
    assert dict(blue.scan)["price"] == "Array(Float64)" and "scan_id" not in dict(blue.scan)
    cooldown = layout_of(load(EXAMPLES / "cooldown_short.toml"))
    assert cooldown.scan == (("price", "Array(Float64)"), ("score", "Array(Float64)"), ("vel_div", "Float64"))
    assert cooldown.scans_table == f"scans_{cooldown.key}" != blue.scans_table
    row = cooldown.scan_row("r", 7, 100, {"price": [1.5, None, 2.0], "score": None, "vel_div": 0.25},
                            "scan_id 7, field price: asset 1: is missing")
    assert row["price"][0] == 1.5 and np.isnan(row["price"][1]) and row["price"][2] == 2.0
    assert row["score"] == [] and row["vel_div"] == 0.25 and row["rejected"] == 1
    assert row["reject_reason"] == "scan_id 7, field price: asset 1: is missing (journaled as NaN or neutral: price, score)"
    accepted = blue.scan_row("r", 8, 200, {**{name: 1.0 for name, _ in blue.scan}, "dc_status": "CONFIRM",
                                           "posture": "APEX", "price": [2.0], "score": [0.5], "tradable": [True]}, "")
    assert accepted["rejected"] == 0 and accepted["reject_reason"] == "" and accepted["dc_status"] == "CONFIRM"
    assert set(accepted) == {name for name, _ in SCAN_HEADER} | set(blue.scan_fields)
    bad = blue.scan_row("r", 9, 300, {"dc_status": 3, "capital": "lots", "ts_us": 5}, "why")
    assert bad["dc_status"] == "" and np.isnan(bad["capital"]) and bad["ts_us"] == 300
    assert "dc_status" in bad["reject_reason"] and "capital" in bad["reject_reason"]


def test_a_scans_row_is_replayed_from_spill_files_after_every_other_row_of_its_scan(tmp_path):
    """The resume point: spill files are replayed by table kind, a graph's scans_<layout> last (after its
    decisions, orders and trades, whatever the files' ages), so a scans row in the database means its scan is whole."""
    spills = SpillDir(tmp_path, "db", notice=lambda message: None)
    layout = layout_of(load(EXAMPLES / "cooldown_short.toml"))
    for table in (layout.scans_table, "orders", layout.trades_table, layout.decisions_table, "runs"):
        spills.write(table, [{"run_id": "r"}])
    assert [table for table, _ in spills.files()] == ["runs", layout.decisions_table, "orders", layout.trades_table,
                                                      layout.scans_table]


BLUE_INPUTS = {"vel_div", "score", "tradable", "acb_boost", "acb_beta", "mc_scale", "ob_mult", "esof_score", "dc_status",
               "posture", "capital", "stable", "exchange_max_leverage"}
BLUE_ONLY = BLUE_INPUTS | {"reason", "entry_reason", "selected", "pos_asset", "s", "base", "dc", "regime", "esof", "raw", "cmax",
             "exch_lev", "margin", "exit_reason", "bars_held", "peak_pnl", "ENTER_SHORT", "BUY_TO_CLOSE", "SELL_SHORT",
             "pos.", "pos.open"}


def test_the_runtime_names_no_field_of_blue():
    """Every string in violet/runtime/*.py (docstrings aside) against BLUE's output names and actions, and its exit
    graph's inputs and outputs: only the record contract's own generic fields (docs/runtime.md: a decision graph
    reads `scan_id` and `price`; a trade has `pnl`) may appear, never one of BLUE's own, nor `pos_`, the prefix of
    its exit graph's position outputs."""
    blue = load(GRAPHS / "blue_decision.toml")
    exit_graph = load(GRAPHS / "blue_exit.toml")
    exit_names = {spec.name for spec in exit_graph.inputs} | set(exit_graph.output_names)
    assert {"bar_close", "want_entry", "exit", "pos_leverage"} <= exit_names
    own = BLUE_ONLY | (exit_names - set(SCAN_INPUTS) - set(TRADE_REQUIRED)) | {"pos_"}
    assert BLUE_ONLY - BLUE_INPUTS - {"ENTER_SHORT", "BUY_TO_CLOSE", "SELL_SHORT", "pos.", "pos.open"} <= set(blue.output_names)
    assert BLUE_INPUTS <= {spec.name for spec in blue.inputs}
    found = {}
    for path in RUNTIME.glob("*.py"):
        tree = ast.parse(path.read_text())
        docs = {id(n.body[0].value) for n in ast.walk(tree) if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef))
                and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
                   and id(n) not in docs}
        if hits := {s for s in strings if s in own or s.startswith("pos.")}:
            found[path.name] = sorted(hits)
    assert not found


PARTS = {"clock", "engine", "driver", "monitor", "journal", "scheduler", "reactor", "source", "record", "venue"}


def test_the_runtime_wires_each_part_at_construction():
    """No part of a run is patched after it is built (`self.driver.record = ...`, `reactor.on_scan = ...`): each
    is given what it needs when it is constructed (docs/runtime.md)."""
    patched = []
    for path in RUNTIME.glob("*.py"):
        for n in ast.walk(ast.parse(path.read_text())):
            for target in n.targets if isinstance(n, ast.Assign) else [n.target] if isinstance(n, ast.AugAssign) else []:
                owner = target.value if isinstance(target, ast.Attribute) else None
                part = owner.attr if isinstance(owner, ast.Attribute) and isinstance(owner.value, ast.Name) \
                    and owner.value.id == "self" else owner.id if isinstance(owner, ast.Name) else None
                if part in PARTS:
                    patched.append(f"{path.name}:{n.lineno}: {ast.unparse(target)}")
    assert not patched


def test_the_journal_ddl_and_the_default_graphs_ship_in_the_wheel(tmp_path):
    """A wheel built from the tree holds the DDL and the graphs (violet/graphs, a link to graphs/), and installed
    outside the tree importlib.resources finds both: the packaged BLUE decision graph loads, with the graphs it
    composes, to the tree's content hash, and passes the record checks."""
    tree = tmp_path / "tree"  # a copy: building in place would leave build/ and egg-info in the repository
    shutil.copytree(ROOT / "violet", tree / "violet", symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(GRAPHS, tree / "graphs")
    assert (tree / "violet" / "graphs").is_symlink()  # built as the repository lays it out
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tree / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",  # isolated, as a user builds
                            "-w", str(tmp_path / "dist"), str(tree)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    wheel = next((tmp_path / "dist").glob("violet-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    ddl = sorted(n for n in names if n.startswith("violet/journal/ddl/"))
    assert ddl == sorted(f"violet/journal/ddl/{p.name}" for p in (ROOT / "violet" / "journal" / "ddl").glob("*.sql")) and ddl
    graphs = sorted(n.removeprefix("violet/graphs/") for n in names if n.startswith("violet/graphs/"))
    assert graphs == sorted(str(p.relative_to(GRAPHS)) for p in GRAPHS.rglob("*.toml"))
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    probe = ("from importlib import resources; import violet; from violet.api import load; "
             "from violet.files import packaged_graph; from violet.runtime.record import decision_record; "
             "print(violet.__file__); print(sorted(f.name for f in resources.files('violet.journal').joinpath('ddl').iterdir())); "
             "graph = packaged_graph('blue_decision.toml'); ir = load(graph); decision_record(ir, str(graph)); "
             "print(graph); print(ir.content_hash)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(target)}
    done = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r}); {probe}"],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    located, listed, graph, content_hash = done.stdout.splitlines()
    assert located.startswith(str(target)) and eval(listed) == [Path(n).name for n in ddl]
    assert graph == str(target / "violet" / "graphs" / "blue_decision.toml")
    assert content_hash == load(GRAPHS / "blue_decision.toml").content_hash


def test_replay_and_verify_default_to_the_packaged_decision_graph(tmp_path):
    """With no GRAPH, `violet replay` (run here outside the tree) and `journal verify` take the packaged BLUE
    decision graph: in the tree, the link violet/graphs -> graphs/."""
    assert decision_graph(None).resolve() == (GRAPHS / "blue_decision.toml").resolve()
    scans = write_scans(tmp_path / "scans.parquet", n_scans=12)
    done = violet("replay", "--input", scans, "--journal", f"chdb://{tmp_path / 'j'}", "--no-progress",
                  "--reference", "none", cwd=tmp_path)
    assert done.returncode == 0 and "graph blue_decision " in done.stdout, done.stderr


def test_the_record_of_each_hosted_graph():
    """What the three graphs declare, read back through the host's view of them."""
    short = decision_record(load(GRAPHS / "blue_decision.toml"), "blue")
    long = decision_record(load(EXAMPLES / "long_lane.toml"), "long")
    (short_lane,), (long_lane,) = short.lanes, long.lanes
    assert short_lane.order("ENTER_SHORT") == ("SELL", False) and short_lane.order("EXIT") == ("BUY", True)
    assert long_lane.order("ENTER_LONG") == ("BUY", False) and long_lane.order("EXIT") == ("SELL", True)
    assert short_lane.order("NONE") is None and long_lane.order("NONE") is None
    cooldown = decision_record(load(EXAMPLES / "cooldown_short.toml"), "cooldown")
    assert "cooling" in cooldown.layout.decision_fields
    assert cooldown.layout.trade_fields == ["entry_scan", "exit_scan", "asset", "reason", "pnl"]
    assert short.layout.key != long.layout.key != cooldown.layout.key


MINI_EXIT = """
[graph]
name = "mini_exit"
[inputs]
tick_no = { type = "int64" }
px      = { type = "float64", vector = true }
on_bar  = { type = "bool" }
go      = { type = "bool" }
which   = { type = "int64" }
[params]
tp   = 0.01
lev  = 2.0
size = 500.0
[state]
held  = false
at    = -1
paid  = 0.0
since = -1
bars  = 0
[nodes.gain]
expr = "(px[at] - paid) / paid if held else 0.0"
[nodes.out]
expr = "held and gain >= tp"
[nodes.opens]
expr = "go and not held"
[nodes.stays]
expr = "held and not out"
[outputs]
close_now = "out"
opened    = "opens"
gain_now  = "gain"
held_at   = "at"
held_since = "since"
bars_now  = "bars"
lev_now   = "lev"
size_now  = "size"
[next_state]
held  = "opens or stays"
at    = "which if opens else (at if stays else -1)"
paid  = "px[which] if opens else (paid if stays else 0.0)"
since = "tick_no if opens else (since if stays else -1)"
bars  = "0 if opens else ((bars + 1 if on_bar else bars) if stays else 0)"
"""

MINI = """
[graph]
name = "mini"
[inputs]
scan_id = { type = "int64", ge = 0 }
price   = { type = "float64", vector = true, finite = true, gt = 0.0 }
score   = { type = "float64", vector = true }
[enums]
action = ["NONE", "BUY", "SELL"]
[nodes.pick]
expr = "argmax(score, score == score)"
[nodes.x]
graph = "mini_exit.toml"
in = { tick_no = "scan_id", px = "price", on_bar = true, go = true, which = "pick" }
[outputs]
action = "action.SELL if x.close_now else (action.BUY if x.opened else action.NONE)"
asset  = "x.held_at if x.close_now else (pick if x.opened else -1)"
lev    = "x.lev_now"
size   = "x.size_now"
trade            = "x.close_now"
trade_entry_scan = "x.held_since"
trade_exit_scan  = "scan_id"
trade_asset      = "x.held_at"
trade_bars       = "x.bars_now"
trade_pnl        = "x.gain_now"
[record]
action        = "action"
actions       = { BUY = "enter_long", SELL = "exit_long" }
asset         = "asset"
leverage      = "lev"
notional      = "size"
exit_leverage = "lev"
exit_notional = "size"
trade         = "trade"
exit_check    = "x"
"""


def _mini(tmp_path: Path, graph: str = MINI, exit_graph: str = MINI_EXIT) -> tuple[Path, Path]:
    (tmp_path / "mini_exit.toml").write_text(exit_graph)
    (tmp_path / "mini.toml").write_text(graph)
    scans = tmp_path / "s.parquet"
    pq.write_table(pa.table({"scan_id": [0, 1], "ts_us": [0, HOUR], "price": [[1.0, 100.0]] * 2,
                             "score": [[0.0, 1.0]] * 2}), scans)
    pq.write_table(pa.table({"symbol": ["A", "B"], "cap": [5.0, 1.5]}), tmp_path / "s.universe.parquet")
    return tmp_path / "mini.toml", scans


def test_an_exit_check_is_wired_by_the_graph_whatever_its_inputs_and_outputs_are_called(tmp_path):
    """An exit graph sharing no name with BLUE's (inputs tick_no, px, on_bar; its flag close_now): the check
    gives tick_no the last scan's id and px the latest prices, because the node binds them to scan_id and
    price; on_bar, bound to true on a scan, is idle (false) between scans, so bars stay 0; the trade's fields
    and the SELL's sizes are read where the graph's own outputs say. Entered at 100 on scan 0; a tick at
    101 ten minutes later: gain 0.01 >= tp."""
    from violet.runtime.session import exit_checks

    graph, scans = _mini(tmp_path)
    ir = load(graph)
    (check,) = exit_checks(graph, ir, decision_record(ir, "mini"))
    assert check.plan.given == {"tick_no": "scan_id", "px": "price"}
    assert check.plan.fields["exit_scan"].held_input == "scan_id" and check.plan.fields["pnl"].output == "gain_now"
    reactor, source, _ = build_reactor(ReplaySettings(graph, scans, exit_q_s=60.0))
    source.events.append(PriceTick(10 * 60_000_000 + 5, np.array([1.0, 101.0])))
    summary = reactor.run(source)
    assert summary.intrabar_exits == 1 and summary.trades == 1
    trade = reactor.shadow_trades[0]
    assert (trade["asset"], trade["entry_scan"], trade["exit_scan"], trade["bars"]) == (1, 0, 0, 0)
    assert trade["pnl"] == (101.0 - 100.0) / 100.0
    orders = [(i.side, i.reduce_only, i.asset, i.leverage, i.notional) for i in reactor.driver.venue.attempts]
    assert orders[:2] == [("BUY", False, 1, 2.0, 500.0), ("SELL", True, 1, 2.0, 500.0)]


@pytest.mark.parametrize("edit, output", [
    (lambda t: t.replace('trade_pnl        = "x.gain_now"', 'trade_pnl        = "x.gain_now * 2.0"'), "trade_pnl"),
    (lambda t: t.replace('size   = "x.size_now"', 'size   = "500.0"'), "size"),
    (lambda t: t.replace('trade            = "x.close_now"', 'trade            = "x.close_now and pick >= 0"'), "trade"),
    (lambda t: t.replace("[outputs]", "".join(f'[nodes.a{k}]\nexpr = "{f"a{k - 1}" if k else "x.gain_now"}"\n'
                                              for k in range(300)) + "[outputs]")
     .replace('trade_pnl        = "x.gain_now"', 'trade_pnl        = "a299"'), "trade_pnl"),  # 300 renames: refused
])
def test_a_trade_output_an_exit_check_cannot_read_is_one_message(tmp_path, edit, output):
    """A trade field, the trade flag or a closing size computed from the exit node's outputs (not one of them, nor
    the scan's id or prices) cannot be read between scans: --exit-q is refused with exit 2 naming the output,
    before anything runs; the same graph replays without --exit-q."""
    graph, scans = _mini(tmp_path, edit(MINI))
    done = violet("replay", graph, "--input", scans, "--reference", "none", "--exit-q", "60", "--no-progress")
    text = " ".join(done.stderr.split())
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert f"outputs.{output}" in text and "cannot be read between scans: it is not an output of exit node 'x'" in text
    again = violet("replay", graph, "--input", scans, "--reference", "none", "--no-progress")
    assert again.returncode == 0, again.stderr


def test_a_graph_reading_no_universe_input_decides_over_the_whole_universe(tmp_path):
    """mini reads no universe input, so its vectors' length comes from the universe table (2 symbols): the
    step kernel picks asset 1 (score [0, 1]) and enters there, as the batch kernel does. (The engine had
    been bound to 0 assets: every pick -1.)"""
    graph, scans = _mini(tmp_path)
    reactor, source, _ = build_reactor(ReplaySettings(graph, scans))
    records = [reactor.engine.decide(event.inputs) for event in source]
    assert [(r["action"], r["asset"]) for r in records] == [("BUY", 1), ("NONE", -1)]
    assert reactor.engine.state["x.at"] == 1 and reactor.engine.state["x.paid"] == 100.0


CAPPED_EXIT = MINI_EXIT.replace("which   = { type = \"int64\" }", "which   = { type = \"int64\" }\n"
                                "cap     = { type = \"float64\", vector = true, universe = true }"
                                ).replace('lev_now   = "lev"', 'lev_now   = "min(lev, cap[at])"')
CAPPED = MINI.replace("score   = { type = \"float64\", vector = true }", "score   = { type = \"float64\", vector = true }\n"
                      "cap     = { type = \"float64\", vector = true, universe = true }"
                      ).replace('which = "pick" }', 'which = "pick", cap = "cap" }')


@pytest.mark.parametrize("bound, sold", [('cap = "cap"', 1.5), ('cap = "price * 2.0"', None)])
def test_an_exit_graph_reading_the_universe_is_given_it_between_scans(tmp_path, bound, sold):
    """The exit graph caps its leverage by a universe input (`cap`, 1.5 for asset 1): bound to the decision
    graph's own universe input, the check between scans is given the universe, and the SELL closing asset 1
    has leverage min(2.0, 1.5); bound to a computed value, the check has no value for it: refused with one
    message before the run, not a missing key mid-run."""
    graph, scans = _mini(tmp_path, CAPPED.replace('cap = "cap"', bound), CAPPED_EXIT)
    assert "universe = true" in CAPPED_EXIT and 'cap = "cap"' in CAPPED
    if sold is None:
        with pytest.raises(InputError, match="exit node 'x' reads universe input 'cap', which is not bound to a "
                                             "universe input of the decision graph"):
            build_reactor(ReplaySettings(graph, scans, exit_q_s=60.0))
        return
    reactor, source, _ = build_reactor(ReplaySettings(graph, scans, exit_q_s=60.0))
    source.events.append(PriceTick(10 * 60_000_000 + 5, np.array([1.0, 101.0])))
    assert reactor.run(source).intrabar_exits == 1
    sells = [(i.asset, i.leverage, i.notional) for i in reactor.driver.venue.attempts if i.side == "SELL"]
    assert sells[0] == (1, sold, 500.0)
