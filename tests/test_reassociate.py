"""Chains of products regrouped for hardware, earliest factors first: which products move, which stay, and
that the graph, its hashes and its float value stay the same."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from violet.compile.fixed import FixedConfig, FixedModel
from violet.compile.interp import Interpreter
from violet.compile.lower import lower
from violet.dag.graph import load_graph

CHAIN = """
[graph]
name = "chain"
[inputs]
a = { type = "float64", finite = true, ge = 0.5, le = 2.0 }
b = { type = "float64", finite = true, ge = 0.5, le = 2.0 }
c = { type = "float64", finite = true, ge = 0.5, le = 2.0 }
x = { type = "float64", finite = true, ge = 0.5, le = 2.0 }
[nodes]
late = { expr = "x / a / b" }
shared = { expr = "a * b" }
[outputs]
out = "a * b * late * c"
twice = "shared * c * shared"
pair = "late * c"
"""


def test_the_late_factor_meets_one_product_and_a_shared_one_stays_a_factor(write_graph):
    """out = ((a * b) * late) * c, as written, has late (two divisions deep) under two products; regrouped,
    a * b then * c come first and late meets the last one only. In twice, shared (read twice) is a factor, not
    regrouped through; pair has two factors: untouched. Same number of products, same hashes, same value."""
    ir = lower(load_graph(write_graph(CHAIN)))
    regrouped = FixedModel(ir, FixedConfig(16, 8, True)).ir
    out = regrouped.ops[dict(regrouped.outputs)["out"]]
    assert out.kind == "mul"
    last, first = sorted((regrouped.ops[a] for a in out.args), key=lambda op: op.kind == "mul")
    assert last.kind == "div" and first.kind == "mul"  # late, times (a * b) * c
    assert {regrouped.ops[a].name or regrouped.ops[a].kind for a in first.args} == {"c", "mul"}
    assert sum(op.kind == "mul" for op in regrouped.ops) == sum(op.kind == "mul" for op in ir.ops)
    twice = regrouped.ops[dict(regrouped.outputs)["twice"]]
    (shared,) = [op.id for op in regrouped.ops if op.node == "shared"]
    chain = [twice, *(regrouped.ops[a] for a in twice.args if regrouped.ops[a].node == twice.node)]
    assert len(chain) == 2 and sum(a == shared for op in chain for a in op.args) == 2
    assert (regrouped.content_hash, regrouped.code_hash) == (ir.content_hash, ir.code_hash)
    assert all(a < op.id for op in regrouped.ops for a in op.args)
    row = {"a": 1.25, "b": 0.75, "c": 1.5, "x": 1.75}
    assert Interpreter(regrouped).step(row) == Interpreter(ir).step(row)  # exact here: every value is dyadic


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.floats(0.5, 2.0), min_size=4, max_size=4))
def test_the_regrouped_model_stays_within_its_rounding_of_the_written_one(write_graph, values):
    """The fixed-point model of the regrouped graph and of the graph as written differ only by where the
    products round: a few ULPs (2**-16 each) apart, never more."""
    ir = lower(load_graph(write_graph(CHAIN)))
    row = dict(zip("abcx", values))
    models = [FixedModel(ir, FixedConfig(16, 8, True, as_written=w)) for w in (True, False)]
    assert models[0].ir is ir and models[1].ir is not ir
    written, regrouped = (m.step(row) for m in models)
    assert all(abs(written[k] - regrouped[k]) <= 8 * 2**-16 for k in written)


def test_a_chain_with_a_factor_of_no_finite_range_keeps_the_written_order(write_graph):
    """x declared without bounds (it may be infinite or NaN) makes late unbounded: out's products saturate,
    and where they do stays the graph's, ((a * b) * late) * c; pair's chain of two is the same either way."""
    ir = lower(load_graph(write_graph(CHAIN.replace('x = { type = "float64", finite = true, ge = 0.5, le = 2.0 }',
                                                     'x = { type = "float64" }'))))
    model = FixedModel(ir, FixedConfig(16, 8, True))
    assert [op.render() for op in model.ir.ops if op.node == "out"] == [op.render() for op in ir.ops if op.node == "out"]

