"""Wrapping int64 arithmetic and the C library's math functions for the generated kernels, as plain LLVM.

Numba lowers `a + b` on int64 to `add nsw` ("no signed wrap"): LLVM may then
assume the sum never overflows and rewrite code around it. `abs(i - 1)` was
compiled using `i < 1` on the original i, which is wrong at INT64_MIN (found by
tests/test_random_graphs.py). The IR defines int64 overflow as two's-complement
wrap-around (docs/semantics.md), so the kernels use these intrinsics: `add`,
`sub`, `mul` without nsw/nuw flags, whose wrap-around is defined in LLVM.

The C library's math functions (exp, log, log1p, expm1, tanh, pow) are called
here at the address the interpreter calls them at (`semantics.C_MATH`), under a
symbol of VIOLET's own. Numba's `math.exp` is LLVM's `llvm.exp`, which LLVM
may constant-fold, vectorise through a vector library, or rewrite: it compiles
`math.pow(x, 2.0)` as `x * x`, `math.pow(x, -1.0)` as `1.0 / x` and
`math.pow(2.0, x)` as `exp2(x)`, each rounding differently from glibc's pow on
some inputs. A call of a symbol LLVM does not know stays one call of that function.

`mask_at` is `violet.compile.semantics.mask_at` with its Numba version registered: the reductions'
semantics functions, compiled from their own source, take a bool[N] mask or a scalar bool, and
Numba picks the version by the mask's type (no isinstance in compiled code).
"""

from __future__ import annotations

import ctypes
from typing import Any

from llvmlite import binding, ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from violet.compile.semantics import C_MATH, mask_at

I64 = types.int64
F64 = types.float64
__all__ = ["c_exp", "c_expm1", "c_log", "c_log1p", "c_pow", "c_tanh", "mask_at", "wrapping_abs", "wrapping_add",
           "wrapping_mul", "wrapping_neg", "wrapping_sub"]


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


def _c_math(name: str) -> Any:
    """An intrinsic `c_<name>` calling the C library's `name` (semantics.C_MATH) through the symbol
    `violet_c_<name>`, bound to that function's address on every import (so a cached kernel finds it)."""
    symbol, arity = f"violet_c_{name}", len(C_MATH[name].argtypes)
    binding.add_symbol(symbol, ctypes.cast(C_MATH[name], ctypes.c_void_p).value)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        fnty = ir.FunctionType(ir.DoubleType(), [ir.DoubleType()] * arity)
        return builder.call(cgutils.insert_pure_function(builder.module, fnty, symbol), args)

    def unary(typingctx: Any, x: Any) -> Any:
        return (F64(F64), codegen) if x == F64 else None

    def binary(typingctx: Any, x: Any, y: Any) -> Any:
        return (F64(F64, F64), codegen) if x == F64 and y == F64 else None

    typing = unary if arity == 1 else binary
    typing.__name__ = typing.__qualname__ = f"c_{name}"
    return intrinsic(typing)


c_exp, c_log, c_log1p, c_expm1, c_tanh, c_pow = map(_c_math, ("exp", "log", "log1p", "expm1", "tanh", "pow"))
