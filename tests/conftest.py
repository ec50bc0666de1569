"""Shared test setup: one kernel cache per test session, and helpers to build graphs."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# One cache per session: tests compile real kernels, but never reuse a stale one. Set in the first process,
# before pytest-xdist starts its workers, so they share it (its files are written atomically).
os.environ.setdefault("VIOLET_CACHE_DIR", tempfile.mkdtemp(prefix="violet-test-cache-"))

REPO = Path(__file__).resolve().parent.parent
GRAPHS = REPO / "graphs"
SHARED_DATA = REPO.parent / "shared" / "data"


def copy_example(tmp_path: Path, name: str) -> Path:
    """graphs/ copied into tmp_path as laid out (an example beside what it composes), to be edited; the copy
    of example `name`."""
    (tmp_path / "examples").mkdir(exist_ok=True)
    for graph in [*GRAPHS.glob("*.toml"), *(GRAPHS / "examples").glob("*.toml")]:
        (tmp_path / graph.relative_to(GRAPHS)).write_text(graph.read_text())
    return tmp_path / "examples" / f"{name}.toml"


@pytest.fixture
def write_graph(tmp_path: Path):
    """Write a graph file from TOML text and return its path."""

    def write(text: str, name: str = "g.toml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


@pytest.fixture(scope="session")
def chdb_dir(tmp_path_factory) -> Path:
    """The one embedded ClickHouse data directory of this test process (chdb opens one per process);
    tests keep apart by using a database each."""
    return tmp_path_factory.mktemp("chdb") / "db"


@pytest.fixture(scope="session")
def real_scans(tmp_path_factory) -> Path:
    """Scans built once per test process from the shared real panel (the generated universe in a clone
    without it), with the universe table beside them (`scans.universe.parquet`)."""
    from violet.scans.build import build_scans, write_scans
    from violet.scans.panel import default_panel

    path = tmp_path_factory.mktemp("real") / "scans.parquet"
    scans, universe = build_scans(default_panel())
    write_scans(scans, universe, path)
    return path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked `long` (minutes of one core: synthesis, the longest co-simulations, the Dask
    cluster) first, the rest in their order: the workers then share the short ones at the end, instead of one
    starting a long test when the others are done."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)
