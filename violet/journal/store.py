"""One open journal database, written and read synchronously: the core the writer process runs.

A `Store` holds the one connection to the journal (for the embedded engine, the process that has the
directory open), applies the DDL, replays spill files at open, and writes a batch of rows table by
table, spilling a table's rows to disk when the insert fails. It has no thread and no queue: the
writer process (violet/journal/writer_process.py) calls it from its own loop, and a `Journal` that
runs no writer (reports, verification, tests) calls it in the caller's process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from violet.journal.dsn import TABLES, apply_ddl, connect, table_kind
from violet.journal.layout import Layout
from violet.journal.spill import SpillDir

logging.getLogger("clickhouse_connect").setLevel(logging.CRITICAL)  # failures are counted and reported by the journal

Batch = Mapping[str, list[dict[str, Any]]]  # physical table -> rows (dicts keyed by column)


@dataclass
class JournalStats:
    """What the writer did: rows inserted, batches spilled to disk, rows replayed from disk (and left there)."""

    inserted: dict[str, int] = field(default_factory=dict)
    spilled_rows: int = 0
    replayed_rows: int = 0
    failures: int = 0
    last_error: str = ""
    pending_rows: int = 0  # spilled rows still on disk, as of the writer's close


@dataclass(frozen=True)
class StoreOptions:
    """Everything needed to open a store, in any process (plain values: it is sent to the writer process)."""

    dsn: str
    database: str
    spill_dir: Path
    layout: Layout | None = None

    @property
    def tables(self) -> dict[str, str]:
        """Logical table -> physical one: a graph's scans, decisions and trades tables are named by its record layout."""
        return {t: t for t in TABLES} | (self.layout.tables if self.layout is not None else {})


class Store:
    """The journal's database, opened: DDL applied, spill files replayed, columns read once."""

    def __init__(self, options: StoreOptions, notice: Callable[[str], None], warm: bool = False) -> None:
        self.options = options
        self.database = options.database
        self.client = connect(options.dsn)
        self.stats = JournalStats()
        self.spills = SpillDir(options.spill_dir, self.database, notice)
        self._physical: dict[str, list[str]] = {}
        try:
            apply_ddl(self.client, self.database, options.layout)
            for table in options.tables.values():  # read once, at open: a row is checked against these
                self.physical_columns(table)
            if warm:
                self._warm_up()
            self.spills.set_aside_orphans()
            self.replay_spills()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close the connection: the embedded engine's directory is free for another process."""
        self.client.close()

    def physical_columns(self, table: str) -> list[str]:
        """The columns of a physical table (empty if it does not exist), read once."""
        if table not in self._physical:
            self._physical[table] = [r[0] for r in self.query(
                "SELECT name FROM system.columns WHERE database = {db:String} AND table = {t:String} ORDER BY position",
                {"db": self.database, "t": table})]
        return self._physical[table]

    def query(self, sql: str, parameters: Mapping[str, Any]) -> list[tuple]:
        """Rows of `sql`; `{db}` is the (checked) database, values are bound as server-side parameters."""
        return self.client.query(sql.replace("{db}", self.database), parameters=dict(parameters)).result_rows

    def command(self, sql: str) -> None:
        """Run one statement that returns no rows (`{db}` is the database): maintenance, and tests' sabotage."""
        self.client.command(sql.replace("{db}", self.database))

    # ------------------------------------------------------------ writing

    def write(self, batch: Batch) -> None:
        """Insert each table's rows, scans last (a scans row in the database means its scan is whole); a table
        whose insert fails is spilled. Pending spill files go first, and while they cannot, the batch is
        spilled behind them (order kept). JournalError if rows can be neither inserted nor spilled."""
        tables = sorted((t for t in batch if batch[t]), key=_order)
        if not tables:
            return
        if not self.replay_spills():
            for table in tables:
                self._spill(table, batch[table])
            return
        for table in tables:
            try:
                self._insert(table, batch[table])
            except Exception as exc:  # any failure of the database: keep the rows on disk
                self.stats.failures += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                self._spill(table, batch[table])

    def replay_spills(self) -> bool:
        """Insert every spilled row; a file is removed only once all its rows are in. True if none remain."""
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
        """The first insert of a process costs ~150 ms in the embedded engine: pay it at open, before the
        run, on a scratch in-memory table, not in the middle of the decisions."""
        self.client.command(f"CREATE TABLE IF NOT EXISTS {self.database}._warmup (x Int64) ENGINE = Memory")
        self.client.insert(f"{self.database}._warmup", [[0]], column_names=["x"])


def _order(table: str) -> int:
    """Insert order of a physical table: its kind's place in TABLES (scans last)."""
    return TABLES.index(table_kind(table) or "scans")


def _db_value(value: Any) -> Any:
    """A Python value as the database column takes it (bools as 0/1)."""
    return int(value) if isinstance(value, bool) else value
