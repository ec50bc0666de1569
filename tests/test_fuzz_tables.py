"""Fuzzing that stays: hostile scan tables through `violet run` and the replay source.

A valid scans table (and its universe) is corrupted at random: a column retyped (strings, uint64,
floats for ints, int64 beyond 2**53), nulls, NaN/inf/zero/negative prices, vectors of other lengths,
a universe of another size, rows repeated, swapped or reversed, columns dropped, bytes flipped.
Whatever the corruption: exit 0 or exit 2 with one message, never a traceback or a crash; when
`violet run` accepts a table, it writes one row per input row; the replay source refuses unordered
scan ids before anything runs. `VIOLET_FUZZ_EXAMPLES` raises the count (docs/fuzzing.md).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from conftest import GRAPHS
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_errors import violet
from test_runtime import write_scans

from violet.api import load
from violet.errors import VioletError
from violet.runtime.source import source_from_tables

EXAMPLES = int(os.environ.get("VIOLET_FUZZ_EXAMPLES", "60"))
DECISION = GRAPHS / "blue_decision.toml"
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
HOSTILE_FLOATS = [np.nan, np.inf, -np.inf, 0.0, -0.0, -1.0, 5e-324, 1.7976931348623157e308]


def base_tables(tmp: Path) -> tuple[pa.Table, pa.Table]:
    path = write_scans(tmp / "base.parquet", n_scans=24, n_assets=5)
    return pq.read_table(path), pq.read_table(path.with_name("base.universe.parquet"))


def _replace(table: pa.Table, name: str, column: pa.Array | list) -> pa.Table:
    return table.set_column(table.column_names.index(name), name, pa.array(column) if isinstance(column, list)
                            else column)


@st.composite
def corruption(draw, scans: pa.Table, universe: pa.Table) -> tuple[pa.Table, pa.Table, str]:
    """One random corruption of the scans or the universe, and what it was."""
    lists = [c for c in ("price", "score") if c in scans.column_names and pa.types.is_list(scans.schema.field(c).type)
             and None not in scans.column(c).to_pylist()]
    kinds = ["retype", "null", "universe", "order", "drop"] + (["price", "length"] if lists else []) + \
        (["big_int"] if "ts_us" in scans.column_names else [])
    kind = draw(st.sampled_from(kinds))
    name = draw(st.sampled_from(scans.column_names))
    row = draw(st.integers(0, scans.num_rows - 1))
    values = scans.column(name).to_pylist()
    if kind == "retype":
        target = draw(st.sampled_from(["string", "uint64", "float", "bool"]))
        converted = {"string": [str(v) for v in values], "bool": [bool(v) for v in values],
                     "float": [float(v) if isinstance(v, (int, float)) else 1.5 for v in values],
                     "uint64": pa.array([abs(hash(str(v))) % 2**64 for v in values], pa.uint64())}[target]
        return _replace(scans, name, converted), universe, f"{name} as {target}"
    if kind == "null":
        values[row] = None
        return _replace(scans, name, values), universe, f"null {name} at {row}"
    if kind == "price":
        which = draw(st.sampled_from(lists))
        vectors = scans.column(which).to_pylist()
        if vectors[row]:
            vectors[row][draw(st.integers(0, len(vectors[row]) - 1))] = draw(st.sampled_from(HOSTILE_FLOATS))
        return _replace(scans, which, vectors), universe, f"hostile {which} at {row}"
    if kind == "length":
        which = draw(st.sampled_from(lists))
        vectors = scans.column(which).to_pylist()
        vectors[row] = vectors[row][:draw(st.integers(0, 4))] + [1.0] * draw(st.integers(0, 3))
        return _replace(scans, which, vectors), universe, f"{which} length at {row}"
    if kind == "universe":
        n = draw(st.integers(0, 8))
        return scans, pa.table({c: (universe.column(c).to_pylist() * 3)[:n] for c in universe.column_names}), \
            f"universe of {n}"
    if kind == "order":
        order = draw(st.permutations(range(scans.num_rows)))
        return scans.take(pa.array(order)), universe, "rows reordered"
    if kind == "drop":
        return scans.drop_columns([name]), universe, f"no {name}"
    values = scans.column("ts_us").to_pylist()
    values[row] = draw(st.sampled_from([2**53 + 1, 2**63 - 1, -(2**63)]))
    if not pa.types.is_integer(scans.schema.field("ts_us").type):
        values = [str(v) for v in values]
    return _replace(scans, "ts_us", values), universe, f"extreme ts_us at {row}"


@st.composite
def hostile_tables(draw, base: tuple[pa.Table, pa.Table]) -> tuple[pa.Table, pa.Table, list[str]]:
    scans, universe = base
    what = []
    for _ in range(draw(st.integers(1, 3))):
        scans, universe, done = draw(corruption(scans, universe))
        what.append(done)
    return scans, universe, what


BASE = base_tables(Path(tempfile.mkdtemp(prefix="violet-fuzz-tables-")))


@FUZZ
@given(hostile_tables(BASE))
def test_run_refuses_or_computes_a_hostile_table(capsys, tmp_path_factory, case):
    scans, universe, what = case
    tmp = tmp_path_factory.mktemp("run")
    pq.write_table(scans, tmp / "scans.parquet")
    pq.write_table(universe, tmp / "scans.universe.parquet")
    code, err = violet(capsys, "run", DECISION, "--input", tmp / "scans.parquet", "--output", tmp / "out.parquet")
    event(f"exit {code}")
    assert code in (0, 2), (what, err)
    if code == 2:
        assert err.startswith("error: ") and len(err) < 1500, (what, err)
    else:
        assert pq.read_table(tmp / "out.parquet").num_rows == scans.num_rows, what


@FUZZ
@given(hostile_tables(BASE))
def test_the_replay_source_refuses_or_orders_a_hostile_table(case):
    """The reactor's boundary: a refused table raises a VioletError; an accepted one has strictly
    increasing scan ids, and every scan is either accepted with its inputs or carries its rejection."""
    scans, universe, what = case
    try:
        source = source_from_tables(load(DECISION), scans, universe)
    except VioletError as exc:
        assert len(str(exc)) < 1500, (what, str(exc))
        return
    ids = [e.scan_id for e in source.events if hasattr(e, "scan_id")]
    assert ids == sorted(set(ids)), what
    assert all((e.inputs is None) == bool(e.rejected) for e in source.events), what


@settings(FUZZ, max_examples=max(10, EXAMPLES // 3))
@given(st.data())
def test_byte_flipped_tables_are_refused_or_read(capsys, tmp_path_factory, data):
    tmp = tmp_path_factory.mktemp("flip")
    pq.write_table(BASE[0], tmp / "scans.parquet")
    pq.write_table(BASE[1], tmp / "scans.universe.parquet")
    target = tmp / data.draw(st.sampled_from(["scans.parquet", "scans.universe.parquet"]))
    raw = bytearray(target.read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    target.write_bytes(bytes(raw))
    code, err = violet(capsys, "run", DECISION, "--input", tmp / "scans.parquet", "--output", tmp / "out.parquet")
    assert code in (0, 2), err
