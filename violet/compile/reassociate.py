"""Chains of float64 products regrouped for hardware: the earliest factors multiplied first.

A graph writes `base * dc * regime * ob_mult * esof` left to right, and the
Numba backend keeps that order (bit-identical to the legacy engine). In
hardware each product is a DSP block and an adder tree, and written left to
right the late factor (`regime`, after a dozen products of its own) meets three
more products in series. Multiplied earliest first (Huffman's rule on an
estimate of when each factor is ready), it meets one. The fixed-point model is
built on the regrouped IR, so the Verilog still equals the model bit for bit;
only its rounding points move (a few ULPs against float64, which the error
report measures).

A chain is a tree of scalar float64 `mul` ops whose inner products are read
once, by the chain, and are neither outputs, state, nor a value with a
declared typical range: those are regrouped.
Anything read elsewhere is a factor of the chain, kept as it is. A chain is
regrouped only where every factor has a proven finite range: with an unbounded
one, the products saturate, and where they do is the graph's to say.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import replace

from violet.compile.interval import Interval
from violet.compile.ir import IR, Op
from violet.dag.types import F64

# When an op's value is ready, in rough LUT levels per kind (the netlist's estimate, coarsely): what orders
# a chain's factors. Leaves are ready at 0.
COST = {"mul": 8.0, "div": 16.0, "sqrt": 16.0, "exp": 16.0, "log": 16.0}
OTHER = 2.0


def regroup_products(ir: IR, ranges: list[Interval]) -> IR:
    """The IR with each chain of products of three or more factors, all of them in a finite range (`ranges`,
    by op), regrouped earliest first (module docstring); ops renumbered, outputs and next state remapped,
    the hashes kept (it is the same graph). The IR itself where no chain is regrouped."""
    inner = _inner_products(ir)
    for op in reversed(ir.ops):  # a chain not regrouped keeps its inner products, as written
        if _is_product(op) and op.id not in inner and not all(_finite(ranges[f]) for f in _factors(ir, op, inner)):
            inner -= _inside(ir, op, inner)
    if not inner:
        return ir
    ops: list[Op] = []
    new_id: dict[int, int] = {}
    ready: dict[int, float] = {}

    def add(op: Op, args: tuple[int, ...]) -> int:
        made = replace(op, id=len(ops), args=args)
        ops.append(made)
        ready[made.id] = (COST.get(op.kind, OTHER) if args else 0.0) + max((ready[a] for a in args), default=0.0)
        return made.id

    for op in ir.ops:
        if op.id in inner:
            continue
        factors = _factors(ir, op, inner)
        if len(factors) < 3:
            new_id[op.id] = add(op, tuple(new_id[a] for a in op.args))
            continue
        heap = [(ready[new_id[f]], k, new_id[f]) for k, f in enumerate(factors)]
        heapq.heapify(heap)
        while len(heap) > 1:
            (_, k, a), (_, _, b) = heapq.heappop(heap), heapq.heappop(heap)
            made = add(op, (a, b))
            heapq.heappush(heap, (ready[made], k, made))
        new_id[op.id] = heap[0][2]
    return replace(ir, ops=tuple(ops), outputs=tuple((n, new_id[i]) for n, i in ir.outputs),
                   next_state=tuple((n, new_id[i]) for n, i in ir.next_state),
                   typical=tuple((new_id[i], lo, hi) for i, lo, hi in ir.typical),
                   _hashes={"content": ir.content_hash, "code": ir.code_hash})


def _finite(iv: Interval) -> bool:
    return not iv.nan and -math.inf < iv.lo <= iv.hi < math.inf


def _is_product(op: Op) -> bool:
    return op.kind == "mul" and op.type == F64


def _inner_products(ir: IR) -> set[int]:
    """The products read once, by a product, and neither an output, a next state nor a node's value with a
    declared typical range (its format saturates there)."""
    readers: dict[int, list[Op]] = {}
    for op in ir.ops:
        for a in op.args:
            readers.setdefault(a, []).append(op)
    kept = {i for _, i in ir.outputs} | {i for _, i in ir.next_state} | {i for i, _, _ in ir.typical}
    return {op.id for op in ir.ops if _is_product(op) and op.id not in kept
            and len(r := readers.get(op.id, [])) == 1 and _is_product(r[0])}


def _inside(ir: IR, op: Op, inner: set[int]) -> set[int]:
    """The inner products of the chain ending at op."""
    return {i for a in op.args if a in inner for i in (a, *_inside(ir, ir.ops[a], inner))}


def _factors(ir: IR, op: Op, inner: set[int]) -> list[int]:
    """The factors of the chain ending at op, in the written order (one, for an op that is no product)."""
    if not _is_product(op):
        return [op.id]
    return [f for a in op.args for f in (_factors(ir, ir.ops[a], inner) if a in inner else [a])]
