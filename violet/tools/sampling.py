"""Draw input rows from a graph's input types, for `violet diff`.

Random rows mix three distributions per float input (the `typical` range
when the file gives one, log-uniform magnitudes from 1e-12 to 1e12, and
uniform over the allowed domain clipped to +-1e6), so both realistic values
and wide magnitudes are covered. Extreme rows pick, independently per input,
from the edge values the type admits: its bounds and their neighbours, 0,
-0.0, the smallest subnormal and normal, +-1, huge values, +-inf and NaN.
Every drawn value satisfies the input's refinement.
"""

from __future__ import annotations

import math

import numpy as np

from violet.dag.types import INT64_MAX, INT64_MIN, DType, InputSpec, Refinement

FMAX = float(np.finfo(np.float64).max)
FLOAT_EDGES = (0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, -2.2250738585072014e-308,
               1e-300, -1e-300, 1.0, -1.0, 0.5, -0.5, 1e300, -1e300, FMAX, -FMAX, math.inf, -math.inf, math.nan)
INT_EDGES = (0, 1, -1, 2, -2, INT64_MIN, INT64_MIN + 1, INT64_MAX, INT64_MAX - 1)


def random_column(spec: InputSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    """n random values of one input's type."""
    t = spec.type
    if t.enum is not None:
        return rng.integers(0, len(t.enum), n, dtype=np.int64)
    if t.dtype == DType.BOOL:
        return rng.integers(0, 2, n).astype(bool)
    if t.dtype == DType.I64:
        return _random_ints(spec.refine, n, rng)
    return _random_floats(spec.refine, n, rng)


def _random_floats(r: Refinement, n: int, rng: np.random.Generator) -> np.ndarray:
    lo, hi = r.float_bounds(FMAX)
    tlo, thi = r.typical or (max(lo, -1.0), min(hi, 1.0))
    wide_lo, wide_hi = max(lo, -1e6), min(hi, 1e6)
    typical = rng.uniform(max(lo, tlo), min(hi, thi), n)
    magnitude = 10.0 ** rng.uniform(-12, 12, n) * rng.choice([-1.0, 1.0], n)
    wide = rng.uniform(wide_lo, wide_hi, n) if wide_lo < wide_hi else np.full(n, wide_lo)
    pick = rng.integers(0, 3, n)
    return np.clip(np.select([pick == 0, pick == 1], [typical, magnitude], wide), lo, hi)


def _random_ints(r: Refinement, n: int, rng: np.random.Generator) -> np.ndarray:
    lo, hi = r.int_bounds()
    tlo, thi = (int(r.typical[0]), int(r.typical[1])) if r.typical else (-1000, 1000)
    typical = rng.integers(*_within(lo, hi, tlo, thi), n, endpoint=True)
    wide = rng.integers(*_within(lo, hi, -(10**12), 10**12), n, endpoint=True)
    return np.where(rng.integers(0, 2, n) == 0, typical, wide).astype(np.int64)


def _within(lo: int, hi: int, a: int, b: int) -> tuple[int, int]:
    """[a, b] cut to the bounds [lo, hi]; where they do not meet, the end of the bounds nearest to it."""
    a, b = max(lo, a), min(hi, b)
    if a <= b:
        return a, b
    end = lo if b < lo else hi
    return end, end


def edge_values(spec: InputSpec) -> list[float | int | bool]:
    """The edge values one input admits (bounds, neighbours, zeros, tiny, huge, specials)."""
    t, r = spec.type, spec.refine
    if t.enum is not None:
        return list(range(len(t.enum)))
    if t.dtype == DType.BOOL:
        return [False, True]
    if t.dtype == DType.I64:
        lo, hi = r.int_bounds()
        candidates = [*INT_EDGES, lo, hi, lo + 1, hi - 1]
        return sorted({c for c in candidates if lo <= c <= hi and r.violation(c) is None})
    lo, hi = r.float_bounds(FMAX)
    bounds = [lo, hi, math.nextafter(lo, math.inf), math.nextafter(hi, -math.inf)]
    typical = list(r.typical) if r.typical else []
    candidates = [*FLOAT_EDGES, *bounds, *map(float, typical)]
    keep = [c for c in candidates if r.violation(c) is None and (math.isnan(c) or math.isinf(c) or lo <= c <= hi)]
    return list({_key(c): c for c in keep}.values())


def _key(x: float) -> int:
    return int(np.float64(x).view(np.uint64))


def extreme_column(spec: InputSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    """n values picked at random from the input's edge values."""
    edges = edge_values(spec)
    dtype = bool if spec.type.dtype == DType.BOOL else spec.type.dtype.value
    return np.array(edges, dtype=dtype)[rng.integers(0, len(edges), n)]


def sample(inputs: tuple[InputSpec, ...], n_random: int, n_extreme: int, seed: int, assets: int = 8
           ) -> dict[str, np.ndarray]:
    """Columns of n_random random rows followed by n_extreme extreme rows.

    A vector input gets `assets` values per row; a universe input is drawn once
    (one value per asset) for the whole sequence, as a run has one universe.
    """
    rng = np.random.default_rng(seed)
    columns = {}
    for spec in inputs:
        if spec.universe:
            columns[spec.name] = random_column(spec, assets, rng)
            continue
        width = assets if spec.type.vector else 1
        col = np.concatenate([random_column(spec, n_random * width, rng), extreme_column(spec, n_extreme * width, rng)])
        columns[spec.name] = col.reshape(n_random + n_extreme, assets) if spec.type.vector else col
    return columns
