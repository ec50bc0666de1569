"""Reductions over the universe: sum, count, min_of, max_of, rank, and size (docs/semantics.md, "Vectors
over the universe"). Each reads a whole vector under a mask (a bool[N], or a scalar bool: true is every
asset), so none is elementwise. Each rule is one function of `violet.compile.semantics`, in a fixed left
to right order: the interpreter and the fixed-point model call it, the kernels compile its own source,
and the Verilog follows it (an adder chain for sum and count, comparator chains for min_of/max_of, N*N
comparators for rank). `size` (N itself) has no built-in: the lowering writes `mean(x)` with it.
"""

from __future__ import annotations

import math
from functools import partial
from typing import TYPE_CHECKING, Any

from violet.compile import semantics as sem
from violet.compile.interval import INF, Interval, point, wrapped
from violet.compile.netlist import LUT, WIRING, Expr, carry, text
from violet.compile.ops.spec import Fn, OpSpec, by_dtype, jitted
from violet.compile.ops.vector import mask_bit, masked_problem, refuse_short_index
from violet.compile.qformat import Fmt, saturate
from violet.dag.types import BOOL, I64, INT64_MAX, DType, ValueType

if TYPE_CHECKING:
    from violet.compile.ir import Op
    from violet.compile.verilog import Builder

EMPTY = {DType.F64: (math.nan, "np.nan"), DType.I64: (0, "0")}  # min_of/max_of of no asset: (value, Numba text)


def reduce_type(kind: str, args: list[ValueType]) -> ValueType | str:
    """sum, min_of, max_of: the vector's element type."""
    return masked_problem(kind, args) or args[0].scalar


def rank_type(kind: str, args: list[ValueType]) -> ValueType | str:
    return masked_problem(kind, args) or I64.as_vector()


def count_type(kind: str, args: list[ValueType]) -> ValueType | str:
    if args[0] == BOOL.as_vector():
        return I64
    return (f"count() needs a bool[N] mask, got {args[0]} (the count of a scalar would be the universe's size, "
            "which a scalar does not carry)")


def size_type(kind: str, args: list[ValueType]) -> ValueType | str:
    return I64 if args[0].vector else f"size needs a vector, got {args[0]}"


# ---------------------------------------------------------------- interpreter and Numba


def interp_extreme(op: Op, args: list[ValueType]) -> Fn:
    return partial(sem.extreme, lowest=op.kind == "min_of", empty=EMPTY[op.type.dtype][0])


def numba_extreme(op: Op, a: list[str]) -> str:
    return f"extreme({a[0]}, {a[1]}, {op.kind == 'min_of'}, {EMPTY[op.type.dtype][1]})"


def interp_rank(op: Op, args: list[ValueType]) -> Fn:
    """semantics.ordinal_rank, its array as the interpreter's list of ints."""
    return lambda values, mask: sem.ordinal_rank(values, mask).tolist()


# ---------------------------------------------------------------- intervals (N is unknown to the analysis)


def interval_sum(op: Op, a: list[Interval]) -> Interval:
    """Any number of assets: unbounded on each side a value can lie (0 when none is masked); NaN from a
    NaN value, or from an infinity meeting an overflow (or infinity) of the other sign."""
    x = a[0]
    lo = 0 if x.empty or x.lo >= 0 else -INF
    hi = 0 if x.empty or x.hi <= 0 else INF
    nan = x.nan or (x.lo == -INF and x.hi > 0) or (x.hi == INF and x.lo < 0)
    return wrapped(Interval(lo, hi, nan and op.type.dtype == DType.F64), op.type.dtype)


def interval_extreme(op: Op, a: list[Interval]) -> Interval:
    """One of the values, or the empty result: NaN (float64) or 0 (int64) when no asset is masked."""
    x = a[0]
    return Interval(x.lo, x.hi, True) if op.type.dtype == DType.F64 else x.union(point(0))


# ---------------------------------------------------------------- fixed point


def fixed_sum(op: Op, a: list[Any], fa: list[Fmt], out: Fmt) -> int:
    """The exact sum of the masked raw values (one format for every element), then saturated."""
    return saturate(sum(x for k, x in enumerate(a[0]) if sem.mask_at(a[1], k)), out)


def fixed_extreme(op: Op, a: list[Any], fa: list[Fmt], out: Fmt) -> int:
    """The IR's fold on raw values; none masked is 0 (fixed point has no NaN)."""
    return saturate(sem.extreme(a[0], a[1], op.kind == "min_of", 0), out)


def fixed_rank(op: Op, a: list[Any], fa: list[Fmt], out: Fmt) -> list[int]:
    """The IR's rank of the raw values (quantizing can make new ties; they go by index)."""
    return [saturate(r, out) for r in sem.ordinal_rank(a[0], a[1]).tolist()]


# ---------------------------------------------------------------- Verilog


def verilog_sum(em: Builder, op: Op) -> None:
    """An adder chain in index order, each masked-off asset adding 0, wide enough for N values."""
    (values, mask), n, f = op.args, em.assets, em.fmt(op.args[0])
    width = f.width + max(n, 1).bit_length()
    acc, zero = em.const(0, width), em.const(0, width)
    for j in range(n):
        acc = em.decl(f"{em.name('acc', op.id)}_{j}", width, Expr(acc, " + (", mask_bit(em, mask, j), " ? ",
                                                                 em.resize(em.elem(values, j), f.width, width), " : ",
                                                                 zero, ")"), delay=carry(width) + LUT)
        em.counts["adders"] += 1
    t = em.decl(em.name("t", op.id), width, acc, delay=WIRING)
    em.fit(op, t, min(0, n * f.lo), max(0, n * f.hi), width)


def verilog_count(em: Builder, op: Op) -> None:
    """A popcount as an adder chain of the mask bits."""
    n = em.assets
    width = max(n, 1).bit_length() + 1
    acc, one, zero = em.const(0, width), em.const(1, width), em.const(0, width)
    for j in range(n):
        acc = em.decl(f"{em.name('acc', op.id)}_{j}", width, Expr(acc, " + (", em.elem(op.args[0], j), " ? ", one,
                                                                 " : ", zero, ")"), delay=carry(width))
        em.counts["adders"] += 1
    t = em.decl(em.name("t", op.id), width, acc, delay=WIRING)
    em.fit(op, t, 0, n, width)


def verilog_extreme(em: Builder, op: Op) -> None:
    """A comparator chain: asset j is taken if masked and the first found, or smaller (max_of: larger)
    than the best so far; 0 if none is found."""
    (values, mask), n, f = op.args, em.assets, em.fmt(op.args[0])
    cmp = " < " if op.kind == "min_of" else " > "
    best, found = em.const(0, f.width), text("1'b0")
    for j in range(n):
        x = em.elem(values, j)
        take = em.decl(f"{em.name('take', op.id)}_{j}", 1, Expr(mask_bit(em, mask, j), " && (!", found, " || (", x,
                                                                cmp, best, "))"), signed=False, delay=carry(f.width))
        best = em.decl(f"{em.name('best', op.id)}_{j}", f.width, Expr(take, " ? ", x, " : ", best))
        found = em.decl(f"{em.name('found', op.id)}_{j}", 1, Expr(found, " || ", take), signed=False)
        em.counts["comparators"] += 1
    t = em.decl(em.name("t", op.id), f.width, best, delay=WIRING)
    em.fit(op, t, min(f.lo, 0), max(f.hi, 0), f.width)


def verilog_rank(em: Builder, op: Op) -> None:
    """Per asset k, a popcount of the masked assets j before it in the order (x_j < x_k, or x_j == x_k
    and j < k): N * (N - 1) comparators; -1 where k is not masked (fixed point has no NaN)."""
    (values, mask), n = op.args, em.assets
    refuse_short_index(em, op)
    width = max(n, 1).bit_length() + 1
    one, zero = em.const(1, width), em.const(0, width)
    vw = em.w(values)
    for k in range(n):
        em.element = k
        acc = zero
        for j in (j for j in range(n) if j != k):
            before = Expr("(", em.elem(values, j), " <= " if j < k else " < ", em.elem(values, k), ")")
            acc = em.decl(f"{em.name('acc', op.id)}_{j}", width, Expr(acc, " + ((", mask_bit(em, mask, j), " && ",
                                                                     before, ") ? ", one, " : ", zero, ")"),
                          delay=carry(vw) + carry(width))
            em.counts["comparators"] += 1
        t = em.decl(em.name("t", op.id), width, Expr(mask_bit(em, mask, k), " ? ", acc, " : ", em.const(-1, width)))
        em.fit(op, t, -1, n - 1, width)
    em.element = None


def verilog_size(em: Builder, op: Op) -> None:
    """N, a constant of the hardware."""
    width = max(em.assets, 1).bit_length() + 1
    t = em.decl(em.name("t", op.id), width, em.const(em.assets, width), delay=WIRING)
    em.fit(op, t, em.assets, em.assets, width)


def _extreme(kind: str, meaning: str) -> OpSpec:
    return OpSpec(kind, 2, meaning, reduce_type, interp_extreme, numba_extreme, interval_extreme, fixed_extreme,
                  verilog_extreme, builtin=kind, elementwise=False, numba_helper=jitted(sem.extreme))


OPS = (
    OpSpec("sum", 2, "the masked values added left to right in index order; 0 if none; int64 wraps", reduce_type,
           by_dtype(f64=sem.sum_float, i64=sem.sum_int),
           lambda op, a: f"sum_{'float' if op.type.dtype == DType.F64 else 'int'}({a[0]}, {a[1]})",
           interval_sum, fixed_sum, verilog_sum, builtin="sum", elementwise=False,
           numba_helper=jitted(sem.sum_float) + jitted(sem.sum_int)),
    OpSpec("count", 1, "how many assets' masks are true", count_type, lambda op, args: sem.count_true,
           lambda op, a: f"count_true({a[0]})", lambda op, a: Interval(0, INT64_MAX),
           lambda op, a, fa, out: saturate(sem.count_true(a[0]), out), verilog_count, builtin="count",
           elementwise=False, numba_helper=jitted(sem.count_true), universe=lambda n: Interval(0, n)),
    _extreme("min_of", "Python's min folded left over the masked values; NaN (int64: 0) if none"),
    _extreme("max_of", "Python's max folded left over the masked values; NaN (int64: 0) if none"),
    OpSpec("rank", 2, "ordinal rank among the masked non-NaN values from 0, ties by index; -1 elsewhere",
           rank_type, interp_rank, lambda op, a: f"ordinal_rank({a[0]}, {a[1]})", lambda op, a: Interval(-1, INT64_MAX),
           fixed_rank, verilog_rank, builtin="rank", elementwise=False, numba_helper=jitted(sem.ordinal_rank),
           universe=lambda n: Interval(-1, n - 1)),
    OpSpec("size", 1, "N, the number of assets of a vector", size_type, lambda op, args: len,
           lambda op, a: f"len({a[0]})", lambda op, a: Interval(0, INT64_MAX),
           lambda op, a, fa, out: saturate(len(a[0]), out), verilog_size, elementwise=False, universe=point),
)
