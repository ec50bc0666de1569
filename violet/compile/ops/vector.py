"""Vectors over the universe: gather (x[i]), argmax, argmin, any, all (docs/semantics.md, "Vectors over the
universe"). They read whole vectors, so none is elementwise. The argmax/argmin rule (ties to the lowest
index, strictly greater (smaller) replaces) is written once, `semantics.arg_extreme`: the interpreter and
the fixed-point model call it, the kernels compile its source, and the Verilog comparison tree follows it.
A mask is a bool[N] or a scalar bool (true: every asset), here and in the reductions (ops/reduce.py)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from violet.compile import semantics as sem
from violet.compile.interval import BOOL as BOOL_INTERVAL
from violet.compile.interval import Interval, point
from violet.compile.netlist import FAN_OUT, FAN_OUT_BITS, LUT, WIRING, Cell, Expr, carry
from violet.compile.ops.spec import Fn, OpSpec, jitted
from violet.compile.qformat import Fmt, LoweringError, saturate
from violet.dag.types import BOOL, I64, INT64_MAX, DType, ValueType

if TYPE_CHECKING:
    from violet.compile.ir import Op
    from violet.compile.verilog import Builder

NUMBA_ZERO = {DType.F64: "0.0", DType.I64: "0", DType.BOOL: "False"}


def gather_type(kind: str, args: list[ValueType]) -> ValueType | str:
    vec, idx = args
    if not vec.vector or idx != I64:
        return f"x[i] needs a vector and an int64 index, got {vec} and {idx}"
    return vec.scalar


def masked_problem(kind: str, args: list[ValueType]) -> str | None:
    """Why (values, mask) does not fit a reduction: values a float64 or int64 vector, the mask a bool[N]
    or a scalar bool; None if they fit."""
    vals, mask = args
    if not (vals.vector and vals.dtype in (DType.F64, DType.I64) and not vals.is_enum):
        return f"{kind} needs a float64 or int64 vector, got {vals}"
    if mask.scalar != BOOL:
        return f"{kind}'s mask must be bool[N] or a bool, got {mask}"
    return None


def index_type(kind: str, args: list[ValueType]) -> ValueType | str:
    return masked_problem(kind, args) or I64


def mask_type(kind: str, args: list[ValueType]) -> ValueType | str:
    return BOOL if args[0] == BOOL.as_vector() else f"{kind}() needs a bool[N] vector, got {args[0]}"


def interp_gather(op: Op, args: list[ValueType]) -> Fn:
    return partial(sem.gather, default=sem.ZERO[op.type.dtype])


def fixed_gather(op: Op, a: list[Any], fa: list[Fmt], out: Fmt) -> int:
    """The IR's rule, one definition: outside [0, N) the type's zero (raw 0)."""
    return saturate(sem.gather(a[0], a[1], 0), out)


def fixed_argmax(op: Op, a: list[Any], fa: list[Fmt], out: Fmt) -> int:
    """The IR's rule on raw values (same order); the RTL refuses a format short of N - 1."""
    return saturate(sem.arg_extreme(a[0], a[1], op.kind == "argmin"), out)


def fixed_mask(op: Op, a: list[Any], fa: list[Fmt], out: Fmt) -> int:
    return int(sem.any_true(a[0]) if op.kind == "any" else sem.all_true(a[0]))


def verilog_mask(em: Builder, op: Op) -> None:
    """A balanced tree of or (any) or and (all) gates over the assets, four inputs (a LUT4) per gate."""
    join = " || " if op.kind == "any" else " && "
    level, items = 0, [em.elem(op.args[0], j) for j in range(em.assets)]
    while len(items) > 1:
        items = [em.decl(f"{em.name('g', op.id)}_{level}_{g}", 1, _joined(items[4 * g:4 * g + 4], join), signed=False)
                 for g in range((len(items) + 3) // 4)]
        level += 1
    em.decl(em.name("v", op.id), 1, items[0], signed=False, delay=WIRING)


def _joined(items: list[Expr], join: str) -> Expr:
    parts: list[str | Expr] = []
    for k, item in enumerate(items):
        parts += [join, item] if k else [item]
    return Expr(*parts)


def verilog_gather(em: Builder, op: Op) -> None:
    """A balanced tree of 2:1 multiplexers, one level per bit of the index (an odd one out paired with 0);
    an index outside [0, N) gives 0, the type's zero. Each level's select bit drives all of its
    multiplexers (blue_decision's price over 64 assets: 32 x 45 bits at the first level): where that is
    FAN_OUT_BITS or more, it is its own cell that a pipeline reads from a register."""
    vec, idx = op.args
    out, elem = em.fmt(op.id), em.fmt(vec)
    width = max(out.width, elem.width)
    index, iw = em.gather_index(idx, em.assets)
    sel = em.decl(em.name("gi", op.id), iw, index, delay=WIRING)
    zero = em.const(0, width)
    items = [em.resize(em.elem(vec, j), elem.width, width) for j in range(em.assets)]
    level = 0
    while len(items) > 1:
        pairs = [(items[k], items[k + 1] if k + 1 < len(items) else zero) for k in range(0, len(items), 2)]
        wide = len(pairs) * width >= FAN_OUT_BITS
        bit = em.net.add(Cell(f"{em.name('gs', op.id)}_{level}", 1, False, sel.bit(level), op=op.id,
                              delay=FAN_OUT if wide else WIRING, fans_out=wide))
        items = [em.decl(f"{em.name('gm', op.id)}_{level}_{g}", width, Expr(bit, " ? ", hi, " : ", lo))
                 for g, (lo, hi) in enumerate(pairs)]
        level += 1
    inside = Expr("(", sel, " >= ", em.const(0, iw), ") && (", sel, " < ", em.const(em.assets, iw), ")")
    t = em.decl(em.name("t", op.id), width, Expr("(", inside, ") ? ", items[0], " : ", zero),
                delay=carry(iw) + LUT)
    em.fit(op, t, min(elem.lo, 0), max(elem.hi, 0), width)


def mask_bit(em: Builder, mask: int, j: int) -> Expr:
    """Asset j's mask bit: element j of a bool[N] mask, or a scalar mask's one wire."""
    return em.elem(mask, j) if em.model.ir.ops[mask].type.vector else em.ref(mask)


def refuse_short_index(em: Builder, op: Op) -> None:
    """An index (argmax, argmin, rank) reaches N - 1, which the analysis knows only if the model was built
    for N assets (FixedConfig.assets): refuse a format that cannot hold it, rather than saturate an index
    into another asset's."""
    n, out = em.assets, em.fmt(op.id)
    if n - 1 > out.hi:
        raise LoweringError(f"{op.kind} over {n} assets gives indices up to {n - 1}, its format {out} holds at "
                            f"most {out.hi}", where=f"node '{op.node}'",
                            fix=f"build the model for {n} assets (FixedConfig(assets={n}), as `violet hdl --assets` "
                                f"does) or raise --int-bits to at least {(n - 1).bit_length()}")


@dataclass(frozen=True)
class _Best:
    """A subtree's answer in the argmax tree: any asset masked, the best one's index and value."""

    found: Expr
    index: Expr
    value: Expr


def verilog_argmax(em: Builder, op: Op) -> None:
    """A balanced comparison tree: semantics.arg_extreme's rule, as each node keeps its left (lower
    indices) subtree's best unless the right one's is masked and strictly greater (argmin: smaller), or
    the left has none. Both are the lowest index among the masked extremes, so the tree equals the
    chain; its depth is log2(N) comparators, which the pipelining cuts by level."""
    (values, mask), n = op.args, em.assets
    out = em.fmt(op.id)
    refuse_short_index(em, op)
    iw = max(1, (n - 1).bit_length()) + 1
    cmp = " < " if op.kind == "argmin" else " > "
    items = [_Best(mask_bit(em, mask, j), em.const(j, iw), em.elem(values, j)) for j in range(n)]
    level = 0
    while len(items) > 1:
        merged = [_merge(em, op, f"{level}_{g}", items[k], items[k + 1], cmp, iw, last=len(items) == 2)
                  for g, k in enumerate(range(0, len(items) - 1, 2))]
        items = merged + items[len(items) - len(items) % 2:]
        level += 1
    em.counts["comparators"] += max(n - 1, 0)
    best = items[0]
    em.decl(em.name("v", op.id), out.width, Expr(best.found, " ? ", em.resize(best.index, iw, out.width), " : ",
                                                 em.const(-1, out.width)))


def _merge(em: Builder, op: Op, node: str, left: _Best, right: _Best, cmp: str, iw: int, last: bool) -> _Best:
    """One node of the argmax tree: the right subtree's best replaces the left's only if strictly better."""
    vw = em.w(op.args[0])
    better = _compare(em, f"{em.name('cm', op.id)}_{node}", right.value, left.value, vw, cmp)
    take = em.decl(f"{em.name('tk', op.id)}_{node}", 1, Expr(right.found, " && (!", left.found, " || (", better, "))"),
                   signed=False, delay=2 * LUT if vw > CHUNK else carry(vw))
    found = em.decl(f"{em.name('fd', op.id)}_{node}", 1, Expr(left.found, " || ", right.found), signed=False)
    index = em.decl(f"{em.name('ix', op.id)}_{node}", iw, Expr(take, " ? ", right.index, " : ", left.index))
    value = left.value if last else em.decl(f"{em.name('bv', op.id)}_{node}", vw,
                                            Expr(take, " ? ", right.value, " : ", left.value))
    return _Best(found, index, value)


CHUNK = 12  # bits per piece of a wide comparison: a 49-bit carry chain alone nearly fills a 150 MHz cycle, and a
# 16-bit signed piece with the route to it is the slowest stage of a 64-asset argmax (146 MHz; 12 bits: 166 MHz)


def _compare(em: Builder, name: str, x: Expr, y: Expr, width: int, cmp: str) -> Expr:
    """x > y (or <) on signed `width`-bit signals: one comparator, or for a wide value one per CHUNK-bit piece
    (the top piece signed, the others unsigned) with an equality beside each but the lowest, which the
    expression returned joins from the top (greater here, or equal here and greater below): the pieces
    are cells of their own, so the pipelining can put a register between them and the join."""
    if width <= CHUNK:
        return Expr(x, cmp, y)
    cuts = list(range(0, width, CHUNK))
    joined: Expr | None = None
    for k, lo in enumerate(cuts):  # from the lowest piece up
        hi = min(lo + CHUNK, width) - 1
        xs, ys = (Expr("$signed(", x.bits(hi, lo), ")"), Expr("$signed(", y.bits(hi, lo), ")")) if hi == width - 1 \
            else (x.bits(hi, lo), y.bits(hi, lo))
        piece = em.decl(f"{name}_g{k}", 1, Expr(xs, cmp, ys), signed=False, delay=carry(hi - lo + 1))
        if joined is None:
            joined = piece
            continue
        equal = em.decl(f"{name}_e{k}", 1, Expr(xs, " == ", ys), signed=False, delay=carry(hi - lo + 1))
        joined = Expr(piece, " || (", equal, " && (", joined, "))")
    assert joined is not None
    return joined


ANY_HELPER = '''

@njit({jit})
def any_true(mask):
    """semantics.any_true, as a loop (Numba has no any() over an array)."""
    for k in range(mask.shape[0]):
        if mask[k]:
            return True
    return False
'''

ALL_HELPER = '''

@njit({jit})
def all_true(mask):
    """semantics.all_true, as a loop (Numba has no all() over an array)."""
    for k in range(mask.shape[0]):
        if not mask[k]:
            return False
    return True
'''


def _arg_extreme(kind: str, meaning: str, lowest: bool) -> OpSpec:
    """argmax or argmin: semantics.arg_extreme with `lowest` fixed, the same rule in every backend."""
    return OpSpec(kind, 2, meaning, index_type, lambda op, args: partial(sem.arg_extreme, lowest=lowest),
                  lambda op, a: f"arg_extreme({a[0]}, {a[1]}, {lowest})", lambda op, a: Interval(-1, INT64_MAX),
                  fixed_argmax, verilog_argmax, builtin=kind, elementwise=False,
                  numba_helper=jitted(sem.arg_extreme, inline=True), universe=lambda n: Interval(-1, n - 1))


OPS = (
    OpSpec("gather", 2, "x[i]: element i of a vector, the type's zero outside [0, N)", gather_type, interp_gather,
           lambda op, a: f"gather({a[0]}, {a[1]}, {NUMBA_ZERO[op.type.dtype]})",
           lambda op, a: a[0].union(point(0)), fixed_gather, verilog_gather, elementwise=False,
           numba_helper=jitted(sem.gather, inline=True)),
    _arg_extreme("argmax", "index of the largest masked value, ties to the lowest, -1 if none", False),
    _arg_extreme("argmin", "index of the smallest masked value, ties to the lowest, -1 if none", True),
    OpSpec("any", 1, "true if some asset's mask is true (false for no assets)", mask_type,
           lambda op, args: sem.any_true, lambda op, a: f"any_true({a[0]})", lambda op, a: BOOL_INTERVAL,
           fixed_mask, verilog_mask, builtin="any", elementwise=False, numba_helper=ANY_HELPER),
    OpSpec("all", 1, "true if every asset's mask is true (true for no assets)", mask_type,
           lambda op, args: sem.all_true, lambda op, a: f"all_true({a[0]})", lambda op, a: BOOL_INTERVAL,
           fixed_mask, verilog_mask, builtin="all", elementwise=False, numba_helper=ALL_HELPER),
)
