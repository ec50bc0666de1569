"""V-TYPES at the boundary: a poisoned scan is rejected whole, named by scan_id and field, and never reaches the graph."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import GRAPHS
from hypothesis import given, settings
from hypothesis import strategies as st

from violet.compile.lower import lower
from violet.compile.numba_backend import compile_ir
from violet.dag.graph import load_graph
from violet.errors import InputError
from violet.table_io import input_columns

N_ASSETS = 4
FACTORS = ("acb_boost", "acb_beta", "mc_scale", "ob_mult", "esof_score", "capital", "vel_div")


@pytest.fixture(scope="module")
def ir():
    return lower(load_graph(GRAPHS / "blue_decision.toml"))


def clean_scans(n: int) -> dict[str, list]:
    return {"scan_id": list(range(100, 100 + n)), "ts_us": list(range(n)), "vel_div": [-0.03] * n,
            "price": [[1.0 + k for k in range(N_ASSETS)] for _ in range(n)], "score": [[0.0] * N_ASSETS] * n,
            "acb_boost": [1.0] * n, "acb_beta": [0.0] * n, "mc_scale": [1.0] * n, "ob_mult": [1.0] * n,
            "esof_score": [0.0] * n, "dc_status": ["NEUTRAL"] * n, "posture": ["APEX"] * n, "capital": [1e4] * n}


UNIVERSE = pa.table({"symbol": ["A", "B", "C", "D"], "stable": [False] * 4, "exchange_max_leverage": [20] * 4})

poisons = st.one_of(
    st.tuples(st.just("price"), st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -1.0, -5e-324])),
    st.tuples(st.just("score"), st.sampled_from([math.nan, math.inf, -math.inf])),
    st.tuples(st.sampled_from(FACTORS), st.sampled_from([math.nan, math.inf, -math.inf])),
    st.tuples(st.sampled_from(["acb_boost", "acb_beta", "mc_scale", "ob_mult", "capital"]), st.sampled_from([-1.0, -1e-300])),
    st.tuples(st.sampled_from(["dc_status", "posture"]), st.sampled_from(["", "confirm", "PANIC", "APEX "])),
)


@settings(max_examples=80, deadline=None)
@given(st.integers(3, 30), st.data())
def test_poisoned_scans_are_rejected_whole_and_named(ir, n, data):
    scans = clean_scans(n)
    bad = data.draw(st.dictionaries(st.integers(0, n - 1), poisons, max_size=n))
    for row, (field, value) in bad.items():
        if field in ("price", "score"):
            asset = data.draw(st.integers(0, N_ASSETS - 1))
            scans[field][row] = [value if k == asset else x for k, x in enumerate(scans[field][row])]
        else:
            scans[field][row] = value
    columns, rejected = input_columns(ir, pa.table(scans), "scans", UNIVERSE, skip_bad=True)
    assert rejected.rows == sorted(bad)  # exactly the poisoned scans, whole
    for row, (field, _) in bad.items():
        assert rejected.reasons[row].startswith(f"scan_id {100 + row}, field {field}")
    kept = [r for r in range(n) if r not in bad]
    assert columns["scan_id"].tolist() == [100 + r for r in kept]  # what reaches the graph: only clean scans
    assert np.isfinite(columns["price"]).all() and (columns["price"] > 0).all()


def test_a_bad_universe_refuses_the_run(ir):
    bad = pa.table({"symbol": ["A", "B", "C", "D"], "stable": [False] * 4, "exchange_max_leverage": [20, 0, 20, 20]})
    with pytest.raises(Exception, match=r"row 1, field exchange_max_leverage: is 0, must be >= 1"):
        input_columns(ir, pa.table(clean_scans(3)), "scans", bad, skip_bad=True)


# ------------------------------------------------------------ vector lengths (the kernels read N values of every vector)

VEC_GRAPH = """[graph]
name = "vec"
[inputs]
a = { type = "int64", vector = true }
b = { type = "int64", vector = true }
[outputs]
s = "a + b"
"""


def lowered(tmp_path_factory, text: str):
    """The IR of a graph file written from `text` in a fresh directory."""
    path = tmp_path_factory.mktemp("graph") / "g.toml"
    path.write_text(text)
    return lower(load_graph(path))


@pytest.fixture(scope="module")
def vec_ir(tmp_path_factory):
    return lowered(tmp_path_factory, VEC_GRAPH)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=6))
def test_vectors_of_one_row_or_of_different_rows_must_have_one_length(vec_ir, lengths):
    """N is a's length in row 0 (a is the first vector by name); any list of another length is refused, named."""
    table = pa.table({"a": [list(range(1, na + 1)) for na, _ in lengths],
                      "b": [[10 * k for k in range(1, nb + 1)] for _, nb in lengths]})
    n = lengths[0][0]
    columns, rejected = input_columns(vec_ir, table, "t", skip_bad=True)
    wrong = [r for r, (na, nb) in enumerate(lengths) if na != n or nb != n]
    assert rejected.rows == wrong
    for r in wrong:
        field, got = ("a", lengths[r][0]) if lengths[r][0] != n else ("b", lengths[r][1])
        assert rejected.reasons[r] == f"field {field}: has {got} values, but a has {n} values in row 0"
    kept = [r for r in range(len(lengths)) if r not in wrong]
    assert columns["a"].shape == (len(kept), n)
    assert columns["b"].tolist() == [[10 * k for k in range(1, n + 1)]] * len(kept)


def test_a_longer_vector_is_refused_with_its_row_and_column_not_read_past_its_end(vec_ir):
    table = pa.table({"a": [[1, 2, 3, 4, 5]], "b": [[10, 20, 30]]})
    with pytest.raises(InputError, match=r"row 0, field b: has 3 values, but a has 5 values in row 0"):
        input_columns(vec_ir, table, "t")


def test_a_null_vector_is_a_bad_row():
    ir = lower(load_graph(GRAPHS / "blue_decision.toml"))
    scans = clean_scans(3)
    scans["score"][1] = None
    _, rejected = input_columns(ir, pa.table(scans), "scans", UNIVERSE, skip_bad=True)
    assert rejected.rows == [1] and rejected.reasons[1] == "scan_id 101, field score: is empty (null)"


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 7), st.lists(st.integers(0, 7), min_size=1, max_size=5))
def test_every_vector_is_as_long_as_the_universe(ir, universe_size, price_lengths):
    scans = clean_scans(len(price_lengths))
    scans["price"] = [[1.0 + k for k in range(n)] for n in price_lengths]
    scans["score"] = [[0.0] * universe_size] * len(price_lengths)
    universe = pa.table({"symbol": [f"S{k}" for k in range(universe_size)], "stable": [False] * universe_size,
                         "exchange_max_leverage": [20] * universe_size})
    columns, rejected = input_columns(ir, pa.table(scans), "scans", universe, skip_bad=True)
    wrong = [r for r, n in enumerate(price_lengths) if n != universe_size]
    assert rejected.rows == wrong
    assert all(rejected.reasons[r] == f"scan_id {100 + r}, field price: has {price_lengths[r]} values, "
               f"but the universe table has {universe_size} assets" for r in wrong)
    assert columns["price"].shape == (len(price_lengths) - len(wrong), universe_size)


def test_blue_decision_with_a_3_asset_universe_and_8_asset_scans_is_refused(tmp_path):
    """The case that selected assets 3 and 5, outside the universe, and exited 0."""
    scans = clean_scans(4)
    scans["price"] = [[1.0 + k for k in range(8)]] * 4
    scans["score"] = [[0.0, 0.0, 0.0, 0.5, 0.0, 0.9, 0.0, 0.0]] * 4
    pq.write_table(pa.table(scans), tmp_path / "scans.parquet")
    pq.write_table(pa.table({"symbol": ["A", "B", "C"], "stable": [False] * 3, "exchange_max_leverage": [20] * 3}),
                   tmp_path / "scans.universe.parquet")
    done = subprocess.run([sys.executable, "-m", "violet.cli", "run", str(GRAPHS / "blue_decision.toml"), "--input",
                           str(tmp_path / "scans.parquet"), "--output", str(tmp_path / "out.parquet")],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "row 0, scan_id 100, field price: has 8 values, but the universe table has 3 assets" in done.stderr
    assert not (tmp_path / "out.parquet").exists()


@pytest.fixture(scope="module")
def vec_kernels(vec_ir):
    return compile_ir(vec_ir)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 6), st.integers(0, 6), st.integers(1, 4), st.integers(1, 4))
def test_compiled_entry_points_never_read_past_an_array(vec_kernels, na, nb, ta, tb):
    """step, trace and batch take N (and T) from the inputs themselves: disagreeing shapes are refused."""
    a, b = np.arange(1, na + 1), 10 * np.arange(1, nb + 1)
    if na == nb:
        assert vec_kernels.step({"a": a, "b": b})["s"].tolist() == (a + b).tolist()
        assert vec_kernels.trace({"a": a, "b": b})[-1] == (a + b).tolist()
    else:
        for call in (lambda: vec_kernels.step({"a": a, "b": b}), lambda: vec_kernels.trace({"a": a, "b": b})):
            with pytest.raises(InputError, match=f"inputs disagree on the number of values per vector: a {na}, b {nb}"):
                call()
    rows_a, rows_b = np.tile(a, (ta, 1)), np.tile(10 * np.arange(1, na + 1), (tb, 1))
    if ta == tb:
        assert vec_kernels.batch({"a": rows_a, "b": rows_b})["s"].tolist() == (rows_a + rows_b).tolist()
    else:
        with pytest.raises(InputError, match=f"inputs disagree on the number of rows: a {ta}, b {tb}"):
            vec_kernels.batch({"a": rows_a, "b": rows_b})


# ------------------------------------------------------------ numbers a type cannot hold exactly

NUM_GRAPH = """[graph]
name = "num"
[inputs]
x = { type = "float64" }
i = { type = "int64", le = 1e18 }
[outputs]
y = "x"
j = "i"
"""


@pytest.fixture(scope="module")
def num_ir(tmp_path_factory):
    return lowered(tmp_path_factory, NUM_GRAPH)


def test_an_int64_bound_written_as_a_float_is_compared_in_int64(num_ir):
    """le = 1e18 is 10**18: 10**18 + 1 breaks it (through float64 the two are equal)."""
    table = pa.table({"x": [0.0, 0.0, 0.0], "i": [10**18 - 1, 10**18, 10**18 + 1]})
    _, rejected = input_columns(num_ir, table, "t", skip_bad=True)
    assert rejected.rows == [2] and rejected.reasons[2] == "field i: is 1000000000000000001, must be <= 1000000000000000000"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=8))
def test_an_integer_column_read_as_float64_must_be_exact(num_ir, ints):
    """Every int64 up to 2**53 is a float64; above, only those float64 holds exactly pass."""
    table = pa.table({"x": pa.array(ints, pa.int64()), "i": [0] * len(ints)})
    columns, rejected = input_columns(num_ir, table, "t", skip_bad=True)
    inexact = [r for r, v in enumerate(ints) if float(v) != v]
    assert rejected.rows == inexact
    assert all(rejected.reasons[r].startswith(f"field x: is {ints[r]}, which has no exact float64 value") for r in inexact)
    assert columns["x"].tolist() == [float(v) for r, v in enumerate(ints) if r not in inexact]


def test_2_to_the_53_plus_1_is_refused_as_a_float64():
    ir = lower(load_graph(GRAPHS / "blue_sizing.toml"))
    row = {"vel_div": -0.04, "acb_boost": 1.0, "acb_beta": 0.5, "mc_scale": 1.0, "ob_mult": 1.0, "esof_score": 0.0,
           "dc_status": "NEUTRAL", "posture": "APEX", "exchange_max_leverage": 20}
    table = pa.table({**{k: [v, v] for k, v in row.items()}, "capital": pa.array([2**53, 2**53 + 1], pa.int64())})
    with pytest.raises(InputError, match=r"row 1, field capital: is 9007199254740993, which has no exact float64 "
                                         r"value \(nearest: 9007199254740992.0\)"):
        input_columns(ir, table, "t")


def test_uint64_values_above_int64_are_refused_per_row(num_ir):
    table = pa.table({"x": [0.0, 0.0, 0.0], "i": pa.array([5, 2**63, 2**64 - 1], pa.uint64())})
    columns, rejected = input_columns(num_ir, table, "t", skip_bad=True)
    assert rejected.rows == [1, 2]
    assert rejected.reasons[1] == "field i: is 9223372036854775808, outside int64"
    assert columns["i"].tolist() == [5]
