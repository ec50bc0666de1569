"""Wrapping int64 arithmetic for the generated kernels, as plain LLVM instructions.

Numba lowers `a + b` on int64 to `add nsw` ("no signed wrap"): LLVM may then
assume the sum never overflows and rewrite code around it. `abs(i - 1)` was
compiled using `i < 1` on the original i, which is wrong at INT64_MIN (found by
tests/test_random_graphs.py). The IR defines int64 overflow as two's-complement
wrap-around (docs/semantics.md), so the kernels use these intrinsics: `add`,
`sub`, `mul` without nsw/nuw flags, whose wrap-around is defined in LLVM.
"""

from __future__ import annotations

from typing import Any

from numba import types
from numba.extending import intrinsic

I64 = types.int64


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
