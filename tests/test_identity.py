"""One identity for diff, the divergence monitor and journal verify (violet/compile/identity.py)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from violet.compile.identity import bits, first_difference, same


def test_floats_by_bits_every_nan_one_value():
    assert not same(0.0, -0.0) and same(-0.0, -0.0)
    assert not same(1.0, math.nextafter(1.0, 2.0))  # one ULP
    assert same(math.nan, -math.nan) and same(np.float64("nan"), float("nan"))
    assert bits(-0.0) == "0x8000000000000000" and bits(np.float64(1.0)) == "0x3ff0000000000000"


def test_an_int_is_a_float_only_when_exactly_that_value():
    assert same(2, 2.0) and same(np.int64(3), 3.0)
    assert not same(2**53 + 1, float(2**53))  # the float is 2**53: the int is not it
    assert not same(10**400, math.inf) and not same("2", 2.0) and not same(True, 1.0)


def test_records_name_their_first_differing_field():
    fields = ("action", "leverage", "pnl")
    mine = {"action": "EXIT", "leverage": 2.5, "pnl": math.nan}
    assert first_difference(fields, mine, {**mine, "pnl": -math.nan}) is None
    assert first_difference(fields, mine, {**mine, "leverage": 2.5000000000000004, "pnl": 0.0}) == "leverage"
    assert first_difference(fields, mine, {"action": "EXIT", "leverage": 2.5}) == "pnl"  # missing differs
    assert first_difference(fields, {**mine, "action": np.str_("EXIT")}, mine) is None


@given(st.floats(allow_nan=True, allow_infinity=True), st.floats(allow_nan=True, allow_infinity=True))
def test_same_is_bit_equality_up_to_nan(a, b):
    expected = (math.isnan(a) and math.isnan(b)) or np.float64(a).view(np.uint64) == np.float64(b).view(np.uint64)
    assert same(a, b) == expected == same(b, a)
    assert same([a, 1.0], [b, 1.0]) == expected


def test_trade_streams_differ_where_a_field_does_and_where_one_ends():
    """stream_differences, by hand: record k against record k, the first differing field in the given order,
    -0.0 not 0.0, NaN equal to NaN, and one "count" difference where the shorter stream ends."""
    from violet.compile.identity import Difference, stream_differences

    a = [{"exit_scan": 3, "pnl": 0.5, "why": "TP"}, {"exit_scan": 7, "pnl": float("nan"), "why": "SL"},
         {"exit_scan": 9, "pnl": -0.0, "why": "TP"}]
    assert stream_differences(["exit_scan", "pnl", "why"], a, [dict(r) for r in a]) == []
    b = [dict(r) for r in a]
    b[2] = {"exit_scan": 9, "pnl": 0.0, "why": "SL"}
    assert stream_differences(["exit_scan", "pnl", "why"], a, b) == [Difference(2, "pnl", -0.0, 0.0)]
    assert stream_differences(["why", "pnl"], a, b) == [Difference(2, "why", "TP", "SL")]
    assert stream_differences(["exit_scan"], a, a[:1]) == [Difference(1, "count", 3, 1)]
    assert stream_differences(["exit_scan"], [], a) == [Difference(0, "count", 0, 3)]
