"""The ClickHouse journal: every scan, decision, order, trade and divergence, off the decision's process.

The default is the real ClickHouse engine embedded (`chdb:///abs/dir`, one process per data directory); a
server is one setting away (`http://host:8123`). A DSN or database name that is not exactly one of those
forms is refused with one message before anything is opened (see docs/runtime.md).

`Journal.start()` spawns a writer process that owns the database (violet/journal/writer_process.py).
`append` only checks the row and keeps it in a list; at each scan's `scans` row (the last row of a scan)
the rows go to the writer in one non-blocking pipe write, so the decision's process never waits on the
database and shares no GIL with the inserts. The writer batches rows and inserts them; if an insert
fails, the batch is spilled to disk, one file per batch written whole (temp file, fsync, rename), and
replayed before the next insert and at the next start: no row is lost. A spill file cut short by an older
writer is read up to its last whole row; the rest is set aside in `torn/` and reported. If the rows cannot
be kept at all (the spill disk is full), or the writer process dies, every later `append` and `close`
raises a JournalError, so the run stops instead of running on unjournaled, and the same command with the
same --run-id resumes it. Tables are ReplacingMergeTree on their natural keys (run, scan, ...), so a row
written twice (replayed after a crash between insert and acknowledgement) counts once when read with
FINAL: none is duplicated.

Reads (`query`, `count`, `run_tables`, ...) go through the writer while it runs (a request answered once
every row sent before it is written); without a writer (reports, verification, or after `close`) the
journal opens the database in the caller's process, and `close` closes it again.
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from violet.errors import quote
from violet.journal.dsn import (TABLES, JournalError, embedded_directory, identifier, server_options,
                                writable_directory)
from violet.journal.layout import Layout
from violet.journal.store import JournalStats, Store, StoreOptions
from violet.journal.writer_process import BACKLOG_BYTES, WriterProcess


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


class Journal:
    """Journal rows (dicts keyed by column) of one database: appended cheaply, written by a writer process
    once started (or in the caller's process by `flush` when not), read back with `query`."""

    def __init__(self, dsn: str, database: str = "violet", spill_dir: Path | None = None,
                 batch_rows: int = 2000, flush_seconds: float = 0.05, notice: Callable[[str], None] = _warn,
                 layout: Layout | None = None, backlog_bytes: int = BACKLOG_BYTES) -> None:
        self.dsn = dsn
        self.database = identifier(database, "--database")
        directory = embedded_directory(dsn)
        if directory is None:
            server_options(dsn)
        else:
            writable_directory(directory, dsn, "the journal directory")
        self.spill_dir = Path(spill_dir or _default_spill(dsn))
        writable_directory(self.spill_dir, dsn, "the spill directory")
        self.options = StoreOptions(dsn, self.database, self.spill_dir, layout)
        self.tables = self.options.tables
        self.batch_rows = batch_rows
        self.flush_seconds = flush_seconds
        self.notice = notice
        self.backlog_bytes = backlog_bytes  # how far the writer process may fall behind before appends wait
        self._rows: list[tuple[str, dict[str, Any]]] = []  # appended, not yet handed to the writer
        self._keys: dict[str, frozenset[str]] = {}  # logical table -> its columns, once the database is open
        self._writer: WriterProcess | None = None
        self._store: Store | None = None
        self._stopped: JournalError | None = None  # why writing stopped, if it did
        self._stats: JournalStats | None = None  # the writer's, once one ran

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # ------------------------------------------------------------ the writer

    def start(self) -> Journal:
        """Spawn the writer process (it opens the database, applies the DDL, replays spill files) and wait
        until it is ready; a database this process had open is closed first (one process per directory)."""
        if self._writer is None:
            self._close_store()
            self._writer = WriterProcess(self.options, self.batch_rows, self.flush_seconds, self.notice,
                                         self.backlog_bytes)
            self._keys = {t: frozenset(self._writer.columns[p]) for t, p in self.tables.items()}
        return self

    @property
    def writer_pid(self) -> int | None:
        """The writer process's id while it runs (to watch it, or pin it to a CPU); None without one."""
        return self._writer.pid if self._writer is not None else None

    @property
    def writer_backlog(self) -> int:
        """Bytes handed to the writer process that it has not taken yet (at most about `backlog_bytes`)."""
        return self._writer.backlog if self._writer is not None else 0

    def close(self) -> None:
        """Write everything appended (or spill it), stop the writer, close the database; raise if rows were
        not kept (the run must stop: the message says how to resume it)."""
        try:
            if self._writer is not None:
                writer, self._writer = self._writer, None
                with contextlib.suppress(JournalError):  # kept in self._stopped, raised below
                    self._send_pending(writer)
                try:
                    writer.close()
                except JournalError as exc:
                    self._stopped = self._stopped or exc
                self._stats = writer.stats
            elif self._stopped is None and self._rows:
                self.flush()
        finally:
            self._close_store()
        if self._stopped is not None:
            raise self._stopped

    def flush(self) -> None:
        """Write everything appended now and wait until it is written (or spilled); raise if it cannot be."""
        if self._stopped is not None:
            raise self._stopped
        try:
            if self._writer is not None:
                self._send_pending(self._writer)
                self._writer.request("flush")
                self._writer.check()
            elif self._rows:
                batch: dict[str, list[dict[str, Any]]] = {}
                for table, row in self._rows:
                    batch.setdefault(table, []).append(row)
                self._rows = []
                self._open().write(batch)
        except JournalError as exc:
            self._stopped = exc
            raise

    # ------------------------------------------------------------ the decision side (cheap)

    def append(self, table: str, row: Mapping[str, Any]) -> None:
        """Keep one row (it is taken, not copied); a scan's `scans` row hands the scan's rows to the writer
        in one non-blocking write. Waits on the database only when the writer is more than `backlog_bytes`
        behind (backpressure: a replay then runs at the database's pace).

        A row that does not match its table's columns is a bug in the caller, not an outage: it is refused
        here, loudly, instead of being spilled and retried forever. Once the writer has stopped (rows it
        could neither insert nor spill) or died, every append raises: a run must not go on deciding what it
        cannot journal."""
        if self._stopped is not None:
            raise self._stopped
        keys = self._keys.get(table) if self._keys else self._columns_now().get(table)
        if not keys:
            raise JournalError(f"unknown journal table '{table}'", where=self.dsn,
                               fix=f"tables: {', '.join(TABLES)} (scans, decisions and trades need the graph's record layout)")
        if row.keys() != keys:
            missing, extra = sorted(keys - set(row)), sorted(set(row) - keys)
            raise JournalError(f"a {table} row must have exactly the table's columns "
                               f"(missing: {', '.join(missing) or '-'}; unknown: {', '.join(extra) or '-'})",
                               where=f"{self.database}.{table}", fix="build rows from the journal's DDL")
        self._rows.append((self.tables[table], row))  # type: ignore[arg-type]
        if self._writer is not None and (table == "scans" or len(self._rows) >= self.batch_rows):
            self._send_pending(self._writer)

    def _send_pending(self, writer: WriterProcess) -> None:
        """Hand the appended rows to the writer (one non-blocking write); once writing stopped, they are dropped
        (the run stops before them, and resumes before them)."""
        rows, self._rows = self._rows, []
        if not rows or self._stopped is not None:
            return
        try:
            writer.send(rows)
        except JournalError as exc:
            self._stopped = exc
            raise

    # ------------------------------------------------------------ state and reads

    @property
    def stats(self) -> JournalStats:
        """What was written: the writer's latest report while it runs (or its last, once closed), else the
        in-process database's."""
        if self._writer is not None:
            try:
                self._writer.check()
            except JournalError:
                pass  # append, flush and close raise it
            return self._writer.stats
        return self._stats if self._stats is not None else self._open().stats

    def columns(self, table: str) -> list[str]:
        """The table's columns, in order, as the database has them."""
        return self.physical_columns(self.tables[table])

    def table(self, table: str) -> str:
        """The physical name of logical table `table` (a graph's scans, decisions and trades carry its layout's key)."""
        return self.tables[table]

    def physical_columns(self, table: str) -> list[str]:
        """The columns of a physical table (empty if it does not exist)."""
        if self._writer is not None and table in self._writer.columns:
            return list(self._writer.columns[table])
        if self._writer is not None:
            return [r[0] for r in self.query("SELECT name FROM system.columns WHERE database = {db:String} "
                                             "AND table = {t:String} ORDER BY position", db=self.database, t=table)]
        return list(self._open().physical_columns(table))

    def pending_spill_rows(self) -> int:
        """Rows on disk waiting to be replayed into the database."""
        return self._writer.request("pending") if self._writer is not None else self._open().pending_spill_rows()

    def query(self, sql: str, **parameters: Any) -> list[tuple]:
        """Rows of `sql`; `{db}` is this journal's (checked) database, values are bound as parameters. Sees
        every row appended before it."""
        if self._writer is not None:
            self._send_pending(self._writer)
            return self._writer.request("query", sql, parameters)
        if self._rows and self._stopped is None:
            self.flush()
        return self._open().query(sql, parameters)

    def command(self, sql: str) -> None:
        """Run one statement that returns no rows (`{db}` is this journal's database): maintenance (OPTIMIZE),
        and tests that break the database for real (DETACH TABLE)."""
        if self._writer is not None:
            self._send_pending(self._writer)
            self._writer.request("command", sql)
        else:
            self._open().command(sql)

    def count(self, table: str, run_id: str) -> int:
        """Rows of one run, each key once (FINAL collapses replayed duplicates)."""
        if table not in TABLES:
            raise JournalError(f"unknown journal table '{table}'", where=self.dsn, fix=f"tables: {', '.join(TABLES)}")
        return int(self.query(f"SELECT count() FROM {{db}}.{self.tables[table]} FINAL WHERE run_id = {{r:String}}",
                              r=run_id)[0][0])

    def run_tables(self, run_id: str) -> tuple[str, str, list[str]]:
        """The physical decisions and trades tables of run `run_id` (named by its record layout), and the
        columns holding its lanes' actions (each checked: they are spliced into queries); a run journaled
        before layouts existed is refused."""
        layout, actions = self._run_layout(run_id)
        return (f"decisions_{layout}", f"trades_{layout}",
                [identifier(action, "runs.action_output") for action in actions.split(",")])

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

    # ------------------------------------------------------------ the database in this process

    def _open(self) -> Store:
        """The database opened in this process (no writer runs): DDL applied, spill files replayed."""
        if self._store is None:
            self._store = Store(self.options, self.notice)
        return self._store

    def _columns_now(self) -> dict[str, frozenset[str]]:
        store = self._open()
        self._keys = {t: frozenset(store.physical_columns(p)) for t, p in self.tables.items()}
        return self._keys

    def _close_store(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            store.close()


def _default_spill(dsn: str) -> Path:
    """Beside the embedded engine's directory (`<dir>.spill`); for a server, one directory per host and port."""
    directory = embedded_directory(dsn)
    if directory is not None:
        return directory.with_name(directory.name + ".spill")
    options = server_options(dsn)
    return Path.home() / ".cache" / "violet" / "spill" / f"{options['host']}-{options['port']}"
