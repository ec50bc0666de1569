"""The ClickHouse journal against the real embedded engine (chdb), a database per test."""

from __future__ import annotations

import math
import time
import uuid

import pytest

from violet.runtime.journal import Journal, JournalError

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def journal(chdb_dir, tmp_path):
    j = Journal(f"chdb://{chdb_dir}", database=f"t_{uuid.uuid4().hex[:10]}", spill_dir=tmp_path / "spill")
    yield j
    j.close()


def decision_row(j: Journal, scan_id: int, **values) -> dict:
    row = {c: 0 for c in j._columns["decisions"]}
    row.update(run_id="run", scan_id=scan_id, graph_hash="h", action="NONE", reason="NO_SIGNAL",
               entry_reason="NO_SIGNAL", symbol="", exit_reason="NONE", exit=False)
    row.update(values)
    return row


def bits(j: Journal, column: str) -> list[int]:
    return [r[0] for r in j.query(f"SELECT reinterpretAsUInt64({column}) FROM {{db}}.decisions FINAL ORDER BY scan_id")]


def test_floats_round_trip_bit_for_bit(journal):
    values = [math.nan, -0.0, 5e-324, 1.7976931348623157e308, 0.1 + 0.2]
    for k, v in enumerate(values):
        journal.append("decisions", decision_row(journal, k, leverage=v))
    journal.flush()
    assert bits(journal, "leverage") == [0x7FF8000000000000, 0x8000000000000000, 0x1, 0x7FEFFFFFFFFFFFFF,
                                         0x3FD3333333333334]


def test_failure_mid_run_spills_and_replays_every_row_once(journal):
    journal.start()
    for k in range(300):
        journal.append("decisions", decision_row(journal, k))
        if k == 100:
            time.sleep(0.15)
            journal.client.command(f"DETACH TABLE {journal.database}.decisions")  # a real failure of the engine
        if k == 200:
            time.sleep(0.15)
            journal.client.command(f"ATTACH TABLE {journal.database}.decisions")
    journal.close()
    assert journal.stats.failures >= 1 and journal.stats.spilled_rows > 0
    assert journal.stats.replayed_rows == journal.stats.spilled_rows
    assert journal.pending_spill_rows() == 0
    assert journal.count("decisions", "run") == 300
    assert journal.query("SELECT count() FROM {db}.decisions")[0][0] == 300  # not even a merge-pending duplicate


def test_rows_spilled_at_close_are_replayed_by_the_next_journal(chdb_dir, tmp_path):
    database = f"t_{uuid.uuid4().hex[:10]}"
    first = Journal(f"chdb://{chdb_dir}", database=database, spill_dir=tmp_path / "spill")
    first.client.command(f"DETACH TABLE {database}.decisions")
    for k in range(50):
        first.append("decisions", decision_row(first, k))
    first.close()
    assert first.pending_spill_rows() == 50  # nothing lost: all on disk
    first.client.command(f"ATTACH TABLE {database}.decisions")
    second = Journal(f"chdb://{chdb_dir}", database=database, spill_dir=tmp_path / "spill", client=first.client)
    assert second.stats.replayed_rows == 50 and second.pending_spill_rows() == 0
    assert second.count("decisions", "run") == 50


def test_writing_twice_counts_once(journal):
    for _ in range(2):
        for k in range(10):
            journal.append("decisions", decision_row(journal, k))
        journal.flush()
    assert journal.count("decisions", "run") == 10


def test_a_row_that_does_not_match_its_table_is_refused_loudly(journal):
    row = decision_row(journal, 0)
    del row["leverage"]
    with pytest.raises(JournalError, match="missing: leverage"):
        journal.append("decisions", row)
    with pytest.raises(JournalError, match="unknown journal table 'fills'"):
        journal.append("fills", {})
