"""Where the journal is: its address (DSN), the database name, the DDL, and one connection.

A DSN is exactly one of two forms, `chdb:///abs/dir` (the real ClickHouse engine in process, one data
directory per process) or `http(s)://[user:password@]host[:port]` (a server); anything else is refused
with one message before anything is opened (docs/runtime.md). The DDL ships as package data
(violet/journal/ddl/*.sql) plus the tables a graph's record layout generates.
"""

from __future__ import annotations

import fcntl
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import ParseResult, urlparse

import clickhouse_connect

from violet.errors import InputError, VioletError, quote
from violet.files import try_write
from violet.journal.layout import Layout

# Insert order within a batch (and of spill files on replay): a scan's `scans` row goes last, so a scans row in the
# database means every other row of that scan is in too (the resume point after a kill).
TABLES = ("runs", "decisions", "orders", "trades", "divergences", "population", "scans")
GRAPH_TABLES = ("decisions", "trades", "scans")  # per record layout: `decisions_<layout>`, `trades_<layout>`, `scans_<layout>`
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
DSN_FORMS = "chdb:///abs/dir (the embedded engine, three slashes) or http://host:8123 (a server)"


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
    """Create the database, every table of the packaged DDL (violet/journal/ddl/*.sql, read as a package
    resource so an installed wheel has it) and a graph's scans, decisions and trades tables (idempotent);
    `database` is a checked identifier."""
    client.command(f"CREATE DATABASE IF NOT EXISTS {identifier(database, '--database')}")
    ddl = sorted((f for f in resources.files("violet.journal").joinpath("ddl").iterdir() if f.name.endswith(".sql")),
                 key=lambda f: f.name)
    for statement in [f.read_text() for f in ddl] + (layout.ddl() if layout is not None else []):
        client.command(statement.replace("{db}", database))


def table_kind(table: str) -> str | None:
    """The kind of a physical journal table (a name of TABLES), or None for a table that is not the journal's."""
    if table in TABLES:
        return table
    kind, _, key = table.rpartition("_")
    return kind if kind in GRAPH_TABLES and re.fullmatch(r"[0-9a-f]{16}", key) else None


