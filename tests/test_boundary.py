"""V-TYPES at the boundary: a poisoned scan is rejected whole, named by scan_id and field, and never reaches the graph."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from conftest import GRAPHS
from hypothesis import given, settings
from hypothesis import strategies as st

from violet.compile.lower import lower
from violet.dag.graph import load_graph
from violet.tools.table_io import input_columns

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
