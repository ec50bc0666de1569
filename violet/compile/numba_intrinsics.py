"""Wrapping int64 arithmetic for the generated kernels, as plain LLVM instructions.

Numba lowers `a + b` on int64 to `add nsw` ("no signed wrap"): LLVM may then
assume the sum never overflows and rewrite code around it. `abs(i - 1)` was
compiled using `i < 1` on the original i, which is wrong at INT64_MIN (found by
tests/test_random_graphs.py). The IR defines int64 overflow as two's-complement
wrap-around (docs/semantics.md), so the kernels use these intrinsics: `add`,
`sub`, `mul` without nsw/nuw flags, whose wrap-around is defined in LLVM.

`mask_at` is `violet.compile.semantics.mask_at` with its Numba version registered: the reductions'
semantics functions, compiled from their own source, take a bool[N] mask or a scalar bool, and
Numba picks the version by the mask's type (no isinstance in compiled code).
"""

from __future__ import annotations

from typing import Any

from numba import types
from numba.extending import intrinsic, overload

from violet.compile.semantics import mask_at

I64 = types.int64
__all__ = ["mask_at", "wrapping_abs", "wrapping_add", "wrapping_mul", "wrapping_neg", "wrapping_sub"]


def _binary(op: str) -> Any:
    @intrinsic
    def wrapping(typingctx: Any, a: Any, b: Any) -> Any:
        if a != I64 or b != I64:
            return None

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            return getattr(builder, op)(args[0], args[1])  # no nsw/nuw: wraps

        return I64(I64, I64), codegen

    return wrapping


wrapping_add = _binary("add")
wrapping_sub = _binary("sub")
wrapping_mul = _binary("mul")


@intrinsic
def wrapping_neg(typingctx: Any, a: Any) -> Any:
    """0 - a, wrapping: -INT64_MIN is INT64_MIN."""
    if a != I64:
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.sub(context.get_constant(I64, 0), args[0])

    return I64(I64), codegen


@intrinsic
def wrapping_abs(typingctx: Any, a: Any) -> Any:
    """a if a >= 0 else 0 - a, wrapping: abs(INT64_MIN) is INT64_MIN."""
    if a != I64:
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        zero = context.get_constant(I64, 0)
        negative = builder.icmp_signed("<", args[0], zero)
        return builder.select(negative, builder.sub(zero, args[0]), args[0])

    return I64(I64), codegen


@overload(mask_at)
def _mask_at(mask: Any, k: Any) -> Any:
    """Element k of an array mask; a scalar bool mask is itself for every asset. (Numba wants the
    implementation's parameters exactly the typing function's, annotations included.)"""

    def element(mask: Any, k: Any) -> Any:
        return mask[k]

    def scalar(mask: Any, k: Any) -> Any:
        return mask

    if isinstance(mask, types.Array):
        return element
    return scalar if isinstance(mask, types.Boolean) else None
