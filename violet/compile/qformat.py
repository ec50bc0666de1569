"""Signed Q(m.n) formats and the integer arithmetic every fixed-point rule shares.

One rule everywhere: round half up on every right shift (`(x + 2**(k-1)) >> k`,
an arithmetic shift, so a tie goes toward +infinity: -2.5 -> -2), and a value
leaving its format saturates to the format's bounds. It sits below
`violet.compile.ops` (whose fixed-point and Verilog rules use it) and
`violet.compile.fixed` (the model that runs them), so neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass

from violet.errors import VioletError


@dataclass(frozen=True)
class Fmt:
    """Signed Q(int_bits.frac_bits); width = 1 + int_bits + frac_bits (a bool is 1 unsigned bit)."""

    int_bits: int
    frac_bits: int
    saturates: bool = False  # no range was proven: the format is capped and values clamp
    boolean: bool = False

    @property
    def width(self) -> int:
        return 1 if self.boolean else 1 + self.int_bits + self.frac_bits

    @property
    def lo(self) -> int:
        return 0 if self.boolean else -(1 << (self.int_bits + self.frac_bits))

    @property
    def hi(self) -> int:
        return 1 if self.boolean else (1 << (self.int_bits + self.frac_bits)) - 1

    def __str__(self) -> str:
        if self.boolean:
            return "bool"
        return f"Q{self.int_bits}.{self.frac_bits}" + (" (saturating)" if self.saturates else "")


class LoweringError(VioletError):
    """An op of the graph cannot be lowered to fixed point / hardware."""


def shift_round(x: int, k: int) -> int:
    """x / 2**k rounded half up (ties toward +infinity)."""
    return (x + (1 << (k - 1))) >> k if k > 0 else x


def saturate(raw: int, fmt: Fmt) -> int:
    return min(max(raw, fmt.lo), fmt.hi)


def divider_width(num: Fmt, den: Fmt, out: Fmt) -> int:
    """The width the hardware divider computes in, for numerator, divisor and result formats.

    It must hold, signed: the shifted numerator `a << n` and its negation; the
    rounding numerator `2 * (a << n) + |b|`, at most 2**(wa + n) + 2**(wb - 1)
    in magnitude; the doubled divisor `2 * |b|`, up to 2**wb; and the result's
    saturation bounds. Sized from the numerator alone, a wider divisor (a
    saturating Q24.8 under a bounded Q1.8) lost its upper bits."""
    return max(num.width + den.frac_bits + 2, den.width + 2, out.width)


def divide(num: int, den: int, out: Fmt) -> int:
    """num / den rounded half up; a zero divisor saturates by the numerator's sign (0 / 0 is 0)."""
    if den == 0:
        return out.hi if num > 0 else out.lo if num < 0 else 0
    if den < 0:
        num, den = -num, -den
    return (2 * num + den) // (2 * den)


def reciprocal(divisors: list[int], bits: int) -> tuple[list[int], int]:
    """Multipliers m_d and one shift s such that `(u * m_d) >> s == u // d` for every 0 <= u < 2**bits and
    every divisor d > 0 in `divisors`: m_d = ceil(2**s / d) with s = bits + ceil(log2(max d)).

    Exact, not approximate (Granlund and Montgomery, 1994): m_d * d = 2**s + e with 0 <= e < d <= 2**(s - bits),
    so u * m_d / 2**s = u / d + u * e / (d * 2**s), and the second term is below 1 / d: it cannot carry the
    quotient past the next multiple of d. A division by a value the hardware knows in advance (a
    parameter, or one of a few integers) becomes a multiplication, with the same result bit for bit."""
    shift = bits + (max(divisors) - 1).bit_length()
    return [-(-(1 << shift) // d) for d in divisors], shift


def floor_by_reciprocal(x: int, m: int, shift: int) -> int:
    """floor(x / d) for a signed x from d's reciprocal (m, shift): a negative x through its complement,
    floor(x / d) = ~floor(~x / d) (~x = -x - 1 >= 0), as the hardware computes it."""
    return ~((~x * m) >> shift) if x < 0 else (x * m) >> shift


def signed_digits(c: int) -> list[tuple[int, int]]:
    """c as a sum of signed powers of two, sign * 2**k, with no two adjacent (the non-adjacent form: the
    fewest nonzero digits), as (sign, k) from the lowest: 7.5 in Q.16 is 2**19 - 2**15."""
    digits, k = [], 0
    while c:
        if c & 1:
            d = 2 - (c & 3)  # 1 where c ends in 01, -1 where it ends in 11
            digits.append((d, k))
            c -= d
        c >>= 1
        k += 1
    return digits
