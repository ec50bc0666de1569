"""Per-asset feature columns of `violet scans build --feature NAME=KIND:WINDOW` (violet/scans/features.py): the
rolling volatility by hand on a three-asset panel (a late listing, a missing close), read by a graph as a vector
input, and a bad --feature refused with one message."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest

from violet.api import load
from violet.errors import InputError
from violet.scans.build import ScanSettings, build_scans
from violet.scans.features import parse_feature
from violet.scans.panel import Panel
from violet.table_io import input_columns

NAN = math.nan
# bars 0..7; scans are bars 4..7 (fast 2, slow 3: first = slow + 1); score lookback 1
CLOSE = np.array([[100.0, NAN, 1.0], [110.0, NAN, 1.0], [99.0, NAN, 1.0], [108.9, 50.0, 1.0],
                  [98.01, 55.0, 1.0], [107.811, 50.0, 1.0], [97.0299, 60.0, NAN], [106.73289, 60.0, 1.0]])
PANEL = Panel(CLOSE, np.arange(8, dtype=np.int64) * 3_600_000_000, ["AUSDT", "BUSDT", "CUSDT"], "hand",
              ~np.isnan(CLOSE))


def hand_vol() -> list[list[float]]:
    """The sample std of the two log returns ending at each scan's bar, by hand: asset A alternates x1.1 and
    x0.9; B is listed from bar 3, so its window is full from bar 5; C is flat (0) and has no close at bar 6,
    so it is not tradable on bars 6 and 7 (no close then, or none the bar before): NaN."""
    up, down = math.log(1.1), math.log(0.9)
    a = abs(up - down) / math.sqrt(2)
    return [[a, NAN, 0.0], [a, 2 * up / math.sqrt(2), 0.0],
            [a, abs(math.log(60 / 50) - math.log(50 / 55)) / math.sqrt(2), NAN], [a, math.log(1.2) / math.sqrt(2), NAN]]


def test_rolling_volatility_by_hand_and_read_by_a_graph(tmp_path):
    settings = ScanSettings(fast=2, slow=3, score_lookback=1, features=(parse_feature("vol=rolling_std:2"),))
    scans, universe = build_scans(PANEL, settings)
    got = scans.column("vol").to_pylist()
    for scan, (row, want) in enumerate(zip(got, hand_vol())):
        for asset, (g, w) in enumerate(zip(row, want)):
            assert (math.isnan(g) and math.isnan(w)) or g == pytest.approx(w, rel=1e-12, abs=1e-15), (scan, asset, g, w)
    assert scans.column("tradable").to_pylist()[2] == [True, True, False]
    graph = tmp_path / "g.toml"
    graph.write_text('[graph]\nname = "vol_reader"\n[inputs]\n'
                     'vol = { type = "float64", vector = true, mask = "tradable" }\n'
                     'tradable = { type = "bool", vector = true }\n'
                     '[outputs]\nv = "vol"\n')
    columns, rejected = input_columns(load(graph), scans, "scans", universe)
    assert not rejected.rows and columns["vol"].shape == (4, 3)
    assert columns["vol"][1, 1] == pytest.approx(2 * math.log(1.1) / math.sqrt(2), rel=1e-12)


@pytest.mark.parametrize(("text", "message"), [
    ("vol", "'vol' is not a feature"),
    ("vol=rolling_mean:60", "unknown feature kind 'rolling_mean'"),
    ("vol=rolling_std:1", "window 1 is not 2 to 100,000 bars"),
    ("1vol=rolling_std:60", "'1vol' is not a column name"),
])
def test_a_bad_feature_is_refused_with_one_message(text, message):
    with pytest.raises(InputError, match=message):
        parse_feature(text)


def test_a_feature_named_like_a_scans_column_is_refused():
    settings = ScanSettings(fast=2, slow=3, score_lookback=1, features=(parse_feature("price=rolling_std:2"),))
    with pytest.raises(InputError, match="feature 'price' is named like a column of the scans"):
        build_scans(PANEL, settings)


def test_scans_build_writes_the_feature_column(tmp_path):
    done = subprocess.run([sys.executable, "-m", "violet.cli", "scans", "build", "--generate", "--feature",
                           "vol=rolling_std:60", "--output", str(tmp_path / "s.parquet")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    table = pq.read_table(tmp_path / "s.parquet")
    vol, tradable = np.array(table.column("vol").to_pylist()), np.array(table.column("tradable").to_pylist())
    assert vol.shape == tradable.shape and np.isnan(vol[~tradable]).all() and (vol[tradable & ~np.isnan(vol)] >= 0).all()
    assert np.isfinite(vol[-1][tradable[-1]]).any()
