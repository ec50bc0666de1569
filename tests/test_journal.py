"""The ClickHouse journal against the real embedded engine (chdb), a database per test: what it writes, what it
refuses (database names, DSNs), and what it does when the disk is full or a spill file was cut short."""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import pickle
import random
import struct
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import GRAPHS
from test_runtime import write_scans

from violet.api import load
from violet.errors import InputError
from violet.journal import spill as spill_module
from violet.journal import writer_process
from violet.journal.dsn import JournalError
from violet.journal.writer import Journal
from violet.runtime.record import decision_record

LAYOUT = decision_record(load(GRAPHS / "blue_decision.toml"), "BLUE").layout  # a real graph's decisions table
DECISIONS = LAYOUT.decisions_table

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def journal(chdb_dir, tmp_path):
    j = Journal(f"chdb://{chdb_dir}", layout=LAYOUT, database=f"t_{uuid.uuid4().hex[:10]}", spill_dir=tmp_path / "spill")
    yield j
    j.close()


def decision_row(j: Journal, scan_id: int, **values) -> dict:
    row = {c: 0 for c in j.columns("decisions")}
    row.update(run_id="run", scan_id=scan_id, graph_hash="h", action="NONE", reason="NO_SIGNAL",
               entry_reason="NO_SIGNAL", symbol="", exit_reason="NONE", exit=False)
    row.update(values)
    return row


def bits(j: Journal, column: str) -> list[int]:
    return [r[0] for r in j.query(f"SELECT reinterpretAsUInt64({column}) FROM {{db}}.{DECISIONS} FINAL ORDER BY scan_id")]


@pytest.mark.parametrize("started", [False, True], ids=["in-process", "writer-process"])
def test_floats_round_trip_bit_for_bit(journal, started):
    if started:
        journal.start()
    values = [math.nan, -0.0, 5e-324, 1.7976931348623157e308, 0.1 + 0.2]
    for k, v in enumerate(values):
        journal.append("decisions", decision_row(journal, k, leverage=v))
    journal.flush()
    assert bits(journal, "leverage") == [0x7FF8000000000000, 0x8000000000000000, 0x1, 0x7FEFFFFFFFFFFFFF,
                                         0x3FD3333333333334]


def random_value(kind: str, rng: random.Random) -> object:
    """A value of ClickHouse type `kind` as the reactor would hand it over (edge floats, hostile strings)."""
    if kind.startswith("Array("):
        return [random_value(kind[6:-1], rng) for _ in range(rng.randint(0, 4))]
    if kind == "Float64":
        return rng.choice([math.nan, -0.0, 5e-324, 1.7976931348623157e308, rng.gauss(0, 1e3)])
    if kind == "Int64":
        return rng.randint(-2**63, 2**63 - 1)
    if kind in ("UInt8", "Bool"):
        return rng.random() < 0.5
    return rng.choice(["", "x'); DROP TABLE t; --", "é\n\t\"", "NO_SIGNAL"]) + str(rng.randint(0, 9))


def same(a: object, b: object) -> bool:
    """Equal as journaled: floats bit for bit, bools as 0/1, lists element by element."""
    if isinstance(a, list) or isinstance(b, list):
        return isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, float) or isinstance(b, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    return a == b if isinstance(a, str) else int(a) == int(b)


def test_rows_through_the_writer_process_are_exactly_what_was_appended(journal):
    """Every table, every column type, edge values: what the writer process inserts is what was appended."""
    journal.start()
    rng = random.Random(11)
    appended: dict[str, list[dict]] = {}
    tables = {table: dict(journal.query("SELECT name, type FROM system.columns WHERE database = {d:String} "
                                        "AND table = {t:String}", d=journal.database, t=journal.table(table)))
              for table in ("decisions", "orders", "trades", "divergences", "scans")}  # scans last: a scan's last row
    for k in range(60):  # a scan's rows, then its scans row (which hands them to the writer)
        for table, types in tables.items():
            row = {name: random_value(kind, rng) for name, kind in types.items()}
            row.update(run_id="run", scan_id=k, entry_scan=k, intent_id=str(k))
            row = {name: value for name, value in row.items() if name in types}
            journal.append(table, row)
            appended.setdefault(table, []).append(row)
    journal.flush()
    for table, rows in appended.items():
        columns = journal.columns(table)
        key = "scan_id" if "scan_id" in columns else "entry_scan"
        back = journal.query(f"SELECT {', '.join(f'`{c}`' for c in columns)} FROM {{db}}.{journal.table(table)} "
                             f"ORDER BY {key}")
        assert len(back) == len(rows) == 60, table
        for row, got in zip(rows, back, strict=True):
            assert all(same(row[c], v) for c, v in zip(columns, got, strict=True)), (table, row, got)
    assert journal.stats.inserted == {table: 60 for table in appended}


def test_a_writer_slower_than_the_decisions_holds_them_back_instead_of_growing_a_backlog(chdb_dir, tmp_path):
    """Backpressure: one database insert per row of 4 KB (batch_rows=1) is far slower than appending, so the writer's
    queue fills, then the pipe, then the sender's outbox up to its bound (32 KiB here); from there each append
    waits for the writer (said once, as a notice), no append leaves the outbox past the bound, and every row
    is written, once."""
    notices: list[str] = []
    database = f"t_{uuid.uuid4().hex[:10]}"
    journal = Journal(f"chdb://{chdb_dir}", layout=LAYOUT, database=database, spill_dir=tmp_path / "spill",
                      batch_rows=1, notice=notices.append, backlog_bytes=32 << 10).start()
    rows = [decision_row(journal, k, leverage=k / 7, symbol=f"{k:04d}" * 1_000) for k in range(600)]  # 4 KB a row
    frame = max(len(pickle.dumps(("rows", [("t", row)]))) for row in rows[:10]) + 64
    most = 0
    for row in rows:
        journal.append("decisions", row)
        most = max(most, journal.writer_backlog)
    assert (32 << 10) - frame < most <= 32 << 10  # it reached the bound, and no append left it further
    assert len(notices) == 1 and "behind the decisions" in notices[0]
    journal.close()
    with Journal(f"chdb://{chdb_dir}", layout=LAYOUT, database=database, spill_dir=tmp_path / "spill") as again:
        assert again.count("decisions", "run") == 600
        assert bits(again, "leverage") == [struct.unpack("<Q", struct.pack("<d", k / 7))[0] for k in range(600)]


def test_the_writers_reader_stops_taking_frames_when_its_queue_is_full():
    """The other half of backpressure: the writer's reader thread holds at most `frames` frames (plus the one
    it waits to put), so a writer that cannot keep up leaves the rest in the pipe, which fills and makes the
    sender wait, instead of growing its own memory."""
    read_end, write_end = os.pipe()
    inbox = writer_process._reader(read_end, 8)
    os.set_blocking(write_end, False)
    frame, sent = writer_process._frame(("rows", [("t", {"x": "y" * 1_000})])), 0
    while sent < 100_000:  # an unbounded reader would empty the pipe for ever
        try:
            os.write(write_end, frame)  # a frame is smaller than a pipe's atomic write (PIPE_BUF is 4 KB)
            sent += 1
        except BlockingIOError:  # the pipe is full: once the reader's queue is, it must stay full
            deadline = time.monotonic() + 60
            while inbox.qsize() < 8 and time.monotonic() < deadline:
                time.sleep(0.001)  # waits on a condition (the queue filling), bounded on a stuck machine
            try:
                os.write(write_end, frame)
                sent += 1
            except BlockingIOError:
                break
    assert inbox.qsize() == 8 and sent > 8 + 2  # the queue is full, the rest waits in the pipe
    taken = [inbox.get() for _ in range(8)]
    assert all(item == ("rows", [("t", {"x": "y" * 1_000})]) for item in taken)
    os.close(write_end)
    rest = []
    while (item := inbox.get(timeout=60)) is not None:
        rest.append(item)
    assert len(taken) + len(rest) == sent  # nothing lost: every frame sent is read, in order, then the end
    os.close(read_end)


def test_failure_mid_run_spills_and_replays_every_row_once(journal):
    journal.start()  # the writer process owns the database: the failure happens there, for real
    for k in range(300):
        journal.append("decisions", decision_row(journal, k))
        if k == 100:
            journal.flush()
            assert journal.stats.inserted.get("decisions", 0) == 101
            journal.command(f"DETACH TABLE {{db}}.{DECISIONS}")  # a real failure of the engine
        if k == 200:
            journal.flush()
            assert journal.stats.spilled_rows > 0
            journal.command(f"ATTACH TABLE {{db}}.{DECISIONS}")
    journal.close()
    assert journal.stats.failures >= 1 and journal.stats.spilled_rows > 0
    assert journal.stats.replayed_rows == journal.stats.spilled_rows
    assert journal.pending_spill_rows() == 0
    assert journal.count("decisions", "run") == 300
    assert journal.query(f"SELECT count() FROM {{db}}.{DECISIONS}")[0][0] == 300  # not even a merge-pending duplicate


def test_rows_spilled_at_close_are_replayed_by_the_next_journal(chdb_dir, tmp_path):
    database = f"t_{uuid.uuid4().hex[:10]}"
    first = Journal(f"chdb://{chdb_dir}", layout=LAYOUT, database=database, spill_dir=tmp_path / "spill")
    first.command(f"DETACH TABLE {database}.{DECISIONS}")
    for k in range(50):
        first.append("decisions", decision_row(first, k))
    first.close()
    spilled = sorted((tmp_path / "spill").glob("*.spill.jsonl"))
    assert sum(len(p.read_bytes().splitlines()) for p in spilled) == 50  # nothing lost: all on disk
    with Journal(f"chdb://{chdb_dir}", database=f"p_{database}", spill_dir=tmp_path / "p") as other:
        other.command(f"ATTACH TABLE IF NOT EXISTS {database}.{DECISIONS}")  # a restarted engine re-attaches it
    with Journal(f"chdb://{chdb_dir}", layout=LAYOUT, database=database, spill_dir=tmp_path / "spill") as second:
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


# ------------------------------------------------------------------ values that reach SQL

def test_a_database_name_that_is_not_an_identifier_is_refused_and_nothing_is_dropped(journal, chdb_dir):
    journal.append("decisions", decision_row(journal, 0))
    journal.flush()
    for name in (f"{journal.database}; DROP DATABASE {journal.database}", "1abc", "a" * 64, "violet\n", "", "a-b"):
        with pytest.raises(InputError, match="is not a plain identifier") as caught:
            Journal(f"chdb://{chdb_dir}", layout=LAYOUT, database=name)
        assert caught.value.where == "--database" and caught.value.fix
    assert journal.count("decisions", "run") == 1  # the database is still there, with its row
    with Journal(f"chdb://{chdb_dir}", layout=LAYOUT, database="A_" + "b" * 61) as long:  # 63 characters: fine
        assert long.count("decisions", "run") == 0


def test_run_ids_are_bound_as_parameters_not_pasted(journal):
    hostile = f"x' OR 1=1; DROP DATABASE {journal.database} --"
    journal.append("decisions", decision_row(journal, 0))
    journal.append("decisions", decision_row(journal, 0, run_id=hostile))
    journal.flush()
    assert journal.count("decisions", hostile) == 1 and journal.count("decisions", "run") == 1
    assert journal.query(f"SELECT run_id FROM {{db}}.{DECISIONS} FINAL WHERE run_id = {{r:String}}", r=hostile) == [(hostile,)]


# ------------------------------------------------------------------ DSNs and directories

@contextlib.contextmanager
def tmpfs(directory: Path, options: str):
    """A real tmpfs at `directory` (root only): a small disk fills for real, a read-only one refuses writes."""
    directory.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(directory)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here ({done.stderr.strip()}): needs root")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=True)


@pytest.mark.parametrize("dsn, message", [
    ("chdb:", "does not name an absolute directory"),
    ("chdb:relative/dir", "does not name an absolute directory"),
    ("chdb:///tmp/x?path=/etc", "does not name an absolute directory"),
    ("chdb://relative/dir", "names 'relative' as a host, and would write to '/dir'"),
    ("chdb:///dev/null", "the journal directory /dev/null is not a directory"),
    ("http://[::1", "is not a valid address: Invalid IPv6 URL"),
    ("http://host:99999", "is not a valid address: Port out of range"),
    ("ftp://host", "is not a journal address"),
    ("out/journal", "is not a journal address"),
])
def test_a_bad_dsn_is_one_clear_message(dsn, message):
    existed = Path("/dir").exists()
    with pytest.raises(JournalError) as caught:
        Journal(dsn)
    assert message in caught.value.what and caught.value.fix, caught.value
    assert Path("/dir").exists() == existed  # chdb://relative/dir no longer writes to /dir


def test_a_read_only_journal_directory_is_not_reported_as_held(tmp_path):
    with tmpfs(tmp_path / "ro", "size=1m,ro") as ro:
        for directory in (ro, ro / "journal"):  # the directory itself, or a parent it cannot be created in
            with pytest.raises(JournalError, match="cannot be written: Read-only file system") as caught:
                Journal(f"chdb://{directory}")
            assert "another process" not in str(caught.value)


def test_a_journal_directory_held_by_another_process_says_so(tmp_path):
    directory = tmp_path / "held"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, clickhouse_connect\n"
                               f"c = clickhouse_connect.get_client(dsn='chdb://{directory}')\n"
                               "print('open', flush=True)\nsys.stdin.read()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        for opening in (lambda j: j.start(), lambda j: j.query("SELECT 1")):  # a writer process, or this process
            with pytest.raises(JournalError, match="another process has the embedded ClickHouse at .* open"):
                opening(Journal(f"chdb://{directory}"))
    finally:
        holder.stdin.close()
        holder.wait()


# ------------------------------------------------------------------ spill files

def spill_lines(j: Journal, n: int, first: int = 0) -> bytes:
    return "".join(json.dumps(decision_row(j, k)) + "\n" for k in range(first, first + n)).encode()


def test_a_torn_spill_file_keeps_its_whole_rows_and_sets_the_rest_aside(chdb_dir, tmp_path):
    """A real truncated file, as an older writer left it when the disk filled mid-line: no later command crashes."""
    database = f"t_{uuid.uuid4().hex[:10]}"
    spill = tmp_path / "spill"
    spill.mkdir()
    with Journal(f"chdb://{chdb_dir}", layout=LAYOUT, database=database, spill_dir=tmp_path / "probe") as probe:
        legacy, cut = spill / f"{DECISIONS}.spill.jsonl", spill_lines(probe, 11)
        batch = spill / f"{database}.{DECISIONS}.00000000000000000001-1-000001.spill.jsonl"
        batch.write_bytes(spill_lines(probe, 5, first=100)[:-1] + b"\n{\"run_id\": \"ru")  # whole rows, then a torn one
    cut = cut[: len(cut) - 40]  # the 11th row loses its last 40 bytes (and its newline)
    legacy.write_bytes(cut)
    notices: list[str] = []
    with Journal(f"chdb://{chdb_dir}", layout=LAYOUT, database=database, spill_dir=spill, notice=notices.append) as journal:
        assert journal.count("decisions", "run") == 15 and journal.stats.replayed_rows == 15
        assert journal.pending_spill_rows() == 0 and not list(spill.glob("*.spill.jsonl"))
    torn = sorted((spill / "torn").iterdir())
    assert len(torn) == 2 and len(notices) == 2
    kept_tail = cut[cut.rindex(b"\n") + 1:]
    assert kept_tail in [t.read_bytes() for t in torn]  # the torn bytes are kept, exactly
    assert all("was not whole" in n and "moved to" in n for n in notices)
    assert any("its 10 whole rows are kept" in n for n in notices) and any("its 5 whole rows" in n for n in notices)


def test_journal_report_on_a_directory_with_a_torn_spill_file_does_not_crash(tmp_path):
    scans = write_scans(tmp_path / "scans.parquet", n_scans=30)
    dsn = f"chdb://{tmp_path / 'journal'}"
    replay = violet("replay", GRAPHS / "blue_decision.toml", "--input", scans, "--journal", dsn, "--run-id", "r1",
                    "--no-progress")
    assert replay.returncode == 0, replay.stderr
    torn = tmp_path / "journal.spill" / "scans.spill.jsonl"
    torn.write_text('{"run_id": "r1", "scan_id": 5, "ts_us": 1, "vel_')  # a line cut short, nothing else
    report = violet("journal", "report", "--journal", dsn)
    assert report.returncode == 0 and "scans: 30 (0 rejected)" in report.stdout, report.stderr
    assert "was not whole" in report.stderr and "Traceback" not in report.stderr
    assert not torn.exists() and len(list((tmp_path / "journal.spill" / "torn").iterdir())) == 1


def test_a_full_spill_disk_stops_the_writer_and_keeps_every_acknowledged_row(chdb_dir, tmp_path):
    """ENOSPC for real: the database is down, the spill disk (a 256 KiB tmpfs) fills; the writer stops, every later
    append raises, no file on that disk is torn, and every row it did spill is inserted once space is back."""
    database = f"t_{uuid.uuid4().hex[:10]}"
    with tmpfs(tmp_path / "small", "size=256k") as small:
        journal = Journal(f"chdb://{chdb_dir}", layout=LAYOUT, database=database, spill_dir=small, batch_rows=50,
                          flush_seconds=0.01).start()
        journal.command(f"DETACH TABLE {database}.{DECISIONS}")  # in the writer process, which owns the database
        k = 0
        with pytest.raises(JournalError, match="No space left on device") as caught:
            while k < 1_000_000:  # far more than the disk holds; the writer stops long before
                journal.append("decisions", decision_row(journal, k))
                k += 1
                if k % 50 == 0:
                    journal.flush()  # wait for the writer to catch up (raises once it stopped)
        assert "spilling them to" in caught.value.what and "--run-id" in caught.value.fix
        with pytest.raises(JournalError, match="No space left on device"):
            journal.close()
        kept = journal.stats.spilled_rows
        assert kept > 0 and not list(small.glob(".*.tmp"))  # no temp file left behind
        assert sum(len(p.read_bytes().splitlines()) for p in small.glob("*.spill.jsonl")) == kept
        for path in small.glob("*.spill.jsonl"):
            assert all(json.loads(line) for line in path.read_bytes().splitlines())  # every file whole
        subprocess.run(["mount", "-o", "remount,size=8m", str(small)], check=True)
        with Journal(f"chdb://{chdb_dir}", layout=LAYOUT, database=f"p_{database}", spill_dir=tmp_path) as other:
            other.command(f"ATTACH TABLE IF NOT EXISTS {database}.{DECISIONS}")  # a restarted engine re-attaches it
        notices: list[str] = []
        with Journal(f"chdb://{chdb_dir}", layout=LAYOUT, database=database, spill_dir=small,
                     notice=notices.append) as again:
            assert again.stats.replayed_rows == kept and again.count("decisions", "run") == kept and not notices


def test_a_failed_spill_write_leaves_no_partial_file_and_stops_the_journal(chdb_dir, tmp_path, monkeypatch):
    """ENOSPC injected at the write call, after half the bytes: the temp file goes, no spill file appears, and the
    journal refuses every later row (no writer process started: the caller's process writes, where the failure
    is injected)."""
    database = f"t_{uuid.uuid4().hex[:10]}"
    journal = Journal(f"chdb://{chdb_dir}", layout=LAYOUT, database=database, spill_dir=tmp_path / "spill")
    real = spill_module._write_durably

    def half_then_full(path, data):
        real(path, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(spill_module, "_write_durably", half_then_full)
    journal.command(f"DETACH TABLE {database}.{DECISIONS}")
    journal.append("decisions", decision_row(journal, 0))
    with pytest.raises(JournalError, match="cannot keep 1 decisions_[0-9a-f]{16} rows: .*No space left on device"):
        journal.flush()
    assert list(journal.spill_dir.iterdir()) == []
    for stopped in (lambda: journal.append("decisions", decision_row(journal, 1)), journal.close):
        with pytest.raises(JournalError, match="No space left on device"):
            stopped()
    with Journal(f"chdb://{chdb_dir}", layout=LAYOUT, database=f"p_{database}", spill_dir=tmp_path / "p") as other:
        other.command(f"ATTACH TABLE IF NOT EXISTS {database}.{DECISIONS}")  # a restarted engine re-attaches it


def test_replay_on_a_full_disk_exits_2_and_resumes_to_a_verified_run(tmp_path):
    """The whole journal (engine and spill files) on a 1 MiB tmpfs: the replay stops with exit 2 and one message;
    with the disk grown, the same command resumes, and `journal verify` recomputes every decision."""
    scans = write_scans(tmp_path / "scans.parquet", n_scans=3000)
    with tmpfs(tmp_path / "disk", "size=1m") as disk:
        dsn = f"chdb://{disk / 'journal'}"
        args = ("replay", GRAPHS / "blue_decision.toml", "--input", scans, "--journal", dsn, "--run-id", "full",
                "--no-progress")
        full = violet(*args)
        assert full.returncode == 2, full.stdout + full.stderr
        assert "run full stopped" in full.stderr and "No space left on device" in full.stderr
        assert "Traceback" not in full.stderr and "(--run-id full)" in full.stderr
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        resumed = violet(*args)  # resumes after the last journaled scan (none, if the disk filled before one)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        verify = violet("journal", "verify", GRAPHS / "blue_decision.toml", "--journal", dsn, "--run-id", "full")
        assert verify.returncode == 0, verify.stdout + verify.stderr
        assert "scans: 3,000 accepted; decisions: 3,000 journaled, 0 differ, 0 missing" in verify.stdout


def violet(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "violet.cli", *map(str, args)], capture_output=True, text=True)


def test_a_temp_file_of_a_killed_spill_is_set_aside_not_replayed(chdb_dir, tmp_path):
    """A process killed mid-spill leaves a hidden temp file: its rows were never acknowledged (the run resumes
    before them), so it is not replayed; it is moved to torn/ and reported. A live process's temp file is left."""
    database = f"t_{uuid.uuid4().hex[:10]}"
    spill = tmp_path / "spill"
    spill.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    with Journal(f"chdb://{chdb_dir}", layout=LAYOUT, database=database, spill_dir=tmp_path / "probe") as probe:
        lines = spill_lines(probe, 3)
        orphan = spill / f".{database}.{DECISIONS}.00000000000000000001-{dead.stdout.strip()}-000001.spill.jsonl.tmp"
        orphan.write_bytes(lines[:-7])
        live = spill / f".{database}.{DECISIONS}.00000000000000000002-{os.getpid()}-000001.spill.jsonl.tmp"
        live.write_bytes(spill_lines(probe, 1))
    notices: list[str] = []
    with Journal(f"chdb://{chdb_dir}", layout=LAYOUT, database=database, spill_dir=spill, notice=notices.append) as journal:
        assert journal.count("decisions", "run") == 0 and not orphan.exists() and live.exists()
    assert [p.read_bytes() for p in (spill / "torn").iterdir()] == [lines[:-7]]
    assert len(notices) == 1 and str(orphan) in notices[0]
