"""Errors written for people.

Every failure a user can cause (a bad graph file, a node body outside the
subset, a row that breaks an input's type) raises a `VioletError` that names
*where* (file, key or line), *what* is wrong, and *how to fix it*. The CLI
prints `str(err)` and exits with code 2; nothing deeper ever leaks a raw
traceback from networkx, pydantic or tomllib.
"""

from __future__ import annotations


class VioletError(Exception):
    """A user-facing error: where, what, and an optional fix."""

    def __init__(self, what: str, *, where: str = "", fix: str = "") -> None:
        self.what = what
        self.where = where
        self.fix = fix
        super().__init__(self.render())

    def render(self) -> str:
        head = f"{self.where}: {self.what}" if self.where else self.what
        return f"{head}\n  fix: {self.fix}" if self.fix else head


class GraphError(VioletError):
    """The graph file (or a graph it composes) is not a valid graph."""


class NodeSubsetError(VioletError):
    """A node body uses a Python construct outside the documented subset."""


class InputError(VioletError):
    """Input data (a table, a row, a --set value) breaks the graph's types."""


def where(file: str, key: str = "") -> str:
    """Join a file name and a dotted key into the `where` of an error."""
    return f"{file}: {key}" if key else file


QUOTE_LIMIT = 200


def quote(value: object, limit: int = QUOTE_LIMIT) -> str:
    """`repr(value)`, cut to about `limit` characters: an error names a hostile value, never floods with it.

    repr also makes control characters visible, so a newline in a name cannot forge a second message line."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"
