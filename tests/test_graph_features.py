"""Graph-language features end to end: multi-output nodes, composition, vectors, enums in state, warnings."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import GRAPHS

from violet.compile.interp import Interpreter
from violet.compile.lower import lower
from violet.compile.numba_backend import compile_ir
from violet.dag.graph import load_graph
from violet.errors import GraphError
from violet.nodes.registry import node


@node(outputs=("lo", "hi"))
def band(x: float, width: float) -> tuple[float, float]:
    half = width / 2.0
    return x - half, x + half


def both(ir, **inputs):
    """Outputs from the interpreter and the compiled kernel, checked equal."""
    a, b = Interpreter(ir).step(inputs), compile_ir(ir).step(inputs)
    for k in a:
        assert np.array_equal(np.asarray(a[k]), np.asarray(b[k])), k
    return a


def test_a_multi_output_node(write_graph):
    ir = lower(load_graph(write_graph("""
[graph]
name = "m"
[inputs]
x = { type = "float64" }
[nodes.b]
node = "test_graph_features.band"
in = { x = "x", width = 3 }
[outputs]
low = "b.lo"
high = "b.hi"
""")))
    assert both(ir, x=10.0) == {"low": 8.5, "high": 11.5}  # width 3 -> 3.0 exactly; half 1.5


def test_composition_hoists_unbound_parameters(write_graph):
    ir = lower(load_graph(write_graph(f"""
[graph]
name = "outer"
[inputs]
v = {{ type = "float64" }}
n = {{ type = "int64" }}
[params]
thr = -0.03
[nodes.sz]
graph = "{GRAPHS / 'blue_sizing.toml'}"
in = {{ vel_div = "v", acb_boost = 1.0, acb_beta = 0.0, mc_scale = 1.0, ob_mult = 1.0, esof_score = 0.0, dc_status = "'NEUTRAL'", posture = "'APEX'", capital = 100.0, exchange_max_leverage = "n" }}
params = {{ vd_threshold = "thr" }}
[outputs]
lev = "sz.leverage"
""")))
    names = {p.name for p in ir.params}
    assert "thr" in names and "sz.max_leverage" in names and "sz.vd_threshold" not in names
    # v = -0.06 < the extreme: s = 1, leverage 8; with sz.max_leverage = 4: leverage 4
    assert both(ir, v=-0.06, n=20)["lev"] == 8.0
    assert Interpreter(ir).step({"v": -0.06, "n": 20}, {"sz.max_leverage": 4.0})["lev"] == 4.0


def test_enum_strings_in_bindings_must_be_enum_values(write_graph):
    with pytest.raises(GraphError, match=r"nodes.sz.in.dc_status: 'NEUTRL' is not a value of enum\{CONFIRM"):
        lower(load_graph(write_graph(f"""
[graph]
name = "outer"
[inputs]
v = {{ type = "float64" }}
[nodes.sz]
graph = "{GRAPHS / 'blue_sizing.toml'}"
in = {{ vel_div = "v", acb_boost = 1.0, acb_beta = 0.0, mc_scale = 1.0, ob_mult = 1.0, esof_score = 0.0, dc_status = "'NEUTRL'", posture = "'APEX'", capital = 100.0, exchange_max_leverage = 20 }}
[outputs]
lev = "sz.leverage"
""")))


def test_library_nodes_apply_per_asset_to_vectors(write_graph):
    ir = lower(load_graph(write_graph("""
[graph]
name = "v"
[inputs]
x = { type = "float64", vector = true }
[outputs]
c = "core.clamp01(x)"
cube = "core.cube(x)"
""")))
    out = both(ir, x=np.array([-1.0, 0.5, 2.0]))
    assert list(out["c"]) == [0.0, 0.5, 1.0] and list(out["cube"]) == [-1.0, 0.125, 8.0]


def test_enum_state_and_enum_outputs(write_graph):
    ir = lower(load_graph(write_graph("""
[graph]
name = "e"
[inputs]
up = { type = "bool" }
[enums]
level = ["LOW", "HIGH"]
[state]
current = { enum = "level" }
[outputs]
was = "current"
[next_state]
current = "level.HIGH if up else level.LOW"
""")))
    cols = {"up": np.array([True, False, True])}
    outs, state = compile_ir(ir).scan(cols)
    assert list(outs["was"]) == [0, 1, 0] and state == {"current": 1}
    assert Interpreter(ir).scan(cols)[1] == {"current": 1}


def test_match_must_cover_every_value(write_graph):
    with pytest.raises(GraphError, match=r"missing: B; unknown: C"):
        lower(load_graph(write_graph("""
[graph]
name = "m"
[inputs]
e = { type = "enum", values = ["A", "B"] }
[outputs]
y = "match(e, A=1.0, C=2.0)"
""")))


def test_nodes_that_reach_no_output_are_reported(write_graph):
    graph = load_graph(write_graph("""
[graph]
name = "u"
[inputs]
x = { type = "float64" }
[nodes.used]
expr = "x + 1.0"
[nodes.orphan]
expr = "x * 2.0"
[outputs]
y = "used"
"""))
    assert graph.unused_nodes() == ["orphan"]
