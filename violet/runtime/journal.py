"""The ClickHouse journal: every scan, decision, order, trade and divergence, off the decision path.

Writes go through clickhouse-connect. The default is the real ClickHouse
engine in process (`chdb:///abs/dir`, one data directory per process); a
server is one setting away (`http://host:8123`). The tool applies `ddl/*.sql`
itself. A DSN or database name that is not exactly one of those forms is
refused with one message before anything is opened (see docs/runtime.md).

`append` only puts a row on a queue: a writer thread batches the rows and
inserts them, so journaling never sits on the decision's critical path. If an
insert fails, the batch is spilled to disk, one file per batch written whole
(temp file, fsync, rename), and replayed before the next insert and at the next
start: no row is lost. A spill file cut short by an older writer is read up to
its last whole row; the rest is set aside in `torn/` and reported. If the rows
cannot be kept at all (the spill disk is full), the writer stops and every
later `append` and `close` raises, so the run stops instead of running on
unjournaled. Tables are ReplacingMergeTree on their natural keys (run, scan,
...), so a row written twice (replayed after a crash between insert and
acknowledgement) counts once when read with FINAL: none is duplicated.
"""

from __future__ import annotations

import fcntl
from importlib import resources
import json
import logging
import os
import queue
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import ParseResult, urlparse

import clickhouse_connect
import numpy as np

from violet.errors import InputError, VioletError, quote
from violet.files import try_write
from violet.runtime.record import Layout

logging.getLogger("clickhouse_connect").setLevel(logging.CRITICAL)  # failures are counted and reported by the journal
# Insert order within a batch (and of spill files on replay): a scan's `scans` row goes last, so a scans row in the
# database means every other row of that scan is in too (the resume point after a kill).
TABLES = ("runs", "decisions", "orders", "trades", "divergences", "scans")
GRAPH_TABLES = ("decisions", "trades")  # one pair per record layout: `decisions_<layout>`, `trades_<layout>`
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
DSN_FORMS = "chdb:///abs/dir (the embedded engine, three slashes) or http://host:8123 (a server)"
SPILL_SUFFIX = ".spill.jsonl"
TORN_DIR = "torn"


class JournalError(VioletError):
    """The journal cannot be reached or written, and rows could not be kept safe either."""


def identifier(name: str, option: str) -> str:
    """`name` if it is a plain SQL identifier, else a user error.

    A database name is spliced into the DDL and every query (`{db}`); checking it here, at the
    boundary, is what keeps `--database "violet; DROP DATABASE violet"` from being SQL."""
    if not isinstance(name, str) or not IDENTIFIER.fullmatch(name):
        raise InputError(f"{quote(name)} is not a plain identifier", where=option,
                         fix="use letters, digits and _ (not a digit first), at most 63 characters, e.g. violet")
    return name


# ------------------------------------------------------------------ DSNs

def _parse(dsn: str) -> ParseResult:
    try:
        url = urlparse(dsn)
        url.port  # noqa: B018 -- a bad port raises only when read
    except ValueError as exc:
        raise JournalError(f"{quote(dsn)} is not a valid address: {exc}", where="--journal", fix=f"write {DSN_FORMS}") from None
    return url


def embedded_directory(dsn: str) -> Path | None:
    """The data directory of `chdb:///abs/dir`; None for a server DSN.

    Anything else in the chdb scheme is refused: clickhouse-connect reads `chdb:` as an in-memory
    engine (every row gone at exit) and `chdb://relative/dir` as host `relative` and directory `/dir`."""
    url = _parse(dsn)
    if url.scheme != "chdb":
        return None
    if url.netloc:
        raise JournalError(f"{quote(dsn)} names {quote(url.netloc)} as a host, and would write to {quote(url.path or '/')}",
                           where="--journal", fix=f"an absolute directory after three slashes, e.g. "
                                                  f"chdb://{Path(url.netloc + url.path).resolve()}")
    if not url.path.startswith("/") or url.query or url.fragment or url.params:
        raise JournalError(f"{quote(dsn)} does not name an absolute directory", where="--journal",
                           fix="write chdb:///abs/dir (nothing after the path)")
    return Path(url.path)


def server_options(dsn: str) -> dict[str, Any]:
    """clickhouse-connect's arguments for `http(s)://[user:password@]host[:port]`."""
    url = _parse(dsn)
    if url.scheme not in ("http", "https") or not url.hostname or url.path not in ("", "/"):
        raise JournalError(f"{quote(dsn)} is not a journal address", where="--journal", fix=f"write {DSN_FORMS}")
    return {"host": url.hostname, "port": url.port or 8123, "username": url.username or "default",
            "password": url.password or "", "secure": url.scheme == "https"}


def existing(dsn: str) -> str:
    """`dsn` for a command that reads a journal: an embedded directory that holds none is one clear error,
    not a new empty journal created at a mistyped path."""
    directory = embedded_directory(dsn)
    if directory is not None and not (directory / "metadata").is_dir():
        raise JournalError(f"no journal at {directory}", where="--journal",
                           fix="give the --journal a replay wrote (default: chdb:// + the absolute path of out/journal)")
    return dsn


def check_dsn(dsn: str) -> None:
    """Refuse a DSN that is not exactly one of the two forms, before anything is read, compiled or opened."""
    if embedded_directory(dsn) is None:
        server_options(dsn)


def connect(dsn: str) -> Any:
    """A clickhouse-connect client: `chdb:///abs/dir` (embedded) or `http://host:8123` (server)."""
    directory = embedded_directory(dsn)
    if directory is None:
        options = server_options(dsn)
        try:
            return clickhouse_connect.get_client(**options)
        except Exception as exc:
            raise JournalError(f"cannot reach ClickHouse: {exc}", where=dsn, fix="check the address, or use chdb:///dir") from None
    writable_directory(directory, dsn, "the journal directory")
    try:
        return clickhouse_connect.get_client(dsn=f"chdb://{directory}")
    except Exception as exc:
        if _locked(directory):
            raise JournalError(f"another process has the embedded ClickHouse at {directory} open", where=dsn,
                               fix="one process per data directory: stop the other one, or use another directory") from None
        raise JournalError(f"cannot open the embedded ClickHouse at {directory}: {exc}", where=dsn,
                           fix="give an empty directory, or one a journal was written to") from None


def writable_directory(directory: Path, where: str, what: str) -> None:
    """Create `directory` if needed and prove a file can be written in it (a read-only disk, a file in
    the way, a directory root cannot write to): each is one clear error, not a failure deep in the engine."""
    if directory.exists() and not directory.is_dir():
        raise JournalError(f"{what} {directory} is not a directory", where=where, fix="give a directory path")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        try_write(directory)
    except OSError as exc:
        raise JournalError(f"{what} {directory} cannot be written: {exc.strerror or exc}", where=where,
                           fix="give a writable directory (e.g. chdb:///abs/dir on a writable disk)") from None


def _locked(directory: Path) -> bool:
    """True when another process holds the engine's lock on `directory` (ClickHouse flocks `status`)."""
    try:
        fd = os.open(directory / "status", os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def apply_ddl(client: Any, database: str, layout: Layout | None = None) -> None:
    """Create the database, every table of the packaged DDL (violet/runtime/ddl/*.sql, read as a package
    resource so an installed wheel has it) and a graph's decisions and trades tables (idempotent);
    `database` is a checked identifier."""
    client.command(f"CREATE DATABASE IF NOT EXISTS {identifier(database, '--database')}")
    ddl = sorted((f for f in resources.files("violet.runtime").joinpath("ddl").iterdir() if f.name.endswith(".sql")),
                 key=lambda f: f.name)
    for statement in [f.read_text() for f in ddl] + (layout.ddl() if layout is not None else []):
        client.command(statement.replace("{db}", database))


def table_kind(table: str) -> str | None:
    """The kind of a physical journal table (a name of TABLES), or None for a table that is not the journal's."""
    if table in TABLES:
        return table
    kind, _, key = table.rpartition("_")
    return kind if kind in GRAPH_TABLES and re.fullmatch(r"[0-9a-f]{16}", key) else None


# ------------------------------------------------------------------ spill files

class SpillDir:
    """The spill files of one database: `<database>.<table>.<seq>.spill.jsonl`, one per spilled batch.

    A file appears only whole: it is written as a hidden temp file, fsynced, renamed into place and
    the directory fsynced. A file that is not whole anyway (written by an older VIOLET, which appended
    to `<table>.spill.jsonl`, or a temp file left by a killed process) keeps its whole rows; the rest
    is moved to `torn/` and reported through `notice`, never dropped silently."""

    def __init__(self, directory: Path, database: str, notice: Callable[[str], None]) -> None:
        self.directory = directory
        self.database = database
        self.notice = notice
        self._counter = 0

    def write(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Keep `rows` on disk, whole or not at all; JournalError if they cannot be kept."""
        try:
            self._place(table, rows, None)
        except OSError as exc:
            raise JournalError(f"cannot keep {len(rows):,} {table} rows: the insert failed and spilling them to "
                               f"{self.directory} failed too: {exc.strerror or exc}", where=str(self.directory),
                               fix="free space on that disk (or fix the journal), then run the same replay with "
                                   "the same --run-id: it resumes after the last scan kept") from None

    def files(self) -> list[tuple[str, Path]]:
        """(table, file) of this database, in replay order: by table in TABLES order (scans last), then by age."""
        found = []
        for path in self.directory.glob(f"*{SPILL_SUFFIX}"):
            parts = path.name.removesuffix(SPILL_SUFFIX).split(".")
            legacy = len(parts) == 1  # `<table>.spill.jsonl`, written by VIOLET before per-batch files
            table = parts[0] if legacy else parts[1] if len(parts) == 3 and parts[0] == self.database else None
            kind = table_kind(table) if table is not None else None
            if kind is not None:
                found.append((TABLES.index(kind), path.name, table, path))
        return [(table, path) for _, _, table, path in sorted(found)]

    def read(self, table: str, path: Path, columns: list[str]) -> list[dict[str, Any]]:
        """The whole rows of one file (a JSON object with exactly the table's columns); any other line
        (a torn last line, damage) is set aside and the file rewritten with the whole rows alone."""
        rows, bad = [], []
        for line in path.read_bytes().splitlines(keepends=True):
            row = _row(line, columns)
            (rows if row is not None else bad).append(row if row is not None else line)
        if bad:
            try:
                self._set_aside(path, b"".join(bad), len(rows))
                if rows:
                    self._place(table, rows, path)
                else:
                    path.unlink()
            except OSError as exc:  # the file stays as it is: nothing is lost, the next start tries again
                raise JournalError(f"spill file {path} is not whole, and its torn part cannot be set aside: "
                                   f"{exc.strerror or exc}", where=str(self.directory),
                                   fix="free space on that disk, then run the command again") from None
        return rows

    def remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def pending_rows(self, columns: Callable[[str], list[str]]) -> int:
        return sum(len(self.read(table, path, columns(table))) for table, path in self.files())

    def set_aside_orphans(self) -> None:
        """Temp files of dead processes (killed while spilling: their rows were never acknowledged) go to torn/."""
        for tmp in self.directory.glob(f".{self.database}.*{SPILL_SUFFIX}.tmp"):
            parts = tmp.name.split("-")
            pid = parts[-2] if len(parts) >= 3 else ""
            if not pid.isdigit() or not _alive(int(pid)):
                self._set_aside(tmp, tmp.read_bytes(), 0)
                tmp.unlink()

    def _place(self, table: str, rows: list[dict[str, Any]], target: Path | None) -> None:
        """Write rows to a hidden temp file, fsync, rename it to `target` (default: a new batch file), fsync
        the directory: the file at the final name is always whole. A temp file is removed if anything fails."""
        self._counter += 1
        name = f"{self.database}.{table}.{time.time_ns():020d}-{os.getpid()}-{self._counter:06d}{SPILL_SUFFIX}"
        tmp = self.directory / f".{name}.tmp"
        try:
            _write_durably(tmp, "".join(json.dumps(row, default=_jsonable) + "\n" for row in rows).encode())
            os.replace(tmp, target or self.directory / name)
            _fsync_directory(self.directory)
        finally:
            tmp.unlink(missing_ok=True)

    def _set_aside(self, path: Path, data: bytes, kept: int) -> None:
        torn = self.directory / TORN_DIR
        torn.mkdir(exist_ok=True)
        dest = torn / f"{path.name}.{time.time_ns()}.torn"
        _write_durably(dest, data)
        self.notice(f"spill file {path} was not whole (cut short or damaged): {len(data):,} bytes that are not whole "
                    f"rows were moved to {dest}; its {kept:,} whole rows are kept")


def _row(line: bytes, columns: list[str]) -> dict[str, Any] | None:
    """One spilled row, or None when the line is not a whole row of the table."""
    try:
        row = json.loads(line)
    except ValueError:
        return None
    return row if isinstance(row, dict) and set(row) == set(columns) else None


def _write_durably(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


# ------------------------------------------------------------------ the journal

@dataclass
class JournalStats:
    """What the writer did: rows inserted, batches spilled to disk, rows replayed from disk."""

    inserted: dict[str, int] = field(default_factory=dict)
    spilled_rows: int = 0
    replayed_rows: int = 0
    failures: int = 0
    last_error: str = ""


class Journal:
    """Batched, spill-safe writes of journal rows (dicts keyed by column) to one database."""

    def __init__(self, dsn: str, database: str = "violet", spill_dir: Path | None = None,
                 batch_rows: int = 2000, flush_seconds: float = 0.05, client: Any = None,
                 notice: Callable[[str], None] = _warn, layout: Layout | None = None) -> None:
        self.dsn = dsn
        self.database = identifier(database, "--database")
        # logical table -> the physical one: a graph's decisions and trades tables are named by its record layout
        self.tables = {t: t for t in TABLES} | ({"decisions": layout.decisions_table, "trades": layout.trades_table}
                                                if layout is not None else {})
        self.client = client or connect(dsn)
        self.spill_dir = Path(spill_dir or _default_spill(dsn))
        writable_directory(self.spill_dir, dsn, "the spill directory")
        self.batch_rows = batch_rows
        self.flush_seconds = flush_seconds
        self.stats = JournalStats()
        self.spills = SpillDir(self.spill_dir, self.database, notice)
        self._queue: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped: JournalError | None = None  # why the writer stopped, if it did
        apply_ddl(self.client, self.database, layout)
        self._physical: dict[str, list[str]] = {}
        self._columns = {table: self.physical_columns(self.tables[table]) for table in TABLES}
        self._warm_up()
        self.spills.set_aside_orphans()
        self.replay_spills()

    def columns(self, table: str) -> list[str]:
        """The table's columns, in order, as the database has them."""
        return list(self._columns[table])

    def table(self, table: str) -> str:
        """The physical name of logical table `table` (a graph's decisions and trades carry its layout's key)."""
        return self.tables[table]

    def physical_columns(self, table: str) -> list[str]:
        """The columns of a physical table (empty if it does not exist), read once."""
        if table not in self._physical:
            self._physical[table] = self._read_columns(table)
        return self._physical[table]

    # ------------------------------------------------------------ the decision side (cheap)

    def append(self, table: str, row: Mapping[str, Any]) -> None:
        """Queue one row; the writer thread inserts it. Never blocks on the database.

        A row that does not match its table's columns is a bug in the caller, not an
        outage: it is refused here, loudly, instead of being spilled and retried forever.
        Once the writer has stopped (rows it could neither insert nor spill), every append
        raises: a run must not go on deciding what it cannot journal.
        """
        if self._stopped is not None:
            raise self._stopped
        columns = self._columns.get(table)
        if not columns:
            raise JournalError(f"unknown journal table '{table}'", where=self.dsn,
                               fix=f"tables: {', '.join(TABLES)} (decisions and trades need the graph's record layout)")
        if set(row) != set(columns):
            missing, extra = sorted(set(columns) - set(row)), sorted(set(row) - set(columns))
            raise JournalError(f"a {table} row must have exactly the table's columns "
                               f"(missing: {', '.join(missing) or '-'}; unknown: {', '.join(extra) or '-'})",
                               where=f"{self.database}.{table}", fix="build rows from the journal's DDL")
        self._queue.put((self.tables[table], dict(row)))

    # ------------------------------------------------------------ the writer side

    def start(self) -> Journal:
        """Start the background writer (batches by size or every flush_seconds)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="violet-journal", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop the writer after writing (or spilling) everything queued; raise if the writer had stopped."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        if self._stopped is not None:
            raise self._stopped
        self.flush()

    def flush(self) -> None:
        """Write everything queued now, in the caller's thread."""
        self._write(self._drain(block=False))

    def _run(self) -> None:
        try:
            while True:
                batch = self._drain(block=True)
                stop = batch.pop("__stop__", None) is not None
                self._write(batch)
                if stop:
                    return
        except JournalError:
            return  # _write recorded why; append and close raise it
        except Exception as exc:  # a bug; still, the run must stop rather than go on unjournaled
            self._stopped = JournalError(f"the journal writer stopped: {type(exc).__name__}: {exc}", where=self.dsn,
                                         fix="report this; then resume the run with the same --run-id")

    def _drain(self, block: bool) -> dict[str, list[dict[str, Any]]]:
        """Take queued rows, grouped by table: waits up to flush_seconds for the first when `block`."""
        batch: dict[str, list[dict[str, Any]]] = {}
        deadline = time.monotonic() + self.flush_seconds
        count = 0
        while count < self.batch_rows:
            timeout = max(0.0, deadline - time.monotonic())
            try:
                item = self._queue.get(block=block, timeout=timeout if block else None)
            except queue.Empty:
                break
            if item is None:
                batch["__stop__"] = []
                break
            batch.setdefault(item[0], []).append(item[1])
            count += 1
        return batch

    def _write(self, batch: Mapping[str, list[dict[str, Any]]]) -> None:
        try:
            self._write_batch(batch)
        except JournalError as exc:  # rows that could be neither inserted nor kept: the journal stops here
            self._stopped = exc
            raise

    def _write_batch(self, batch: Mapping[str, list[dict[str, Any]]]) -> None:
        with self._lock:
            if batch and not self._replay_locked():
                for table in sorted(batch, key=_order):
                    self._spill(table, batch[table])
                return
            for table in sorted(batch, key=_order):
                self._insert_or_spill(table, batch[table])

    def _insert_or_spill(self, table: str, rows: list[dict[str, Any]]) -> None:
        try:
            self._insert(table, rows)
        except Exception as exc:  # any failure of the database: keep the rows on disk
            self.stats.failures += 1
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            self._spill(table, rows)

    def _spill(self, table: str, rows: list[dict[str, Any]]) -> None:
        self.spills.write(table, rows)
        self.stats.spilled_rows += len(rows)

    def _insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Insert rows into physical table `table`; counted under its kind (decisions, trades, ...)."""
        columns = self.physical_columns(table)
        data = [[_db_value(row.get(c)) for c in columns] for row in rows]
        self.client.insert(f"{self.database}.{table}", data, column_names=columns)
        kind = table_kind(table) or table
        self.stats.inserted[kind] = self.stats.inserted.get(kind, 0) + len(rows)

    def _warm_up(self) -> None:
        """The first insert of a process costs ~150 ms in the embedded engine: pay it here, before the
        run, on a scratch in-memory table, not on the writer thread in the middle of the decisions."""
        self.client.command(f"CREATE TABLE IF NOT EXISTS {self.database}._warmup (x Int64) ENGINE = Memory")
        self.client.insert(f"{self.database}._warmup", [[0]], column_names=["x"])

    def _read_columns(self, table: str) -> list[str]:
        result = self.client.query("SELECT name FROM system.columns WHERE database = {db:String} AND table = {t:String} "
                                   "ORDER BY position", parameters={"db": self.database, "t": table})
        return [r[0] for r in result.result_rows]

    # ------------------------------------------------------------ spill files

    def replay_spills(self) -> bool:
        """Insert every spilled row; a file is removed only once all its rows are in. True if none remain."""
        with self._lock:
            return self._replay_locked()

    def _replay_locked(self) -> bool:
        for table, path in self.spills.files():
            rows = self.spills.read(table, path, self.physical_columns(table))
            try:
                if rows:
                    self._insert(table, rows)
            except Exception as exc:  # still down: keep the file for the next try
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                return False
            self.spills.remove(path)
            self.stats.replayed_rows += len(rows)
        return True

    def pending_spill_rows(self) -> int:
        return self.spills.pending_rows(self.physical_columns)

    # ------------------------------------------------------------ reading back

    def count(self, table: str, run_id: str) -> int:
        """Rows of one run, each key once (FINAL collapses replayed duplicates)."""
        if table not in TABLES:
            raise JournalError(f"unknown journal table '{table}'", where=self.dsn, fix=f"tables: {', '.join(TABLES)}")
        return int(self.query(f"SELECT count() FROM {{db}}.{self.tables[table]} FINAL WHERE run_id = {{r:String}}",
                              r=run_id)[0][0])

    def run_tables(self, run_id: str) -> tuple[str, str, str]:
        """The physical decisions and trades tables of run `run_id` (named by its record layout), and the
        column holding its action; a run journaled before layouts existed is refused."""
        rows = self.query("SELECT layout, action_output FROM {db}.runs FINAL WHERE run_id = {r:String}", r=run_id)
        if not rows or not rows[0][0]:
            raise JournalError(f"run {quote(run_id)} has no record layout in the journal" if rows else
                               f"no run {quote(run_id)} in the journal", where=f"{self.dsn} database {self.database}",
                               fix="replay it again with this version, or omit --run-id for the latest run")
        layout, action = rows[0]
        if not re.fullmatch(r"[0-9a-f]{16}", layout):  # spliced into queries: a layout key, nothing else
            raise JournalError(f"run {quote(run_id)} has a damaged record layout {quote(layout)}", where=self.database,
                               fix="replay the run again")
        return f"decisions_{layout}", f"trades_{layout}", identifier(action, "runs.action_output")

    def query(self, sql: str, **parameters: Any) -> list[tuple]:
        """Rows of `sql`; `{db}` is this journal's (checked) database, values are bound as parameters."""
        return self.client.query(sql.replace("{db}", self.database), parameters=parameters).result_rows


def _order(table: str) -> int:
    """Insert order of a physical table: its kind's place in TABLES (scans last)."""
    return TABLES.index(table_kind(table) or "scans")


def _db_value(value: Any) -> Any:
    """A Python value as the database column takes it (bools as 0/1)."""
    return int(value) if isinstance(value, bool) else value


def _jsonable(value: Any) -> Any:
    """numpy scalars and arrays as plain Python, for the spill file (floats keep every bit via repr)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot spill a {type(value).__name__}")


def _default_spill(dsn: str) -> Path:
    """Beside the embedded engine's directory (`<dir>.spill`); for a server, one directory per host and port."""
    directory = embedded_directory(dsn)
    if directory is not None:
        return directory.with_name(directory.name + ".spill")
    options = server_options(dsn)
    return Path.home() / ".cache" / "violet" / "spill" / f"{options['host']}-{options['port']}"
