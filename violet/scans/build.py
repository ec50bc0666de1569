"""Build scans from a close-price panel (ALPHA_SPEC.md, "The upstream scan").

For each bar t: log returns r[t] = log(close[t] / close[t-1]); over the last W
returns, the largest eigenvalue lambda_max(t) of the correlation matrix of the
assets with data in the window, for a fast (50) and a slow (150) window, taken
as the fraction of variance it explains, f(t) = lambda_max(t) / n(t) with n(t)
the number of assets in that matrix (scale-free: in [1/n, 1] whatever the
universe's size); each one's one-bar velocity v(t) = f(t) - f(t-1); and
vel_div = v_fast - v_slow. The first scan is the first bar whose slow window
and previous slow window are full (bar W_slow + 1): no scan is built during the
warm-up.

lambda_max of the n x n correlation matrix Z'Z/(W-1) (Z: the window's returns,
each column standardised) equals the largest eigenvalue of the W x W Gram
matrix ZZ'/(W-1), which is what is computed (W <= 150 << N = 453).

Rules for what real data has (docs/scans.md):
- an asset with data in the window has a close at each of its W + 1 bars (it is
  listed throughout); any other is left out of that window's matrix and of n;
- a flat asset (zero variance in the window) has no correlation: it is left out
  too (its column zeroed, which adds only a zero eigenvalue);
- a listing spike (|log return| above `spike`, 1.0 by default) is a listing
  artefact, not co-movement: that return counts as 0 in the correlation;
- a non-finite or non-positive close gives a non-finite return, counted as 0
  in the correlation; the scan still carries the bad price, so the boundary
  check rejects that scan rather than the builder hiding it.

The per-asset score: the log return over the last `score_lookback` bars minus
the universe median of the same (finite values only); higher = the asset rose
most against the market = the best short candidate. A non-finite score (from a
bad close) is left as is, and the boundary rejects that scan.

The universe changes: an asset is tradable on a scan when it has a close then
and `score_lookback` bars before (so it has a score); elsewhere its price is
null where it has no close, its score null, and `tradable` false.

Per-asset feature columns (`--feature vol=rolling_std:60`, violet/scans/features.py) are added
after these, NaN for an asset that is not tradable on the scan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.lib.stride_tricks import sliding_window_view

from violet.errors import InputError
from violet.scans.factors import DEFAULT_MAX_AGE_S, AsOf, join_factors
from violet.scans.features import Feature
from violet.scans.panel import Panel
from violet.scans.universe import universe_table
from violet.table_io import read_table

@dataclass(frozen=True)
class ScanSettings:
    fast: int = 50
    slow: int = 150
    spike: float = 1.0
    score_lookback: int = 24
    capital: float = 10_000.0
    features: tuple[Feature, ...] = ()  # per-asset columns (violet/scans/features.py)

    def check(self) -> None:
        """Refuse settings no scan can be built with: a correlation window needs two returns, a score
        at least one bar of lookback (0 would compare each close with itself, a negative one with the
        future), and the spike threshold and the capital are positive numbers."""
        if not 2 <= self.fast <= self.slow:
            raise InputError(f"windows must satisfy 2 <= fast <= slow (got --fast {self.fast}, --slow {self.slow})",
                             where="scans build", fix="give --fast and --slow windows of at least 2 bars, fast <= slow")
        if self.score_lookback < 1:
            raise InputError(f"--score-lookback is {self.score_lookback}, not a window of bars", where="scans build",
                             fix="give --score-lookback of at least 1 bar")
        for option, value, finite in (("--spike", self.spike, False), ("--capital", self.capital, True)):
            if not value > 0 or (finite and value == math.inf):  # an infinite spike: no return is an artefact
                raise InputError(f"{option} is {value!r}, not a positive number", where="scans build",
                                 fix=f"give {option} > 0" + (", finite" if finite else ""))


def log_returns(close: np.ndarray, spike: float) -> np.ndarray:
    """Returns as the correlation sees them: spikes and non-finite returns as 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.diff(np.log(np.where(close > 0, close, np.nan)), axis=0)
    return np.where(np.isfinite(r) & (np.abs(r) <= spike), r, 0.0)


def lambda_max(r: np.ndarray, window: int, present: np.ndarray | None = None, chunk: int = 256
               ) -> tuple[np.ndarray, np.ndarray]:
    """lambda_max of the window's correlation matrix ending at each return, and n, the number of assets
    in that matrix; NaN (n 0) before the window is full.

    Index k of the result is the window r[k-window+1 .. k] (k indexes returns). An asset is in the
    window's matrix when `present` (both closes of a return listed; all by default) holds for each of
    its returns there and its returns there are not flat."""
    n_ret = r.shape[0]
    lam, count = np.full(n_ret, np.nan), np.zeros(n_ret, dtype=np.int64)
    if n_ret < window:
        return lam, count
    absent = np.zeros((n_ret + 1, r.shape[1]), dtype=np.int64)
    if present is not None:
        np.cumsum(~present, axis=0, out=absent[1:])
    whole = (absent[window:] - absent[:-window]) == 0  # (n_ret - window + 1, N): listed throughout
    windows = sliding_window_view(r, window, axis=0)  # (n_ret - window + 1, N, window)
    for start in range(0, windows.shape[0], chunk):
        z = windows[start:start + chunk].transpose(0, 2, 1)  # (c, window, N)
        z = np.where(whole[start:start + chunk, None, :], z - z.mean(axis=1, keepdims=True), 0.0)
        sd = np.sqrt((z * z).sum(axis=1, keepdims=True) / (window - 1))
        kept = sd > 1e-15  # flat or partly listed columns left out
        z = np.divide(z, sd, out=np.zeros_like(z), where=kept)
        gram = z @ z.transpose(0, 2, 1) / (window - 1)
        end = slice(start + window - 1, start + window - 1 + len(gram))
        lam[end], count[end] = np.linalg.eigvalsh(gram)[:, -1], kept[:, 0, :].sum(axis=1)
    return lam, count


def explained(r: np.ndarray, window: int, present: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """By bar (bar t ends return t-1): lambda_max, n and the fraction lambda_max / n (NaN if n is 0)."""
    lam, count = lambda_max(r, window, present)
    lam, count = np.concatenate([[np.nan], lam]), np.concatenate([[0], count])
    with np.errstate(divide="ignore", invalid="ignore"):
        return lam, count, lam / count


def scores(close: np.ndarray, lookback: int) -> np.ndarray:
    """Trailing log return over `lookback` bars minus that bar's universe median (NaN before `lookback`)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        logp = np.log(np.where(close > 0, close, np.nan))
    trailing = np.full(close.shape, np.nan)
    trailing[lookback:] = logp[lookback:] - logp[:-lookback]
    median = np.full((close.shape[0], 1), np.nan)
    known = ~np.isnan(trailing).all(axis=1)
    median[known, 0] = np.nanmedian(trailing[known], axis=1)
    return trailing - median


def build_scans(panel: Panel, settings: ScanSettings = ScanSettings(), factors: AsOf | None = None,
                limits: Path | None = None) -> tuple[pa.Table, pa.Table]:
    """(scans, universe) tables for a panel."""
    s = settings
    s.check()
    bars = panel.close.shape[0]
    first = s.slow + 1  # bar index: slow window at t and at t-1 both full
    if bars <= first:
        raise InputError(f"the panel has {bars} bars; the slow window needs more than {first}", where=panel.source,
                         fix="use a longer panel or a shorter --slow window")
    r = log_returns(panel.close, s.spike)
    present = panel.listed[1:] & panel.listed[:-1]
    lam_fast, n_fast, f_fast = explained(r, s.fast, present)
    lam_slow, n_slow, f_slow = explained(r, s.slow, present)
    v_fast = f_fast[first:] - f_fast[first - 1:-1]
    v_slow = f_slow[first:] - f_slow[first - 1:-1]
    n = bars - first
    tradable = panel.listed.copy()
    tradable[s.score_lookback:] &= panel.listed[:-s.score_lookback]
    tradable[:s.score_lookback] = False
    tradable = tradable[first:]
    ts = panel.ts_us[first:]
    columns: dict[str, object] = {
        "scan_id": np.arange(n, dtype=np.int64), "ts_us": ts, "vel_div": v_fast - v_slow,
        "lambda_fast": lam_fast[first:], "lambda_slow": lam_slow[first:], "n_fast": n_fast[first:],
        "n_slow": n_slow[first:], "v_fast": v_fast, "v_slow": v_slow,
        "price": _vectors(panel.close[first:], panel.listed[first:]),
        "score": _vectors(scores(panel.close, s.score_lookback)[first:], tradable), "tradable": list(tradable),
        **(joined := join_factors(ts, factors)).columns, "stale_factors": joined.stale,
        "capital": np.full(n, s.capital)}
    for feature in s.features:
        if feature.name in columns:
            raise InputError(f"feature {feature.name!r} is named like a column of the scans", where="--feature",
                             fix=f"give it another name (the scans' columns: {', '.join(columns)})")
        columns[feature.name] = _vectors(np.where(tradable, feature.values(panel.close)[first:], np.nan),
                                         np.ones_like(tradable))
    table = pa.table(columns).replace_schema_metadata({b"violet.symbols": ",".join(panel.symbols).encode(),
                                                       b"violet.source": panel.source.encode()})
    return table, universe_table(panel.symbols, limits)


def _vectors(values: np.ndarray, valid: np.ndarray) -> pa.ListArray:
    """One list per row (bars x assets), null where not `valid` (a NaN that is valid stays a NaN)."""
    rows, assets = values.shape
    offsets = pa.array(np.arange(rows + 1, dtype=np.int32) * assets)
    return pa.ListArray.from_arrays(offsets, pa.array(values.ravel(), mask=~valid.ravel()))


def write_scans(scans: pa.Table, universe: pa.Table, path: Path) -> Path:
    """SCANS.parquet, and SCANS.universe.parquet beside it; returns the universe's path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(scans, path)
    uni_path = path.with_name(path.name.removesuffix(path.suffix) + ".universe.parquet")
    pq.write_table(universe, uni_path)
    return uni_path


def read_factors(path: Path | None, max_age_s: float | None = None) -> AsOf | None:
    """The factors table at `path` (checked), with its staleness age (default DEFAULT_MAX_AGE_S); None
    without a path."""
    if path is None:
        return None
    return AsOf.of(read_table(path), DEFAULT_MAX_AGE_S if max_age_s is None else max_age_s)
