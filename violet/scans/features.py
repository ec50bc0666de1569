"""Per-asset feature columns a graph can read as vector inputs, added by `violet scans build --feature`.

`--feature NAME=KIND:WINDOW` adds a list<double> column NAME (one value per asset, per scan). The kinds:

- `rolling_std`: the sample standard deviation (ddof 1) of the asset's last WINDOW log returns
  log(close[t] / close[t-1]) ending at the scan's bar: its rolling volatility. NaN while the window
  fills (the asset has not been listed for WINDOW + 1 bars, or a close in it is missing or not positive)
  and for an asset that is not tradable on that scan.

A graph reads it as `NAME = { type = "float64", vector = true, mask = "tradable" }` (no `finite`: the
NaN while the window fills is a value, docs/scans.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from violet.dag.schema import NAME_FIX, is_name
from violet.errors import InputError, quote

FEATURE = re.compile(r"(?P<name>[^=]*)=(?P<kind>[a-z_]+):(?P<window>[0-9]+)")
MAX_WINDOW = 100_000
CHUNK = 256  # bars per slice of the sliding window: bounds the memory of a long panel


def log_returns(close: np.ndarray) -> np.ndarray:
    """r[t - 1] = log(close[t] / close[t-1]) by bar pair; NaN where either close is missing or not positive."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.diff(np.log(np.where(close > 0, close, np.nan)), axis=0)


def rolling_std(close: np.ndarray, window: int) -> np.ndarray:
    """By bar (bars x assets): the sample standard deviation of the last `window` log returns ending at that
    bar; NaN before bar `window` and wherever one of those returns is NaN."""
    r = log_returns(close)
    out = np.full(close.shape, np.nan)
    if len(r) < window:
        return out
    windows = sliding_window_view(r, window, axis=0)  # (bars - window, assets, window): returns ending at bar k + window
    for start in range(0, windows.shape[0], CHUNK):
        out[window + start:window + start + CHUNK] = windows[start:start + CHUNK].std(axis=-1, ddof=1)
    return out


KINDS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {"rolling_std": rolling_std}


@dataclass(frozen=True)
class Feature:
    """One per-asset column: its name, its kind and its window (bars)."""

    name: str
    kind: str
    window: int

    def values(self, close: np.ndarray) -> np.ndarray:
        """By bar, per asset (bars x assets)."""
        return KINDS[self.kind](close, self.window)


def parse_feature(text: str) -> Feature:
    """`NAME=KIND:WINDOW` as a Feature; anything else one message naming the part that is wrong."""
    found = FEATURE.fullmatch(text)
    fix = "write NAME=KIND:WINDOW, e.g. --feature vol=rolling_std:60 (kinds: " + ", ".join(KINDS) + ")"
    if found is None:
        raise InputError(f"{quote(text)} is not a feature", where="--feature", fix=fix)
    name, kind, window = found["name"], found["kind"], int(found["window"])
    if not is_name(name):
        raise InputError(f"{quote(name)} is not a column name", where=f"--feature {text}", fix=NAME_FIX)
    if kind not in KINDS:
        raise InputError(f"unknown feature kind {quote(kind)}", where=f"--feature {text}", fix=fix)
    if not 2 <= window <= MAX_WINDOW:
        raise InputError(f"window {window} is not 2 to {MAX_WINDOW:,} bars", where=f"--feature {text}",
                         fix="a standard deviation needs at least two returns")
    return Feature(name, kind, window)
