"""`violet journal verify`: a run recomputed from the journal alone, on the real embedded ClickHouse.
A clean run verifies; one ULP changed in one journaled decision, a lost decision, a lost trade and the wrong
graph file are each caught and named."""

from __future__ import annotations

import shutil
import uuid

import pytest
from conftest import GRAPHS
from test_runtime import write_scans
from typer.testing import CliRunner

from violet.cli import app
from violet.errors import VioletError
from violet.journal.audit import verify_run
from violet.journal.writer import Journal
from violet.runtime.session import ReplaySettings, build_reactor

DECISION = GRAPHS / "blue_decision.toml"


@pytest.fixture
def replayed(chdb_dir, tmp_path):
    """A replay journaled into a fresh database: 240 scans, two rejected at the boundary."""
    scans = write_scans(tmp_path / "scans.parquet", bad={(30, 2): float("nan"), (31, 4): -1.0})
    db = f"t_{uuid.uuid4().hex[:8]}"
    reactor, source, journal = build_reactor(ReplaySettings(DECISION, scans, journal=f"chdb://{chdb_dir}", database=db))
    summary = reactor.run(source)
    journal.close()
    assert summary.trades > 0
    with Journal(f"chdb://{chdb_dir}", db) as reopened:  # no writer runs now: opened in this process
        yield reopened, reactor.run_id, summary


def test_a_clean_run_verifies(replayed):
    journal, run, summary = replayed
    audit = verify_run(journal, run, DECISION)
    assert audit.ok, audit.render()
    assert audit.scans == audit.decisions == 238 and audit.trades == (summary.trades, summary.trades)
    assert "verified: the journal is exactly what the graph decides" in audit.render()


def test_one_ulp_in_one_journaled_decision_is_caught(replayed):
    journal, run, _ = replayed
    decisions = f"{journal.database}.{journal.run_tables(run)[0]}"
    scan = journal.query(f"SELECT min(scan_id) FROM {decisions} FINAL WHERE run_id = %(r)s "
                         "AND action = 'ENTER_SHORT'", r=run)[0][0]
    journal.command(  # a newer version of that row, its leverage one ULP up
        f"INSERT INTO {decisions} SELECT * REPLACE "
        f"(reinterpretAsFloat64(reinterpretAsUInt64(leverage) + 1) AS leverage) "
        f"FROM {decisions} FINAL WHERE run_id = '{run}' AND scan_id = {scan}")
    audit = verify_run(journal, run, DECISION)
    assert not audit.ok and len(audit.mismatches) == 1
    assert audit.mismatches[0].startswith(f"scan {scan}, leverage: journal ")
    assert "NOT VERIFIED" in audit.render()


def test_lost_rows_are_caught(replayed):
    journal, run, _ = replayed
    decisions, trades, _ = (f"{journal.database}.{t}" for t in journal.run_tables(run))
    journal.command(f"DELETE FROM {decisions} WHERE run_id = '{run}' AND scan_id = 100")
    journal.command(f"DELETE FROM {trades} WHERE run_id = '{run}' AND source = 'shadow' AND "
                    f"entry_scan = (SELECT max(entry_scan) FROM {trades} WHERE run_id = '{run}')")
    audit = verify_run(journal, run, DECISION)
    assert audit.missing == [100] and not audit.extra and not audit.mismatches
    assert audit.trades[0] == audit.trades[1] - 1 and len(audit.trade_mismatches) == 1


def test_a_different_graph_is_refused_by_hash(replayed, tmp_path):
    journal, run, _ = replayed
    for path in GRAPHS.glob("*.toml"):
        shutil.copy(path, tmp_path / path.name)
    sizing = tmp_path / "blue_sizing.toml"  # the same numbers in another order: another graph
    sizing.write_text(sizing.read_text().replace('"capital * fraction * leverage"', '"fraction * capital * leverage"'))
    with pytest.raises(VioletError, match="the run was decided by"):
        verify_run(journal, run, tmp_path / "blue_decision.toml")
    # parameters come from the journal: a changed default in the file is not a different graph
    decision = tmp_path / "blue_decision.toml"
    shutil.copy(GRAPHS / "blue_sizing.toml", sizing)
    decision.write_text(decision.read_text().replace("default = -0.02", "default = -0.03", 1))
    assert verify_run(journal, run, decision).ok


def test_the_cli_exits_1_on_a_difference(replayed):
    journal, run, _ = replayed
    args = ["journal", "verify", str(DECISION), "--journal", journal.dsn, "--database", journal.database]
    ok = CliRunner().invoke(app, args)
    assert ok.exit_code == 0 and "verified" in ok.output, ok.output
    journal.command(f"DELETE FROM {journal.database}.{journal.run_tables(run)[0]} WHERE run_id = '{run}' "
                    "AND scan_id = 7")
    bad = CliRunner().invoke(app, [*args, "--run-id", run])
    assert bad.exit_code == 1 and "missing decision: scan 7" in bad.output, bad.output


def test_a_run_with_exit_checks_between_scans_is_refused(chdb_dir, tmp_path):
    scans = write_scans(tmp_path / "scans.parquet", n_scans=60)
    db = f"t_{uuid.uuid4().hex[:8]}"
    reactor, source, journal = build_reactor(ReplaySettings(DECISION, scans, journal=f"chdb://{chdb_dir}", database=db,
                                                            exit_q_s=900.0))
    reactor.run(source)
    journal.close()
    with pytest.raises(VioletError, match=r"exits were also checked between scans \(every 900 s\)"):
        with Journal(f"chdb://{chdb_dir}", db) as reopened:
            verify_run(reopened, reactor.run_id, DECISION)
