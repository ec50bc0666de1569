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

import logging
import re
import queue
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from violet.errors import quote
from violet.journal.dsn import (TABLES, JournalError, apply_ddl, connect, embedded_directory, identifier,
                                server_options, table_kind, writable_directory)
from violet.journal.layout import Layout
from violet.journal.spill import SpillDir

logging.getLogger("clickhouse_connect").setLevel(logging.CRITICAL)  # failures are counted and reported by the journal


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
        # logical table -> the physical one: a graph's scans, decisions and trades tables are named by its record layout
        self.tables = {t: t for t in TABLES} | (layout.tables if layout is not None else {})
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
        """The physical name of logical table `table` (a graph's scans, decisions and trades carry its layout's key)."""
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
                               fix=f"tables: {', '.join(TABLES)} (scans, decisions and trades need the graph's record layout)")
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
        layout, action = self._run_layout(run_id)
        return f"decisions_{layout}", f"trades_{layout}", identifier(action, "runs.action_output")

    def run_scans(self, run_id: str) -> str:
        """The physical scans table of run `run_id` (named by its record layout); a run journaled before
        scans took the graph's inputs as columns is refused."""
        table = f"scans_{self._run_layout(run_id)[0]}"
        if not self.physical_columns(table):
            raise JournalError(f"run {quote(run_id)} was journaled before its scans had the graph's columns",
                               where=f"{self.dsn} database {self.database}", fix="replay it again with this version")
        return table

    def _run_layout(self, run_id: str) -> tuple[str, str]:
        """(layout key, action output) of run `run_id`, the key checked: it is spliced into table names."""
        rows = self.query("SELECT layout, action_output FROM {db}.runs FINAL WHERE run_id = {r:String}", r=run_id)
        if not rows or not rows[0][0]:
            raise JournalError(f"run {quote(run_id)} has no record layout in the journal" if rows else
                               f"no run {quote(run_id)} in the journal", where=f"{self.dsn} database {self.database}",
                               fix="replay it again with this version, or omit --run-id for the latest run")
        layout, action = rows[0]
        if not re.fullmatch(r"[0-9a-f]{16}", layout):  # spliced into queries: a layout key, nothing else
            raise JournalError(f"run {quote(run_id)} has a damaged record layout {quote(layout)}", where=self.database,
                               fix="replay the run again")
        return layout, action

    def query(self, sql: str, **parameters: Any) -> list[tuple]:
        """Rows of `sql`; `{db}` is this journal's (checked) database, values are bound as parameters."""
        return self.client.query(sql.replace("{db}", self.database), parameters=parameters).result_rows


def _order(table: str) -> int:
    """Insert order of a physical table: its kind's place in TABLES (scans last)."""
    return TABLES.index(table_kind(table) or "scans")


def _db_value(value: Any) -> Any:
    """A Python value as the database column takes it (bools as 0/1)."""
    return int(value) if isinstance(value, bool) else value


def _default_spill(dsn: str) -> Path:
    """Beside the embedded engine's directory (`<dir>.spill`); for a server, one directory per host and port."""
    directory = embedded_directory(dsn)
    if directory is not None:
        return directory.with_name(directory.name + ".spill")
    options = server_options(dsn)
    return Path.home() / ".cache" / "violet" / "spill" / f"{options['host']}-{options['port']}"
