"""The executable definition of every IR op (see docs/semantics.md).

Floats are Python floats: IEEE-754 binary64, round to nearest even, one
rounding per op, no fused multiply-add, no reassociation. Ints are Python
ints kept in int64 by two's-complement wrap-around after every op. Where
Python itself would raise (float division by zero) or differ from a machine
(int overflow), the function says what the IR does instead. The Numba
backend and the fixed-point lowering must reproduce these functions bit for
bit; the tests hold them to hand-computed values. Which function defines
which op is said once, in the op catalog (`violet.compile.ops`); an op as plain
as `a + b` on floats is written there, beside its other rules.
"""

from __future__ import annotations

import ctypes
import math
import sys
from collections.abc import Callable

import numpy as np

from violet.dag.types import INT64_MAX, INT64_MIN, DType

TWO_63 = 9223372036854775808.0  # 2**63 as a float64, exactly


def wrap64(x: int) -> int:
    """Two's-complement int64 wrap-around of a Python int."""
    return ((x + 2**63) % 2**64) - 2**63


# The machine's default NaN, as its invalid operations produce it (0xFFF8000000000000 on
# x86-64, 0x7FF8000000000000 on ARM): computed here by the hardware, never written down.
_INF = float("inf")
DEFAULT_NAN = _INF - _INF


def fdiv(a: float, b: float) -> float:
    """IEEE division, as the hardware does it where Python would raise on b == 0:
    x/0 is +-inf by the signs, 0/0 is the machine's default NaN, NaN/0 is that NaN."""
    if b != 0.0:  # includes a NaN divisor
        return a / b
    if a != a:
        return a
    if a == 0.0:
        return DEFAULT_NAN
    negative = (math.copysign(1.0, a) < 0) != (math.copysign(1.0, b) < 0)
    return -math.inf if negative else math.inf


def vmin(a: float | int, b: float | int) -> float | int:
    """Python's `min(a, b)`: b only if b < a. NaN in b is never taken; NaN in a
    is kept; min(0.0, -0.0) is 0.0 and min(-0.0, 0.0) is -0.0 (the first)."""
    return b if b < a else a


def vmax(a: float | int, b: float | int) -> float | int:
    """Python's `max(a, b)`: b only if b > a; same NaN and signed-zero rules as vmin."""
    return b if b > a else a


def f2i(x: float) -> int:
    """float64 -> int64: truncate toward zero, saturate at the int64 bounds, NaN -> 0."""
    if x != x:
        return 0
    if x >= TWO_63:
        return INT64_MAX
    if x < -TWO_63:
        return INT64_MIN
    return int(x)


def _integral(x: float, fn: Callable[[float], int]) -> float:
    """Apply math.floor/ceil in float64 the IEEE way: +-inf and NaN pass
    through, and a zero result keeps the sign of x (ceil(-0.5) is -0.0)."""
    if x != x or math.isinf(x):
        return x
    r = float(fn(x))
    return math.copysign(r, x) if r == 0.0 else r


def ffloor(x: float) -> float:
    """IEEE floor in float64 (see `_integral`)."""
    return _integral(x, math.floor)


def fceil(x: float) -> float:
    """IEEE ceil in float64 (see `_integral`)."""
    return _integral(x, math.ceil)


Fn = Callable[..., float | int | bool]


# ---------------------------------------------------------------- the C library's math functions

# The C library CPython's math module calls (glibc's libm on Linux). exp, log, log1p, expm1, pow and tanh are
# its functions, called as they are: where `math` returns, they give its very bits; where `math` raises
# (exp overflow, log(0), pow(-8.0, 1/3), ...), the IEEE value the C library returns (inf, -inf, NaN). The
# kernels call the same functions, by address (violet.compile.numba_intrinsics), never LLVM's own.
LIBM = ctypes.CDLL("libm.so.6" if sys.platform.startswith("linux") else None)
C_MATH_ARITY = {"exp": 1, "log": 1, "log1p": 1, "expm1": 1, "tanh": 1, "pow": 2}


def _c_function(name: str) -> ctypes._CFuncPtr:
    """The C library's double -> double function `name` (double, double -> double for pow)."""
    fn = getattr(LIBM, name)
    fn.restype, fn.argtypes = ctypes.c_double, [ctypes.c_double] * C_MATH_ARITY[name]
    return fn


C_MATH: dict[str, ctypes._CFuncPtr] = {name: _c_function(name) for name in C_MATH_ARITY}


def fsign(x: float) -> float:
    """1.0 above zero, -1.0 below, else x itself: sign(-0.0) is -0.0, sign(NaN) is that NaN."""
    return 1.0 if x > 0.0 else (-1.0 if x < 0.0 else x)


def isign(x: int) -> int:
    """1 above zero, -1 below, 0 at zero."""
    return 1 if x > 0 else (-1 if x < 0 else 0)


def fcopysign(x: float, y: float) -> float:
    """x's magnitude with y's sign (copysign(1.0, -0.0) is -1.0); a NaN y gives abs(x), since a NaN's
    sign is no part of a value (the machine or LLVM may flip it: docs/semantics.md)."""
    return math.fabs(x) if y != y else math.copysign(x, y)


def floordiv(a: int, b: int) -> int:
    """Python's a // b (the floor of the quotient) on int64; a // 0 is 0, INT64_MIN // -1 wraps to INT64_MIN.
    Divisors 0 and -1 are settled first, so the division left never overflows nor divides by zero."""
    if b == 0:
        return 0
    if b == -1:
        return INT64_MIN if a == INT64_MIN else -a
    return a // b


def mod(a: int, b: int) -> int:
    """Python's a % b on int64 (the sign of b); a % 0 is a, so a == b * (a // b) + a % b always holds."""
    if b == 0:
        return a
    if b == -1:
        return 0
    return a % b


# ---------------------------------------------------------------- vectors over the universe

ZERO = {DType.F64: 0.0, DType.I64: 0, DType.BOOL: False}


def gather(vec: list, i: int, default: float | int | bool) -> float | int | bool:
    """vec[i]; an index outside [0, N) gives the type's zero (0.0, 0, false), never an error."""
    return vec[i] if 0 <= i < len(vec) else default


def mask_at(mask: list | bool | int, k: int) -> bool | int:
    """Asset k's mask: element k of a bool[N] mask, or a scalar mask itself (true: every asset, false:
    none). The kernels compile the reductions' own source; Numba resolves this name by the mask's type
    (violet.compile.numba_intrinsics registers its version)."""
    return mask[k] if isinstance(mask, list) else mask


def arg_extreme(values: list, mask: list | bool, lowest: bool) -> int:
    """argmax (lowest false) or argmin (lowest true): the index of the largest (smallest) value among
    the masked assets; ties go to the lowest index; -1 when no asset is masked. Scanning upward, an
    asset replaces the best so far only if its value is strictly greater (`>`; smaller, `<`), so a NaN
    never replaces a number, and a NaN that comes first is never replaced."""
    best = -1
    for k in range(len(values)):  # by index: the kernels compile this very source (an index loop is their fastest)
        if mask_at(mask, k) and (best < 0 or (values[k] < values[best] if lowest else values[k] > values[best])):
            best = k
    return best


def any_true(mask: list) -> bool:
    """True when at least one asset's mask is true (false for an empty universe)."""
    return any(mask)


def all_true(mask: list) -> bool:
    """True when every asset's mask is true (true for an empty universe)."""
    return all(mask)


def extreme(values: list, mask: list | bool, lowest: bool, empty: float | int) -> float | int:
    """min_of (lowest true) or max_of over the masked assets: Python's min (max) folded left from the
    first masked value, a value replacing the one so far only if it is smaller (`<`; larger, `>`); so a
    NaN met first is kept and a later one never taken. `empty` (NaN, or 0 for int64) if none is masked."""
    best = empty
    found = False
    for k in range(len(values)):
        if mask_at(mask, k) and (not found or (values[k] < best if lowest else values[k] > best)):
            best = values[k]
            found = True
    return best


def sum_float(values: list, mask: list | bool) -> float:
    """The masked float64 values added left to right in index order, starting from the first masked
    value (so -0.0 alone sums to -0.0); 0.0 when none is masked. One rounding per addition, nothing
    reassociated: numpy's pairwise np.sum can differ in the last bits (docs/semantics.md)."""
    total = 0.0
    found = False
    for k in range(len(values)):
        if mask_at(mask, k):
            total = total + values[k] if found else values[k]
            found = True
    return total


def wrapping_add(a: int, b: int) -> int:
    """int64 a + b, wrapping (the kernels' own `wrapping_add` is the LLVM add without nsw)."""
    return wrap64(a + b)


def sum_int(values: list, mask: list | bool) -> int:
    """The masked int64 values added in index order, wrapping modulo 2**64; 0 when none is masked."""
    total = 0
    for k in range(len(values)):
        if mask_at(mask, k):
            total = wrapping_add(total, values[k])
    return total


def count_true(mask: list) -> int:
    """How many assets' masks are true."""
    n = 0
    for k in range(len(mask)):
        if mask[k]:
            n += 1
    return n


def ordinal_rank(values: list, mask: list | bool) -> np.ndarray:
    """rank(x, mask): for a masked asset k whose value is not NaN, how many such assets j have
    x[j] < x[k], or x[j] == x[k] and j < k (0 for the smallest, ties by index, -0.0 equal to 0.0); -1
    for an unmasked or NaN asset. Computed as the position in a stable bottom-up merge sort of those
    assets (O(N log N); a value moves before another only if strictly smaller), which is that count."""
    n = len(values)
    order = np.empty(n, np.int64)
    m = 0
    for k in range(n):
        if mask_at(mask, k) and values[k] == values[k]:
            order[m] = k
            m += 1
    spare = np.empty(n, np.int64)
    width = 1
    while width < m:
        for lo in range(0, m, 2 * width):
            mid, hi = min(lo + width, m), min(lo + 2 * width, m)
            a, b = lo, mid
            for out in range(lo, hi):
                if b < hi and (a >= mid or values[order[b]] < values[order[a]]):
                    spare[out] = order[b]
                    b += 1
                else:
                    spare[out] = order[a]
                    a += 1
        order, spare = spare, order
        width *= 2
    ranks = np.full(n, -1, np.int64)
    for r in range(m):
        ranks[order[r]] = r
    return ranks


def lift(fn: Fn, vector_args: tuple[bool, ...]) -> Callable[..., list]:
    """An elementwise op on vectors: fn per asset, scalar operands shared by every asset."""

    def per_asset(*args: object) -> list:
        n = len(next(a for a, v in zip(args, vector_args) if v))  # type: ignore[arg-type]
        return [fn(*[a[k] if v else a for a, v in zip(args, vector_args)]) for k in range(n)]  # type: ignore[index]

    return per_asset
