"""The ClickHouse journal: every scan, decision, order, trade and divergence, off the decision path.

Writes go through clickhouse-connect. The default is the real ClickHouse
engine in process (`chdb:///abs/dir`, one data directory per process); a
server is one setting away (`http://host:8123`). The tool applies `ddl/*.sql`
itself.

`append` only puts a row on a queue: a writer thread batches the rows and
inserts them, so journaling never sits on the decision's critical path. If an
insert fails, the batch is spilled to a local JSON-lines file (fsynced) and
replayed before the next insert, and at the next start: no row is lost. Tables
are ReplacingMergeTree on their natural keys (run, scan, ...), so a row written
twice (replayed after a crash between insert and acknowledgement) counts once
when read with FINAL: none is duplicated.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import clickhouse_connect
import numpy as np

from violet.errors import VioletError

DDL_DIR = Path(__file__).resolve().parents[2] / "ddl"
logging.getLogger("clickhouse_connect").setLevel(logging.CRITICAL)  # failures are counted and reported by the journal
# Insert order within a batch: a scan's `scans` row goes last, so a scans row in the
# database means every other row of that scan is in too (the resume point after a kill).
TABLES = ("runs", "decisions", "orders", "trades", "divergences", "scans")


class JournalError(VioletError):
    """The journal cannot be reached or written, and rows could not be kept safe either."""


def connect(dsn: str) -> Any:
    """A clickhouse-connect client: `chdb:///abs/dir` (embedded) or `http://host:8123` (server)."""
    if dsn.startswith("chdb:"):
        path = Path(urlparse(dsn).path)
        path.mkdir(parents=True, exist_ok=True)
        try:
            return clickhouse_connect.get_client(dsn=f"chdb://{path}")
        except Exception as exc:  # chdb allows one process per data directory
            raise JournalError(f"cannot open the embedded ClickHouse at {path}: {exc}", where=dsn,
                               fix="one process per data directory: stop the other one, or use another directory") from None
    url = urlparse(dsn)
    try:
        return clickhouse_connect.get_client(host=url.hostname or "localhost", port=url.port or 8123,
                                             username=url.username or "default", password=url.password or "",
                                             secure=url.scheme == "https")
    except Exception as exc:
        raise JournalError(f"cannot reach ClickHouse: {exc}", where=dsn, fix="check the address, or use chdb:///dir") from None


def apply_ddl(client: Any, database: str) -> None:
    """Create the database and every table of ddl/*.sql (idempotent)."""
    client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    for path in sorted(DDL_DIR.glob("*.sql")):
        client.command(path.read_text().replace("{db}", database))


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
                 batch_rows: int = 2000, flush_seconds: float = 0.05, client: Any = None) -> None:
        self.dsn = dsn
        self.database = database
        self.spill_dir = Path(spill_dir or _default_spill(dsn))
        self.batch_rows = batch_rows
        self.flush_seconds = flush_seconds
        self.client = client or connect(dsn)
        self.stats = JournalStats()
        self._queue: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        apply_ddl(self.client, database)
        self._columns = {table: self._read_columns(table) for table in TABLES}
        self._warm_up()
        self.spill_dir.mkdir(parents=True, exist_ok=True)
        self.replay_spills()

    # ------------------------------------------------------------ the decision side (cheap)

    def append(self, table: str, row: Mapping[str, Any]) -> None:
        """Queue one row; the writer thread inserts it. Never blocks on the database.

        A row that does not match its table's columns is a bug in the caller, not an
        outage: it is refused here, loudly, instead of being spilled and retried forever.
        """
        columns = self._columns.get(table)
        if columns is None:
            raise JournalError(f"unknown journal table '{table}'", where=self.dsn, fix=f"tables: {', '.join(TABLES)}")
        if set(row) != set(columns):
            missing, extra = sorted(set(columns) - set(row)), sorted(set(row) - set(columns))
            raise JournalError(f"a {table} row must have exactly the table's columns "
                               f"(missing: {', '.join(missing) or '-'}; unknown: {', '.join(extra) or '-'})",
                               where=f"{self.database}.{table}", fix="build rows from the DDL in ddl/")
        self._queue.put((table, dict(row)))

    # ------------------------------------------------------------ the writer side

    def start(self) -> Journal:
        """Start the background writer (batches by size or every flush_seconds)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="violet-journal", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop the writer after writing (or spilling) everything queued."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        self.flush()

    def flush(self) -> None:
        """Write everything queued now, in the caller's thread."""
        self._write(self._drain(block=False))

    def _run(self) -> None:
        while True:
            batch = self._drain(block=True)
            stop = batch.pop("__stop__", None) is not None
            self._write(batch)
            if stop:
                return

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
        with self._lock:
            if batch and not self._replay_locked():
                for table in sorted(batch, key=TABLES.index):
                    self._spill(table, batch[table])
                return
            for table in sorted(batch, key=TABLES.index):
                self._insert_or_spill(table, batch[table])

    def _insert_or_spill(self, table: str, rows: list[dict[str, Any]]) -> None:
        try:
            self._insert(table, rows)
        except Exception as exc:  # any failure of the database: keep the rows on disk
            self.stats.failures += 1
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            self._spill(table, rows)

    def _insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        columns = self._columns[table]
        data = [[_db_value(row.get(c)) for c in columns] for row in rows]
        self.client.insert(f"{self.database}.{table}", data, column_names=columns)
        self.stats.inserted[table] = self.stats.inserted.get(table, 0) + len(rows)

    def _warm_up(self) -> None:
        """The first insert of a process costs ~150 ms in the embedded engine: pay it here, before the
        run, on a scratch in-memory table, not on the writer thread in the middle of the decisions."""
        self.client.command(f"CREATE TABLE IF NOT EXISTS {self.database}._warmup (x Int64) ENGINE = Memory")
        self.client.insert(f"{self.database}._warmup", [[0]], column_names=["x"])

    def _read_columns(self, table: str) -> list[str]:
        result = self.client.query("SELECT name FROM system.columns WHERE database = %(db)s AND table = %(t)s "
                                   "ORDER BY position", parameters={"db": self.database, "t": table})
        return [r[0] for r in result.result_rows]

    # ------------------------------------------------------------ spill files

    def _spill(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Append rows to the table's spill file and fsync, so a crash after this loses nothing."""
        path = self.spill_dir / f"{table}.spill.jsonl"
        with path.open("a") as f:
            for row in rows:
                f.write(json.dumps(row, default=_jsonable) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.stats.spilled_rows += len(rows)

    def replay_spills(self) -> bool:
        """Insert every spilled row; a file is removed only once all its rows are in. True if none remain."""
        with self._lock:
            return self._replay_locked()

    def _replay_locked(self) -> bool:
        for path in sorted(self.spill_dir.glob("*.spill.jsonl")):
            table = path.name.removesuffix(".spill.jsonl")
            rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            try:
                if rows:
                    self._insert(table, rows)
            except Exception as exc:  # still down: keep the file for the next try
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                return False
            path.unlink()
            self.stats.replayed_rows += len(rows)
        return True

    def pending_spill_rows(self) -> int:
        return sum(len(p.read_text().splitlines()) for p in self.spill_dir.glob("*.spill.jsonl"))

    # ------------------------------------------------------------ reading back

    def count(self, table: str, run_id: str) -> int:
        """Rows of one run, each key once (FINAL collapses replayed duplicates)."""
        result = self.client.query(f"SELECT count() FROM {self.database}.{table} FINAL WHERE run_id = %(r)s",
                                   parameters={"r": run_id})
        return int(result.result_rows[0][0])

    def query(self, sql: str, **parameters: Any) -> list[tuple]:
        return self.client.query(sql.replace("{db}", self.database), parameters=parameters).result_rows


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
    if dsn.startswith("chdb:"):
        return Path(urlparse(dsn).path).with_name(Path(urlparse(dsn).path).name + ".spill")
    return Path.home() / ".cache" / "violet" / "spill"
