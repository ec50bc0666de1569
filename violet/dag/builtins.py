"""The expression language's built-in functions: their names and how many arguments each takes.

Pure data, so that violet/dag can check a call and reserve the names without
knowing any backend (violet/dag never imports violet/compile). A built-in that
is exactly one IR op carries the same name in the op catalog
(`violet.compile.ops`, its `builtin`); the rest are forms the lowering writes
out in ops (`clamp` is a max then a min), or windows it writes out as hidden
state fields (`lag`, `rolling_*`, `ewma`). tests/test_catalog.py checks they
agree.
"""

from __future__ import annotations

# name -> (fewest arguments, most arguments; None: any number)
BUILTINS: dict[str, tuple[int, int | None]] = {
    "min": (2, None), "max": (2, None), "abs": (1, 1), "clamp": (3, 3), "select": (3, 3),
    "floor": (1, 1), "ceil": (1, 1), "float": (1, 1), "int": (1, 1), "match": (1, 1),
    "argmax": (2, 2), "any": (1, 1), "all": (1, 1), "sqrt": (1, 1),
    "sum": (1, 2), "mean": (1, 2), "count": (1, 1), "min_of": (1, 2), "max_of": (1, 2), "argmin": (2, 2),
    "rank": (1, 2),
    "exp": (1, 1), "log": (1, 1), "log1p": (1, 1), "expm1": (1, 1), "tanh": (1, 1), "pow": (2, 2),
    "isnan": (1, 1), "isfinite": (1, 1), "sign": (1, 1), "copysign": (2, 2),
    "lag": (2, 3), "ewma": (2, 2), "rolling_sum": (2, 2), "rolling_mean": (2, 2), "rolling_min": (2, 2),
    "rolling_max": (2, 2), "rolling_std": (2, 2),
}


def arity_problem(name: str, given: int) -> str | None:
    """Why `given` arguments do not fit built-in `name`, or None if they do."""
    least, most = BUILTINS[name]
    if least <= given and (most is None or given <= most):
        return None
    want = f"at least {least}" if most is None else str(least) if least == most else f"{least} to {most}"
    return f"{name}() takes {want} argument(s), got {given}"
