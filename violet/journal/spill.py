"""Spill files: rows the database would not take, kept whole on disk until they are replayed into it.

One file per spilled batch, written as a hidden temp file, fsynced and renamed: a file at its final name
is always whole. A file that is not (an older writer's, a killed process's temp file) keeps its whole
rows and the rest is set aside in `torn/` and reported, never dropped silently.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from violet.journal.dsn import TABLES, JournalError, table_kind

SPILL_SUFFIX = ".spill.jsonl"
TORN_DIR = "torn"


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


def _jsonable(value: Any) -> Any:
    """numpy scalars and arrays as plain Python, for the spill file (floats keep every bit via repr)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot spill a {type(value).__name__}")
