"""The upstream scan builder: eigenvalues against direct computation, warm-up, real-data hazards, universe."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from violet.errors import InputError
from violet.scans.build import ScanSettings, build_scans, lambda_max, log_returns, scores
from violet.scans.panel import SHARED_PANEL, default_panel, generate_panel
from violet.scans.universe import is_stable, universe_table


def direct_lambda(r: np.ndarray) -> float:
    """The largest eigenvalue of np.corrcoef, flat columns left out (an independent computation)."""
    keep = r.std(axis=0) > 0
    return float(np.linalg.eigvalsh(np.corrcoef(r[:, keep].T))[-1])


def test_gram_trick_equals_the_correlation_matrix_eigenvalue():
    rng = np.random.default_rng(3)
    r = rng.normal(size=(40, 25)) + rng.normal(size=(40, 1))
    r[:, 7] = 0.0  # a flat asset
    lam, n = lambda_max(r, 12)
    for k in (11, 20, 39):
        assert lam[k] == pytest.approx(direct_lambda(r[k - 11:k + 1]), rel=1e-10)
    assert np.isnan(lam[:11]).all() and (n[11:] == 24).all()  # the flat asset is not counted


def test_two_perfectly_correlated_assets_by_hand():
    # assets 0 and 1 move together, asset 2 is orthogonal to both: the correlation matrix is
    # [[1, 1, 0], [1, 1, 0], [0, 0, 1]] whose eigenvalues are 2, 1, 0: lambda_max = 2
    a = np.array([1.0, -1.0, 1.0, -1.0])
    b = np.array([1.0, 1.0, -1.0, -1.0])
    r = np.column_stack([a, 2 * a, b])
    lam, n = lambda_max(r, 4)
    assert lam[3] == pytest.approx(2.0, abs=1e-12) and n[3] == 3


def test_spikes_and_bad_closes_count_as_zero_returns():
    close = np.array([[1.0, 1.0], [np.e ** 1.5, 2.0], [np.e ** 1.5, -3.0]])
    r = log_returns(close, spike=1.0)
    assert r[0, 0] == 0.0 and r[0, 1] == pytest.approx(np.log(2.0))  # 1.5 > spike: an artefact
    assert r[1, 1] == 0.0  # non-positive close


def test_scores_are_relative_to_the_universe_median():
    close = np.array([[1.0, 1.0, 1.0], [2.0, 1.0, 0.5]])
    s = scores(close, lookback=1)
    assert np.isnan(s[0]).all()
    np.testing.assert_allclose(s[1], [np.log(2.0), 0.0, np.log(0.5)])  # the median asset scores 0


def test_warm_up_and_the_first_scan():
    panel = generate_panel(12, 80, seed=1)
    scans, universe = build_scans(panel, ScanSettings(fast=5, slow=20, score_lookback=3))
    assert scans.num_rows == 80 - 21  # first scan: bar slow + 1, both slow windows full
    assert scans.column("ts_us")[0].as_py() == panel.ts_us[21]
    # vel_div of the first scan against an independent computation: tests/test_universe_changes.py
    assert universe.column("stable").to_pylist()[:3] == [True, True, True]


def test_generated_universe_has_what_real_data_has_and_builds_finite_scans():
    panel = generate_panel()
    r = np.diff(np.log(panel.close), axis=0)
    assert (np.abs(r) > 1.0).sum() == 1 and (panel.close[:, 4] == 7.0).all()
    scans, _ = build_scans(panel)
    assert np.isfinite(scans.column("vel_div").to_numpy()).all()
    assert scans.num_rows == panel.close.shape[0] - 151


def test_default_panel_is_the_shared_data_when_present():
    panel = default_panel()
    if SHARED_PANEL.is_file():
        assert panel.close.shape == (4248, 453) and panel.source == str(SHARED_PANEL)
    else:
        assert panel.source.startswith("generated universe")


@pytest.mark.parametrize("symbol, stable", [("USDCUSDT", True), ("FDUSDUSDT", True), ("USDEUSDT", True),
                                            ("BTCUSDT", False), ("TUSDT", False), ("BUSDT", False),
                                            ("1000SHIBUSDT", False), ("DAIUSDT", True)])
def test_stablecoin_rule(symbol, stable):
    assert is_stable(symbol) is stable


def test_leverage_limits_table(tmp_path):
    path = tmp_path / "limits.csv"
    path.write_text("symbol,max_leverage\nBTCUSDT,125\nETHUSDT,100\n")
    table = universe_table(["BTCUSDT", "XUSDT", "ETHUSDT"], path)
    assert table.column("exchange_max_leverage").to_pylist() == [125, 20, 100]


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(3, 8))
def test_lambda_max_is_bounded_by_the_universe_size(seed, n):
    """For any returns, 1 <= lambda_max <= number of non-flat assets (a correlation matrix's trace)."""
    r = np.random.default_rng(seed).normal(size=(30, n))
    lam, count = lambda_max(r, 10)
    assert (lam[9:] >= 1.0 - 1e-9).all() and (lam[9:] <= n + 1e-9).all() and (count[9:] == n).all()


# ------------------------------------------------------------ bad panels and settings are refused, each with one message


def panel_file(path, df: pd.DataFrame):
    df.to_parquet(path)
    return path


def clean_panel(bars: int = 80, symbols: int = 4) -> pd.DataFrame:
    idx = pd.date_range("2024-01-01", periods=bars, freq="h", name="ts")
    close = np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.01, (bars, symbols)), axis=0))
    return pd.DataFrame(close, index=idx, columns=[f"S{k}USDT" for k in range(symbols)])


def scans_build(tmp_path, *args) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "violet.cli", "scans", "build", "--output", str(tmp_path / "s.parquet"),
                           "--fast", "5", "--slow", "20", *map(str, args)], capture_output=True, text=True)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def test_a_clean_panel_builds(tmp_path):
    done = scans_build(tmp_path, "--prices", panel_file(tmp_path / "p.parquet", clean_panel()))
    assert done.returncode == 0 and pq.read_table(tmp_path / "s.parquet").num_rows == 80 - 21


@pytest.mark.parametrize("spoil, expected", [
    (lambda df: df.set_axis(df.index.where(np.arange(len(df)) != 30, df.index[29])),
     "bar 30's timestamp 2024-01-02 05:00:00 repeats bar 29's (2024-01-02 05:00:00)"),
    (lambda df: df.set_axis(df.index.where(np.arange(len(df)) != 30, df.index[3])),
     "bar 30's timestamp 2024-01-01 03:00:00 is earlier than bar 29's"),
    (lambda df: df.assign(S2USDT=["x"] * len(df)), "column(s) that are not numbers: 'S2USDT'"),
    (lambda df: df.assign(S1USDT=[True] * len(df)), "column(s) that are not numbers: 'S1USDT'"),
    (lambda df: df[[]], "the panel has no symbol columns"),
    (lambda df: df.reset_index(drop=True), "the panel's index is not a timestamp"),
])
def test_bad_panels_are_refused(tmp_path, spoil, expected):
    path = panel_file(tmp_path / "p.parquet", spoil(clean_panel()))
    done = scans_build(tmp_path, "--prices", path)
    assert done.returncode == 2 and f"error: {path}: {expected}" in done.stderr, done.stderr


def test_a_symbol_twice_is_refused(tmp_path):
    df = clean_panel()
    table = pa.table([pa.array(df.index)] + [pa.array(df[c]) for c in ("S0USDT", "S1USDT", "S0USDT")],
                     names=["ts", "S0USDT", "S1USDT", "S0USDT"])
    pq.write_table(table, tmp_path / "p.parquet")
    done = scans_build(tmp_path, "--prices", tmp_path / "p.parquet")
    assert done.returncode == 2 and "symbol column(s) given twice: 'S0USDT'" in done.stderr


@pytest.mark.parametrize("args, expected", [
    (("--score-lookback", "0"), "--score-lookback is 0, not a window of bars"),
    (("--score-lookback", "-24"), "--score-lookback is -24, not a window of bars"),
    (("--fast", "0"), "windows must satisfy 2 <= fast <= slow (got --fast 0, --slow 20)"),
    (("--fast", "30"), "windows must satisfy 2 <= fast <= slow (got --fast 30, --slow 20)"),
    (("--spike", "0"), "--spike is 0.0, not a positive number"),
    (("--capital", "-5"), "--capital is -5.0, not a positive number"),
    (("--capital", "inf"), "--capital is inf, not a positive number"),
])
def test_non_positive_windows_and_settings_are_refused(tmp_path, args, expected):
    done = scans_build(tmp_path, "--prices", panel_file(tmp_path / "p.parquet", clean_panel()), *args)
    assert done.returncode == 2 and f"error: scans build: {expected}" in done.stderr, done.stderr


@pytest.mark.parametrize("factors, expected", [
    ({"ts_us": [1.5], "acb_boost": [1.0]}, "column ts_us is double, not integers"),
    ({"ts_us": [1], "acb_boost": ["high"]}, "column acb_boost is string, not numbers"),
    ({"ts_us": [1], "posture": [3]}, "column posture is int64, not strings (enum names)"),
    ({"ts_us": [1], "acb_bost": [1.0]}, "unknown factor column(s) 'acb_bost'"),
    ({"ts_us": [1, 1], "acb_boost": [1.0, 2.0]}, "ts_us is empty or repeated in some rows"),
    ({"acb_boost": [1.0]}, "a factors table needs a ts_us column"),
])
def test_factor_tables_of_the_wrong_types_are_refused(tmp_path, factors, expected):
    pq.write_table(pa.table(factors), tmp_path / "f.parquet")
    done = scans_build(tmp_path, "--prices", panel_file(tmp_path / "p.parquet", clean_panel()), "--factors",
                       tmp_path / "f.parquet")
    assert done.returncode == 2 and f"error: --factors: {expected}" in done.stderr, done.stderr


def test_a_symbol_listed_twice_in_the_leverage_limits_is_refused(tmp_path):
    path = tmp_path / "limits.csv"
    path.write_text("symbol,max_leverage\nBTCUSDT,125\nBTCUSDT,50\n")
    with pytest.raises(InputError, match="symbol\\(s\\) listed twice: 'BTCUSDT'"):
        universe_table(["BTCUSDT"], path)
