"""A node's declared typical range: the format hardware built with --bound-inputs gives its value.

A value the analysis cannot bound (a short's pnl, `(entry - price) / entry`, is
unbounded below) falls back to `--int-bits` integer bits, and its divider takes
a quotient step per bit. Declared, the node's format holds the typical range and
saturates beyond it, like an input's; the float64 code does not change.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from conftest import GRAPHS

from violet.compile.cosim import cosim_rows, cosimulate
from violet.compile.fixed import FixedConfig, FixedModel
from violet.compile.lower import lower
from violet.compile.qformat import Fmt
from violet.compile.verilog import build_netlist
from violet.dag.graph import load_graph
from violet.errors import GraphError

TRIPLED = """
[graph]
name = "tripled"
[inputs]
x = { type = "float64", finite = true, typical = [-4.0, 4.0] }
[nodes.y]
expr = "x * 3.0"
typical = [-1.0, 1.0]
[nodes.z]
expr = "y + 0.5"
[outputs]
y = "y"
z = "z"
"""


def test_a_declared_range_sizes_the_node_and_saturates_it(write_graph, tmp_path):
    """y = 3x declares [-1, 1]: Q1.8 (it must hold 1, so [-2, 2 - 2**-8]), saturating. x = 1 makes 3, held
    as 511/256; x = -0.25 makes -0.75 exactly. z = y + 0.5 is proven in [-1.5, 2.5) from y's format:
    Q2.8, no fallback. The module equals the model bit for bit, saturations included, under both
    simulators."""
    model = FixedModel(lower(load_graph(write_graph(TRIPLED))), FixedConfig(8, 24, bound_inputs=True))
    out = dict(model.ir.outputs)
    assert model.formats[out["y"]] == Fmt(1, 8, saturates=True) and model.declared == {out["y"]}
    assert model.formats[out["z"]] == Fmt(2, 8) and model.unbounded() == []
    assert model.step({"x": 1.0}) == {"y": 511 / 256, "z": 639 / 256}
    assert model.step({"x": -0.25}) == {"y": -0.75, "z": -0.25}
    assert model.step({"x": -4.0}) == {"y": -2.0, "z": -1.5}
    rows = [{"x": x} for x in (1.0, -0.25, -4.0, 4.0 - 1 / 256, 2 / 3, -2 / 3)] + cosim_rows(model, 300, seed=2)
    for simulator in ("icarus", "verilator"):
        report = cosimulate(model, rows, tmp_path / simulator, "tripled", simulator=simulator)
        assert report.mismatches == 0 and report.vectors == len(rows), report.render()


def test_without_bound_inputs_the_declaration_changes_nothing_and_hashes_only_the_content(write_graph):
    """The range is a hint for hardware: without --bound-inputs y is what the analysis proves (here nothing:
    the fallback); the float64 code is the same (code hash), the graph is not (content hash)."""
    declared = lower(load_graph(write_graph(TRIPLED)))
    plain = lower(load_graph(write_graph(TRIPLED.replace("typical = [-1.0, 1.0]\n", ""), "plain.toml")))
    model = FixedModel(declared, FixedConfig(8, 24))
    assert model.declared == set() and "node y" in [what for what, _ in model.unbounded()]
    assert declared.code_hash == plain.code_hash and declared.content_hash != plain.content_hash
    assert plain.typical == () and declared.typical == ((dict(declared.outputs)["y"], -1.0, 1.0),)


@pytest.mark.parametrize("node, message", [
    ('[nodes.y]\nexpr = "x"\ntypical = [-1.0, 1.0]', "computes nothing of its own"),
    ('[nodes.y]\nexpr = "x > 0.0"\ntypical = [0.0, 1.0]', "no numeric value"),
    ('[nodes.y]\nexpr = "x * 2.0"\ntypical = [1.0, -1.0]', "finite lo <= hi"),
    ('[nodes.y]\nexpr = "x * 2.0"\ntypical = [0.0, inf]', "finite lo <= hi"),
    ('[nodes.y]\nexpr = "x * 2.0"\ntypical = ["a", 1.0]', "must be a number"),
])
def test_a_declaration_with_nothing_to_bound_is_refused_naming_the_node(write_graph, node, message):
    text = f'[graph]\nname = "g"\n[inputs]\nx = {{ type = "float64" }}\n{node}\n[outputs]\ny = "y"\n'
    with pytest.raises(GraphError, match=message) as err:
        lower(load_graph(write_graph(text)))
    assert "nodes.y" in str(err.value)


def test_a_composed_graph_node_has_no_one_value_to_declare(tmp_path, write_graph):
    (tmp_path / "exit.toml").write_text((GRAPHS / "blue_exit.toml").read_text())
    text = ('[graph]\nname = "g"\n[inputs]\nprice = { type = "float64", vector = true }\n'
            '[nodes.pos]\ngraph = "exit.toml"\ntypical = [0.0, 1.0]\n'
            'in = { scan_id = 0, price = "price", want_entry = false, entry_asset = -1, entry_leverage = 1.0, '
            'entry_notional = 1.0, bar_close = true }\n[outputs]\npnl = "pos.pnl"\n')
    with pytest.raises(GraphError, match="composed `graph` node"):
        load_graph(write_graph(text))


def test_a_declared_product_is_not_regrouped_away(write_graph):
    """p = a * b declares a range, so its value saturates there: the chain p * c * d keeps p as a factor."""
    text = """
[graph]
name = "chain"
[inputs]
a = { type = "float64", finite = true, typical = [0.0, 2.0] }
b = { type = "float64", finite = true, typical = [0.0, 2.0] }
c = { type = "float64", finite = true, typical = [0.0, 2.0] }
[nodes.p]
expr = "a * b"
typical = [0.0, 1.0]
[outputs]
q = "p * c * c"
"""
    model = FixedModel(lower(load_graph(write_graph(text))), FixedConfig(8, 24, bound_inputs=True))
    (p,) = model.declared
    assert [model.ir.ops[a].name for a in model.ir.ops[p].args] == ["a", "b"]
    assert model.formats[p] == Fmt(1, 8, saturates=True)
    assert model.step({"a": 2.0, "b": 2.0, "c": 1.0}) == {"q": 511 / 256}  # 4 held as 2 - 2**-8


def test_blue_exit_pnl_is_held_in_its_declared_range_and_its_divider_shortens():
    """blue_exit's pnl declares [-2, 1] (the price at most triple the entry): Q1.24, a quotient of 25 bits
    where the fallback Q24.24 took 48. An open short at 1.0 whose price is 4.0 has pnl -3: held at -2;
    at 0.99 it is 0.01 to the format's ULP."""
    ir = lower(load_graph(GRAPHS / "blue_exit.toml"))
    model = FixedModel(ir, FixedConfig(24, 24, bound_inputs=True, assets=4))
    pnl = next(i for i, _, _ in model.ir.typical)
    assert model.ir.ops[pnl].node == "pnl" and model.formats[pnl] == Fmt(1, 24, saturates=True)
    state = {**model.initial_state(4), "open": 1, "asset": 0, "entry_price": 1 << 24}
    row = {"scan_id": 7, "price": [4.0, 1.0, 1.0, 1.0], "want_entry": False, "entry_asset": -1,
           "entry_leverage": 1.0, "entry_notional": 1.0, "bar_close": True}
    assert model.step(row, state)["pnl"] == -2.0
    assert abs(model.step({**row, "price": [0.99, 1.0, 1.0, 1.0]}, state)["pnl"] - 0.01) <= 2 ** -24
    fallback = FixedModel(replace(ir, typical=(), _hashes={}), FixedConfig(24, 24, bound_inputs=True, assets=4))
    declared, undeclared = (build_netlist(m, "e", 4)[0] for m in (model, fallback))
    assert sum(c.delay for c in declared.path) < 0.7 * sum(c.delay for c in undeclared.path)
