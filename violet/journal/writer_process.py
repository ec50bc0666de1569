"""The journal's writer process: it owns the database connection; the decision's process only sends it rows.

Why a process: a writer thread shares the GIL with the decision, and its inserts stretched the decision's
p99 latency from 31 us to 2.1 ms (issue 11). The embedded engine allows one process per data directory,
so the writer process is the one that opens it; everything else goes to it through two pipes:

- rows and requests, decision process -> writer: frames (8-byte length, then a pickle), written with
  non-blocking writes. A frame that does not fit in the pipe waits in the sender's outbox for the next
  send, so sending does not block on the database; only a request (a read, a flush, close) waits, and a
  send once the writer is far behind (backpressure, below).
- messages, writer -> decision process: `ready` (the tables' columns), `stats` after every write,
  `stopped` (rows it could neither insert nor spill), `notice` (a warning to show), `reply`.

In the writer, a reader thread drains the rows pipe into a queue of at most `inbox_frames` frames (so the
pipe rarely fills), and the main thread batches rows by size or age and writes them through a `Store`.
Memory is bounded on both sides: when the database is slower than the decisions (a replay at full speed),
the writer's queue fills, then the pipe, then the sender's outbox up to `backlog_bytes`; past that, each
send waits until the writer has taken the outbox (said once, as a notice), so the run goes at the
database's pace instead of holding an ever longer backlog. A request is answered
after every row sent before it is written, so a read sees every row appended before it. The writer
process dying (killed, crashed) closes its pipes: the next send or request in the decision's process
raises a JournalError instead of running on unjournaled. End of input (the decision's process gone)
makes the writer write what it received and exit.
"""

from __future__ import annotations

import contextlib
from collections import deque
import fcntl
import os
import pickle
import queue
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from violet.errors import VioletError
from violet.journal.dsn import JournalError
from violet.journal.store import JournalStats, Store, StoreOptions

HEADER = struct.Struct("!Q")
PIPE_BYTES = 1 << 20  # ask Linux for a 1 MiB pipe: a slow insert leaves room for many scans before the outbox grows
BACKLOG_BYTES = 64 << 20  # the sender's outbox beyond which a send waits for the writer
INBOX_FRAMES = 64  # frames the writer's reader takes from the pipe ahead of its writes
WRITER_NICE = 5  # the writer yields the CPU to the decision when both want it
RESUME_FIX = "run the same replay again with the same --run-id: it resumes after the last scan journaled"


class WriterProcess:
    """The decision side's handle on a running writer process.

    The writer is a fresh interpreter (`python -m violet.journal.writer_process`, exec'd: chdb is not
    fork-safe, and unlike multiprocessing's spawn it does not re-import the caller's main module, which
    took seconds for a script that imports numba); the two pipes are passed as its file descriptors and
    its settings are the first frame it reads."""

    def __init__(self, options: StoreOptions, batch_rows: int, flush_seconds: float,
                 notice: Callable[[str], None], backlog_bytes: int = BACKLOG_BYTES,
                 inbox_frames: int = INBOX_FRAMES) -> None:
        self.where = options.dsn
        self.notice = notice
        self.backlog_bytes = backlog_bytes
        self.backlog = 0  # bytes in the outbox
        self.waited = 0  # sends that waited for the writer (backpressure)
        self.stats = JournalStats()
        self.stopped: JournalError | None = None  # why the writer stopped or died, once it has
        self._gone: JournalError | None = None  # set once the writer process is found dead
        self._outbox: deque[memoryview] = deque()
        self._enqueue((options, batch_rows, flush_seconds))
        self._requests = 0
        self._ready = False
        rows_in, self._fd = os.pipe()
        messages_in, messages_out = os.pipe()
        package_root = str(Path(__file__).resolve().parents[2])  # this violet, whatever the caller's sys.path
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        try:
            self.process = subprocess.Popen([sys.executable, "-m", "violet.journal.writer_process", str(rows_in),
                                             str(messages_out), str(inbox_frames)], pass_fds=(rows_in, messages_out),
                                            stdin=subprocess.DEVNULL, env=env)
        finally:
            os.close(rows_in)  # only the writer holds the read end: if it dies, a write here fails (EPIPE)
            os.close(messages_out)  # ... and a read here ends (EOF)
        self._messages = Connection(messages_in, writable=False)
        self._readable = select.poll()  # one poll object: Connection.poll builds a selector per call (~50 us)
        self._readable.register(messages_in, select.POLLIN)
        os.set_blocking(self._fd, False)
        with contextlib.suppress(OSError):
            fcntl.fcntl(self._fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        self._push(block=True)
        self.columns: dict[str, list[str]] = self._until_ready()
        self._ready = True

    @property
    def pid(self) -> int:
        return self.process.pid

    # ------------------------------------------------------------ the decision side

    def send(self, rows: list[tuple[str, dict[str, Any]]]) -> None:
        """Hand rows (physical table, row) to the writer without waiting for it, unless it is more than
        `backlog_bytes` behind (then wait until it has taken them); raise if it stopped or died."""
        self.check()
        self._enqueue(("rows", rows))
        behind = self.backlog > self.backlog_bytes
        if behind and not self.waited:
            self.notice(f"the journal writer is more than {self.backlog_bytes / (1 << 20):.3g} MiB behind the decisions: "
                        "each scan now waits for it (the run goes at the database's pace, its memory bounded)")
        self.waited += behind
        self._push(block=behind)

    def check(self) -> None:
        """Take the writer's messages (never waits); raise if it stopped or died."""
        while self.stopped is None and self._poll():
            self._handle(self._receive())
        if self.stopped is not None:
            raise self.stopped

    def request(self, name: str, *args: Any) -> Any:
        """Ask the writer (`query`, `command`, `flush`, `pending`, `close`) once every row sent is written;
        wait for its answer. Works after the writer stopped (it still reads); raises if it died."""
        if self.process.poll() is not None:
            raise self._died()
        self._requests += 1
        self._enqueue(("request", self._requests, name, args))
        self._push(block=True)
        while True:
            message = self._receive()
            if message[0] == "reply" and message[1] == self._requests:
                ok, value = message[2], message[3]
                if not ok:
                    raise _rebuild(value)
                return value
            self._handle(message)

    def close(self) -> None:
        """Write everything sent, stop the writer and wait for it to exit; raise if it stopped or died."""
        try:
            if self.process.poll() is None:
                self.stats = self.request("close")
        finally:
            self.process.wait()
            os.close(self._fd)
            self._messages.close()
        if self.stopped is not None:
            raise self.stopped
        if self.process.returncode != 0:
            raise self._died()

    # ------------------------------------------------------------ plumbing

    def _until_ready(self) -> dict[str, list[str]]:
        while True:
            message = self._receive()
            if message[0] == "ready":
                return message[1]
            if message[0] == "failed":
                self.process.wait()
                raise _rebuild(message[1])
            self._handle(message)

    def _handle(self, message: tuple) -> None:
        kind = message[0]
        if kind == "stats":
            self.stats = message[1]
        elif kind == "notice":
            self.notice(message[1])
        elif kind == "stopped":
            self.stopped = _rebuild(message[1])

    def _poll(self) -> bool:
        """A message (or the end of the pipe) is waiting: never blocks."""
        return bool(self._readable.poll(0))

    def _receive(self) -> tuple:
        try:
            return self._messages.recv()
        except (EOFError, OSError):
            raise self._died() from None

    def _enqueue(self, message: tuple) -> None:
        frame = memoryview(_frame(message))
        self._outbox.append(frame)
        self.backlog += len(frame)

    def _push(self, block: bool) -> None:
        """Write the outbox into the pipe: as much as fits now, or all of it when `block` (taking the writer's
        messages meanwhile, so neither side waits on the other). Frames are kept apart, so a backlog is never
        copied to shorten it."""
        while self._outbox:
            try:
                written = os.write(self._fd, self._outbox[0])
            except BlockingIOError:
                if not block:
                    return
                readable, _, _ = select.select([self._messages], [self._fd], [])
                if readable:
                    self._handle(self._receive())
                continue
            except OSError:  # EPIPE: nobody reads any more
                raise self._died() from None
            head = self._outbox[0]
            self.backlog -= written
            if written == len(head):
                self._outbox.popleft()
            else:
                self._outbox[0] = head[written:]

    def _died(self) -> JournalError:
        """The writer process is gone: the run must stop, not go on deciding what it cannot journal."""
        if self._gone is not None:
            return self._gone
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        code = self.process.returncode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        self._gone = (JournalError(f"the journal writer process (pid {self.process.pid}) is gone ({how}): rows "
                                   "appended since its last write are not journaled", where=self.where, fix=RESUME_FIX)
                      if self._ready else
                      JournalError(f"the journal writer process (pid {self.process.pid}) ended before it was ready "
                                   f"({how})", where=self.where, fix="see its error above; nothing was journaled"))
        self.stopped = self.stopped or self._gone
        return self._gone


# ------------------------------------------------------------------ the writer process itself

def serve(rows_fd: int, messages: Connection, inbox_frames: int) -> None:
    """The writer process's main: read its settings, open the store, then write what arrives until `close`
    or end of input."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the decision side decides, then closes
    with contextlib.suppress(OSError):
        os.nice(WRITER_NICE)
    inbox = _reader(rows_fd, inbox_frames)
    settings = inbox.get()
    if settings is None:  # the decision's process was gone before it could send them
        return
    options, batch_rows, flush_seconds = settings
    try:
        store = Store(options, notice=lambda text: _tell(messages, ("notice", text)), warm=True)
    except Exception as exc:
        _tell(messages, ("failed", _portable(exc)))
        return
    _tell(messages, ("ready", {t: store.physical_columns(t) for t in options.tables.values()}))
    try:
        _Writer(store, messages, batch_rows, flush_seconds).run(inbox)
    finally:
        store.close()


class _Writer:
    """The writer's loop: batch rows by size or age, write them, answer requests in order."""

    def __init__(self, store: Store, messages: Connection, batch_rows: int, flush_seconds: float) -> None:
        self.store = store
        self.messages = messages
        self.batch_rows = batch_rows
        self.flush_seconds = flush_seconds
        self.batch: dict[str, list[dict[str, Any]]] = {}
        self.count = 0
        self.stopped: JournalError | None = None

    def run(self, inbox: queue.Queue) -> None:
        deadline = None
        while True:
            try:
                item = inbox.get(timeout=None if deadline is None else max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                item = ("flush-due",)
            if item is None:  # the decision's process is gone: keep what it sent
                self.write()
                return
            if item[0] == "unreadable":
                self.stop(JournalError(f"the journal writer could not read rows it was sent: {item[1]}",
                                       where=self.store.options.dsn, fix=f"report this; then {RESUME_FIX}"))
                continue
            if item[0] == "rows":
                for table, row in item[1]:
                    self.batch.setdefault(table, []).append(row)
                self.count += len(item[1])
                deadline = deadline or time.monotonic() + self.flush_seconds
                if self.count < self.batch_rows and time.monotonic() < deadline:
                    continue
            self.write()
            deadline = None
            if item[0] == "request" and self.answer(*item[1:]):
                return

    def write(self) -> None:
        batch, self.batch, self.count = self.batch, {}, 0
        if not batch or self.stopped is not None:  # once stopped, rows are refused: the decision side raises
            return
        try:
            self.store.write(batch)
        except JournalError as exc:  # rows that could be neither inserted nor kept: the journal stops here
            self.stop(exc)
        except Exception as exc:  # a bug; still, the run must stop rather than go on unjournaled
            self.stop(JournalError(f"the journal writer stopped: {type(exc).__name__}: {exc}",
                                   where=self.store.options.dsn, fix=f"report this; then {RESUME_FIX}"))
        _tell(self.messages, ("stats", self.store.stats))

    def stop(self, why: JournalError) -> None:
        """Refuse every later row, and tell the decision side (its next append raises)."""
        self.stopped = self.stopped or why
        _tell(self.messages, ("stopped", _portable(self.stopped)))

    def final_stats(self) -> JournalStats:
        """The stats at close, with the spilled rows still on disk: the caller need not open the database to ask."""
        self.store.stats.pending_rows = self.store.pending_spill_rows()
        return self.store.stats

    def answer(self, number: int, name: str, args: tuple) -> bool:
        """Answer one request; True when it was `close`."""
        calls: dict[str, Callable[..., Any]] = {"query": self.store.query, "command": self.store.command,
                                                 "pending": self.store.pending_spill_rows,
                                                 "flush": lambda: None, "close": self.final_stats}
        try:
            reply = (True, calls[name](*args))
        except Exception as exc:
            reply = (False, _portable(exc))
        _tell(self.messages, ("reply", number, *reply))
        return name == "close"


def _tell(messages: Connection, message: tuple) -> None:
    """Send the decision side a message; if it is gone, there is no one to tell (its rows are still written)."""
    with contextlib.suppress(OSError):
        messages.send(message)


def _reader(fd: int, frames: int) -> queue.Queue:
    """A thread that moves frames from the rows pipe into a queue of at most `frames` as they arrive (when
    it is full, the thread waits and the pipe fills); None at end of input."""
    inbox: queue.Queue = queue.Queue(maxsize=frames)

    def pump() -> None:
        while (head := _read_exactly(fd, HEADER.size)) is not None:
            body = _read_exactly(fd, HEADER.unpack(head)[0])
            if body is None:
                break
            try:
                inbox.put(pickle.loads(body))
            except Exception as exc:  # a frame is whole but not readable here: the run must stop, not hang
                inbox.put(("unreadable", f"{type(exc).__name__}: {exc}"))
        inbox.put(None)

    threading.Thread(target=pump, name="violet-journal-reader", daemon=True).start()
    return inbox


def _read_exactly(fd: int, n: int) -> bytes | None:
    """n bytes from `fd`, or None at end of input (a frame cut short by a dying sender is dropped)."""
    parts, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _frame(message: tuple) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(body)) + body


def _portable(exc: BaseException) -> Any:
    """An exception as it crosses the process boundary: a VioletError by its parts (its pickle would fold
    where and fix into the message), anything else itself if it pickles, else its text."""
    if isinstance(exc, VioletError):
        return (type(exc), exc.what, exc.where, exc.fix)
    try:
        pickle.dumps(exc)
        return exc
    except Exception:
        return JournalError(f"{type(exc).__name__}: {exc}")


def _rebuild(value: Any) -> BaseException:
    if isinstance(value, tuple):
        cls, what, where, fix = value
        return cls(what, where=where, fix=fix)
    return value


if __name__ == "__main__":
    serve(int(sys.argv[1]), Connection(int(sys.argv[2]), readable=False), int(sys.argv[3]))
