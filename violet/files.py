"""Paths a user names (graph files, tables, outputs, journals): looked up, tried and shown safely.

A path can be anything a user types, thousands of characters long: the system
refuses to look it up (ENAMETOOLONG, an OSError from `Path.is_file`), and an
error that printed it whole would flood the terminal.
"""

from __future__ import annotations

import tempfile
from importlib import resources
from pathlib import Path

from violet.errors import QUOTE_LIMIT, quote


def is_file(path: Path) -> bool:
    """Path.is_file, where a path the system cannot even look up is no file either."""
    try:
        return path.is_file()
    except OSError:
        return False


def shown(path: Path | str) -> str:
    """A path for the `where` of an error: as it is, or quoted and cut when it is too long to print."""
    text = str(path)
    return text if len(text) <= QUOTE_LIMIT else quote(text)


def try_write(directory: Path) -> None:
    """Create and remove a file in `directory`, raising the OSError that stops it: whether a directory can
    be written is tried, not guessed from its mode bits (root ignores them; a read-only disk does not)."""
    with tempfile.TemporaryFile(dir=directory):
        pass


def packaged_graph(name: str) -> Path:
    """A graph file shipped in the package, found wherever VIOLET is installed: `violet/graphs` is a link to the
    repository's graphs/ (the source of truth) and a wheel holds a copy of it, so the graphs a packaged graph
    composes (`graph = "blue_exit.toml"`, relative to it) are found beside it too."""
    return Path(str(resources.files("violet") / "graphs" / name))
