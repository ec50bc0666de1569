"""The fixed-point model: formats from ranges, round half up, saturation, and its error against float64."""

from __future__ import annotations

import pytest
from conftest import GRAPHS
from hypothesis import given
from hypothesis import strategies as st

from violet.compile.fixed import (
    FixedConfig,
    FixedModel,
    Fmt,
    LoweringError,
    error_report,
    int_bits_for,
    monte_carlo_rows,
    quantize,
)
from violet.compile.lower import lower
from violet.compile.qformat import divider_width, shift_round, signed_digits
from violet.compile.ranges import Interval
from violet.dag.graph import load_graph


@pytest.mark.parametrize("x, k, expected", [
    (5, 1, 3),     # 2.5 -> 3
    (-5, 1, -2),   # -2.5 -> -2: a tie goes toward +infinity
    (-7, 2, -2),   # -1.75 -> -2
    (-6, 2, -1),   # -1.5 -> -1 (tie)
    (6, 2, 2),     # 1.5 -> 2 (tie)
    (-1, 1, 0),    # -0.5 -> 0 (tie)
])
def test_round_half_up_on_right_shifts(x, k, expected):
    assert shift_round(x, k) == expected


def test_quantize_rounds_and_saturates():
    q = Fmt(int_bits=2, frac_bits=2)  # [-4, 3.75] in steps of 0.25
    assert (q.lo, q.hi, q.width) == (-16, 15, 5)
    assert quantize(1.125, q) == 5          # 4.5 quarters -> 5 (tie up)
    assert quantize(-1.125, q) == -4        # -4.5 quarters -> -4 (tie toward +inf)
    assert quantize(100.0, q) == 15 and quantize(-100.0, q) == -16
    assert quantize(float("inf"), q) == 15
    assert quantize(1e308, q) == 15 and quantize(-1e308, q) == -16  # saturates; scaling first would overflow
    assert quantize(1e308, Fmt(int_bits=2, frac_bits=900)) == (1 << 902) - 1
    with pytest.raises(LoweringError, match="NaN has no fixed-point value"):
        quantize(float("nan"), q)


@pytest.mark.parametrize("lo, hi, frac, bits", [
    (0.0, 1.0, 24, 1), (0.0, 0.99, 24, 0), (-1.0, 0.5, 24, 0), (-1.0, 1.0, 0, 1), (1, 200, 0, 8),
    (0.5, 8.0, 24, 4), (-9.0, 0.0, 8, 4),
])
def test_integer_bits_from_a_range(lo, hi, frac, bits):
    assert int_bits_for(Interval(lo, hi), frac) == bits


def test_unbounded_ranges_saturate_at_the_cap():
    ir = lower(load_graph(GRAPHS / "blue_sizing.toml"))
    model = FixedModel(ir, FixedConfig(frac_bits=16, max_int_bits=20))
    formats = {name: model.formats[i] for name, i in model.ir.outputs}
    assert str(formats["s"]) == "Q1.16" and str(formats["esof"]) == "Q1.16"
    # leverage is proven in [0.5, 9], so exch_lev = ceil(leverage) in [1, 9]: 4 integer bits, no clamp
    assert str(formats["leverage"]) == "Q4.16" and str(formats["exch_lev"]) == "Q4.0"
    assert formats["regime"].saturates and formats["regime"].int_bits == 20


def test_bound_inputs_sizes_each_input_to_its_typical_range_and_proves_every_value():
    """--bound-inputs: acb_boost typical [0, 2] needs 2 integer bits (2 > 2 - 2**-n), capital [100, 1e6] 20,
    the exchange limit [1, 125] 7; from there every value has a finite range: regime <= (4 - u) * (1 + (2 - u)
    * 1) * (2 - u) < 24 (5 bits), notional <= 2**20 * 0.2 * 9 < 2**21. Beyond its format an input saturates."""
    ir = lower(load_graph(GRAPHS / "blue_sizing.toml"))
    assert [what for what, _ in FixedModel(ir, FixedConfig(frac_bits=24)).unbounded()] == [
        "input acb_beta", "input acb_boost", "input capital", "input esof_score", "input mc_scale", "input ob_mult",
        "input vel_div", "node esof", "node s", "node regime", "node cmax", "node raw", "node notional", "node margin"]
    model = FixedModel(ir, FixedConfig(frac_bits=24, bound_inputs=True))
    inputs = {op.name: op.id for op in model.ir.leaves("input")}
    assert model.formats[inputs["acb_boost"]] == Fmt(2, 24) and model.formats[inputs["capital"]] == Fmt(20, 24)
    assert model.formats[inputs["exchange_max_leverage"]] == Fmt(7, 0)
    assert model.unbounded() == []
    formats = {name: str(model.formats[i]) for name, i in model.ir.outputs}
    assert formats["regime"] == "Q5.24" and formats["notional"] == "Q21.24" and formats["leverage"] == "Q4.24"
    row = {"vel_div": -0.03, "acb_boost": 1.0, "acb_beta": 0.5, "mc_scale": 1.0, "ob_mult": 1.0, "esof_score": 0.0,
           "dc_status": 1, "posture": 0, "capital": 5e6, "exchange_max_leverage": 10}
    assert model.trace(row)[inputs["capital"]] == Fmt(20, 24).hi  # 5e6 > 2**20: saturated at the input


def test_sizing_error_against_float64_is_small():
    ir = lower(load_graph(GRAPHS / "blue_sizing.toml"))
    model = FixedModel(ir, FixedConfig(frac_bits=24))
    report = error_report(model, monte_carlo_rows(model, 1500, seed=3))
    # each rounding is at most 2**-25; a few dozen ops on values below 10 stay well under 1e-4 absolute
    assert report.max_abs["exch_lev"] == 0 and report.max_abs["dc"] == 0
    for name in ("s", "base", "esof", "cmax", "leverage"):
        assert report.max_abs[name] < 1e-4, (name, report.render())
    assert report.max_rel["notional"] < 1e-4 and report.max_rel["margin"] < 1e-4


@given(st.integers(0, 40), st.integers(0, 40), st.integers(0, 32), st.integers(0, 40), st.booleans())
def test_the_divider_width_holds_every_intermediate_of_any_formats(num_int, den_int, frac, out_int, int_divisor):
    """divider_width (the one place the RTL divider is sized) against the divider's exact intermediates
    at the extremes of its operands: the shifted numerator and its negation, the rounding numerator
    2 * (a << n) + |b|, the doubled divisor 2 * |b|, and the result's saturation bounds."""
    num, out = Fmt(num_int, frac), Fmt(out_int, frac)
    den = Fmt(den_int, 0 if int_divisor else frac)
    w = divider_width(num, den, out)
    lo, hi = -(1 << (w - 1)), (1 << (w - 1)) - 1
    shift = den.frac_bits
    for a in (num.lo, num.hi):
        for b in (den.lo, den.hi, -1, 1):
            sn = -(a << shift) if b < 0 else a << shift
            for x in (sn, -sn, 2 * sn + abs(b), 2 * abs(b), abs(b)):
                assert lo <= x <= hi, (num, den, out, w, a, b, x)
    assert lo <= out.lo and out.hi <= hi


@given(st.integers(-(1 << 80), 1 << 80))
def test_signed_digits_sum_to_the_number_and_are_never_adjacent(c):
    """The non-adjacent form: sum(sign * 2**k) is c, no two digits at neighbouring k, and never more digits
    than c has set bits (7 = 8 - 1: two, where binary has three)."""
    digits = signed_digits(c)
    assert sum(sign << k for sign, k in digits) == c
    assert all(sign in (1, -1) for sign, _ in digits)
    ks = [k for _, k in digits]
    assert all(b - a >= 2 for a, b in zip(ks, ks[1:]))
    assert len(digits) <= bin(abs(c)).count("1") + (c < 0)
    assert signed_digits(7) == [(-1, 0), (1, 3)] and signed_digits(int(7.5 * 2**16)) == [(-1, 15), (1, 19)]



def test_a_state_fields_raw_bounds_grow_from_its_initial_value_to_a_fixpoint():
    """blue_exit over 4 assets, --bound-inputs (price Q2.24, never negative): the entry price starts at 0 and
    is only ever a price or 0, so its raw bounds are [0, the price's top], not its whole format (what lets
    pnl divide by it as a non-negative divisor); bars_held grows by one a scan, so after the rounds it takes
    its whole format; open is a bool."""
    model = FixedModel(lower(load_graph(GRAPHS / "blue_exit.toml")), FixedConfig(24, 24, bound_inputs=True, assets=4))
    state = {op.name: op.id for op in model.ir.leaves("state")}
    price = next(op.id for op in model.ir.leaves("input") if op.name == "price")
    assert model.raw_bounds(price) == (0, Fmt(2, 24).hi)
    assert model.raw_bounds(state["entry_price"]) == (0, Fmt(2, 24).hi)
    bars = model.formats[state["bars_held"]]
    assert model.raw_bounds(state["bars_held"]) == (bars.lo, bars.hi)
