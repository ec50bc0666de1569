"""Where a run's rows go: the journal, if there is one, minus the rows an earlier process already journaled.

The reactor and the execution driver both write rows of the same run (decisions, scans, trades; orders);
both are given this one object when they are built, so neither is patched after construction and the
resume rule (a scan below `resume_after` was journaled whole by an earlier process) is written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from violet.journal.writer import Journal


@dataclass(frozen=True)
class RunJournal:
    """A run's journal rows: queued to `journal` (None: a run journaling nothing) unless already journaled."""

    journal: Journal | None = None
    run_id: str = ""
    resume_after: int = -1  # scans with scan_id < this were journaled by an earlier process

    def replayed(self, scan_id: int) -> bool:
        """Whether scan `scan_id`'s rows were journaled by an earlier process (a resumed run)."""
        return scan_id < self.resume_after

    def writes(self, replayed: bool) -> bool:
        """Whether a row of a scan so marked goes anywhere: a journal, and a scan no earlier process journaled."""
        return self.journal is not None and not replayed

    def append(self, replayed: bool, table: str, row: dict[str, Any]) -> None:
        """Queue one row, unless it belongs to a scan an earlier process journaled."""
        if self.writes(replayed):
            self.journal.append(table, row)

    def order(self, row: dict[str, Any]) -> None:
        """One orders row from the execution driver (its `record`)."""
        self.append(self.replayed(row["scan_id"]), "orders", {"run_id": self.run_id, **row})
