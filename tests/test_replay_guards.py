"""What `violet replay` refuses before anything is journaled, and the DARK guard on the public composition path.

Each user error is an InputError (where, what, fix) from `build_reactor`, and through the CLI one message with
exit 2 and no traceback; the journal's database is never even created. Real files, the real embedded ClickHouse."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import GRAPHS
from test_runtime import write_scans

from violet.errors import InputError
from violet.journal.writer import Journal
from violet.runtime.session import ReplaySettings, build_reactor, check_seconds
from violet.runtime.venues import ObserveOnlyVenue, ScriptedVenue, ScriptStep, VenueKeys

DECISION = GRAPHS / "blue_decision.toml"


def rewrite(path: Path, column: str, values: list) -> Path:
    """The scans file at `path` with one column replaced (its universe stays beside it)."""
    table = pq.read_table(path)
    table = table.set_column(table.column_names.index(column), column, pa.array(values, pa.int64()))
    pq.write_table(table, path)
    return path


def database_exists(chdb_dir: Path, database: str) -> bool:
    with Journal(f"chdb://{chdb_dir}", f"probe_{uuid.uuid4().hex[:8]}", spill_dir=chdb_dir.parent / "probe.spill") as probe:
        return bool(probe.query("SELECT count() FROM system.databases WHERE name = {d:String}", d=database)[0][0])


def refused(settings: ReplaySettings) -> InputError:
    with pytest.raises(InputError) as caught:
        build_reactor(settings)
    assert caught.value.where and caught.value.fix
    return caught.value


# ------------------------------------------------------------------ scan order

HOUR = 3_600_000_000
T0 = 1_700_000_000_000_000


@pytest.mark.parametrize("column, values, message", [
    ("scan_id", [k // 2 for k in range(60)], "row 1 has scan_id 0 after 0 on row 0: scan ids must be strictly increasing"),
    ("scan_id", [*range(30), *range(100, 70, -1)], "row 31 has scan_id 99 after 100 on row 30"),
    ("ts_us", [T0 + k * HOUR for k in range(40)] + [T0] * 20, f"row 40 has ts_us {T0} after {T0 + 39 * HOUR} on row 39: "
                                                              "timestamps must never go back"),
    ("scan_id", [*range(17), None, *range(18, 60)], "row 17 has no scan_id (null)"),
    ("ts_us", [None] + [T0 + k * HOUR for k in range(1, 60)], "row 0 has no ts_us (null)"),
])
def test_scans_out_of_order_are_refused_before_anything_is_journaled(chdb_dir, tmp_path, column, values, message):
    """60 scans whose ids repeat used to journal 30 decisions and exit 0; decreasing ids lost scans on resume."""
    scans = rewrite(write_scans(tmp_path / "scans.parquet", n_scans=60), column, values)
    db = f"t_{uuid.uuid4().hex[:8]}"
    error = refused(ReplaySettings(DECISION, scans, journal=f"chdb://{chdb_dir}", database=db))
    assert message in error.what and error.where == f"{scans}: {column}"
    assert not database_exists(chdb_dir, db)


def test_equal_timestamps_with_increasing_ids_are_in_order(tmp_path):
    scans = rewrite(write_scans(tmp_path / "scans.parquet", n_scans=20), "ts_us", [T0] * 20)
    reactor, source, _ = build_reactor(ReplaySettings(DECISION, scans))
    assert reactor.run(source).decisions == 20


# ------------------------------------------------------------------ settings, graph, reference

@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1.0, 0.0, 1e-9, 0.0009, 86_401.0, True, "60"])
def test_a_cadence_outside_1_ms_to_one_day_is_refused(value):
    for option in ("--exit-q", "--live-pace"):
        with pytest.raises(InputError, match=r"is not a number of seconds from 0\.001 \(1 ms\) to 86,400") as caught:
            check_seconds(value, option)
        assert caught.value.where == option


def test_the_cadence_bounds_themselves_are_accepted():
    for value in (0.001, 60, 86_400.0, None):
        check_seconds(value, "--exit-q")


def test_a_graph_that_is_not_a_decision_graph_is_refused_naming_what_it_lacks(chdb_dir, tmp_path):
    scans = write_scans(tmp_path / "scans.parquet", n_scans=20)
    db = f"t_{uuid.uuid4().hex[:8]}"
    error = refused(ReplaySettings(GRAPHS / "blue_sizing.toml", scans, journal=f"chdb://{chdb_dir}", database=db))
    assert error.what == ("graph blue_sizing is not a decision graph: it lacks input scan_id, input price, "
                          "state (a position carried from scan to scan), a [record] table")  # its trade fields: the record's
    assert not database_exists(chdb_dir, db)


def test_a_reference_that_is_not_an_engine_class_is_never_called(chdb_dir, tmp_path):
    marker = tmp_path / "called"
    module = tmp_path / "refs.py"
    module.write_text(f"""
from pathlib import Path
def run(**kwargs):
    Path({str(marker)!r}).write_text("called")
class NoOnScan:
    def __init__(self, **kwargs):
        Path({str(marker)!r}).write_text("called")
class WrongSignature:
    def __init__(self, assets):
        Path({str(marker)!r}).write_text("called")
    def on_scan(self, **scan):
        pass
""")
    scans = write_scans(tmp_path / "scans.parquet", n_scans=20)
    db = f"t_{uuid.uuid4().hex[:8]}"
    for spec, message in (("os:system", "'os:system' is not an engine class with an on_scan method"),
                          (f"{module}:run", "is not an engine class with an on_scan method"),
                          (f"{module}:NoOnScan", "is not an engine class with an on_scan method"),
                          (f"{module}:WrongSignature", "cannot be built from exchange_max_leverage, stable")):
        error = refused(ReplaySettings(DECISION, scans, journal=f"chdb://{chdb_dir}", database=db, reference=spec))
        assert message in error.what and error.where == "--reference"
    assert not marker.exists() and not database_exists(chdb_dir, db)


# ------------------------------------------------------------------ the DARK guard, where the reactor is composed

def test_build_reactor_lets_no_order_leave_a_sending_venue_without_keys(chdb_dir, tmp_path):
    scans = write_scans(tmp_path / "scans.parquet")
    dsn, db = f"chdb://{chdb_dir}", f"t_{uuid.uuid4().hex[:8]}"
    sending = ScriptedVenue([ScriptStep(ack_us=1_000, outcome="FILL")])
    reactor, source, journal = build_reactor(ReplaySettings(DECISION, scans, journal=dsn, database=db, venue=sending))
    summary = reactor.run(source)
    journal.close()
    assert isinstance(reactor.driver.venue, ObserveOnlyVenue) and reactor.driver.venue.inner is sending
    assert summary.intents > 0 and sending.submitted == []
    with journal:  # the writer is gone: reopened in this process for these reads, closed after
        assert journal.query("SELECT status, count() FROM {db}.orders FINAL GROUP BY status") == [
            ("RECORDED_NOT_SENT", summary.intents)]
        assert journal.query("SELECT mode FROM {db}.runs FINAL") == [("DARK",)]
    # the one setting that lets it send: keys; then the same composition path does send
    keyed = ScriptedVenue([ScriptStep(ack_us=1_000, outcome="FILL")])
    reactor, source, _ = build_reactor(ReplaySettings(DECISION, scans, venue=keyed, keys=VenueKeys("key", "secret")))
    summary = reactor.run(source)
    assert reactor.driver.venue is keyed and len(keyed.submitted) == summary.intents > 0
    assert summary.orders["FILLED"] == summary.intents


def test_venue_keys_must_be_whole_and_hide_the_secret():
    for key, secret in (("", "s"), ("k", ""), ("k", None)):
        with pytest.raises(InputError, match="non-empty api key and secret"):
            VenueKeys(key, secret)
    assert "hunter2" not in repr(VenueKeys("k", "hunter2"))


# ------------------------------------------------------------------ through the CLI: one message, exit 2

def violet(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "violet.cli", *map(str, args)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def scans_file(tmp_path_factory) -> Path:
    return write_scans(tmp_path_factory.mktemp("cli") / "scans.parquet", n_scans=60)


@pytest.mark.parametrize("extra, message", [
    (["--exit-q", "nan"], "--exit-q: nan is not a number of seconds"),
    (["--exit-q", "1e-9"], "--exit-q: 1e-09 is not a number of seconds"),
    (["--exit-q", "-1"], "--exit-q: -1.0 is not a number of seconds"),
    (["--live-pace", "0"], "--live-pace: 0.0 is not a number of seconds"),
    (["--reference", "os:system"], "--reference: 'os:system' is not an engine class"),
    (["--database", "violet; DROP DATABASE violet"], "--database: 'violet; DROP DATABASE violet' is not a plain"),
    (["--run-id", "a b"], "--run-id: 'a b' is not a run id"),
    (["--journal", "chdb://relative/dir"], "names 'relative' as a host"),
    (["--realtime", "0"], "--realtime: 0 is not a real-time priority from 1 to 99"),
    (["--realtime", "100"], "--realtime: 100 is not a real-time priority from 1 to 99"),
])
def test_the_cli_prints_one_message_and_exits_2(scans_file, tmp_path, extra, message):
    done = violet("replay", DECISION, "--input", scans_file, "--journal", f"chdb://{tmp_path / 'j'}", "--no-progress",
                  *extra)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "fix:" in done.stderr
    assert not (tmp_path / "j").exists()  # nothing journaled, not even a directory


@pytest.mark.skipif(os.geteuid() != 0, reason="a real-time priority needs root here; the refusal is tested below")
def test_realtime_runs_the_decision_at_sched_fifo(scans_file):
    """--realtime: the replay's own process at SCHED_FIFO (it reads its policy back), its children ordinary."""
    probe = ("import os, sys; from violet.runtime.session import realtime; realtime(7); "
             "p = os.sched_getscheduler(0); print(p & ~os.SCHED_RESET_ON_FORK == os.SCHED_FIFO, "
             "os.sched_getparam(0).sched_priority); "
             "import subprocess; print(subprocess.run([sys.executable, '-c', 'import os; print(os.sched_getscheduler(0))'], "
             "capture_output=True, text=True).stdout.strip() == str(os.SCHED_OTHER))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stdout.split() == ["True", "7", "True"], done.stdout + done.stderr
    run = violet("replay", DECISION, "--input", scans_file, "--no-progress", "--realtime", "10")
    assert run.returncode == 0 and "runs at SCHED_FIFO 10" in run.stdout, run.stdout + run.stderr


def test_without_the_right_a_realtime_priority_is_one_message():
    """As a user without CAP_SYS_NICE (RLIMIT_RTPRIO 0 and not root), --realtime is refused, exit 2."""
    probe = ("import os, resource; from violet.errors import InputError; from violet.runtime.session import realtime\n"
             "if os.geteuid() == 0: os.setuid(65534)\n"
             "resource.setrlimit(resource.RLIMIT_RTPRIO, (0, 0))\n"
             "try: realtime(10)\nexcept InputError as e: print(e.where, e.fix[:32])")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stdout.strip() == "--realtime run as root or with CAP_SYS_NICE", done.stdout + done.stderr


def test_the_cli_refuses_repeated_scan_ids_with_exit_2(tmp_path):
    scans = rewrite(write_scans(tmp_path / "scans.parquet", n_scans=60), "scan_id", [k // 2 for k in range(60)])
    done = violet("replay", DECISION, "--input", scans, "--journal", f"chdb://{tmp_path / 'j'}", "--no-progress")
    assert done.returncode == 2 and "scan ids must be strictly increasing" in done.stderr, done.stderr
    assert not (tmp_path / "j").exists()
    sizing = violet("replay", GRAPHS / "blue_sizing.toml", "--input", scans, "--journal", f"chdb://{tmp_path / 'j'}")
    assert sizing.returncode == 2 and "is not a decision graph" in sizing.stderr and "Traceback" not in sizing.stderr
