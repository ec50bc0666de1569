"""Hypothesis writes random well-typed graphs; the compiled kernels must equal the interpreter bit for bit."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from violet.compile.interp import Interpreter
from violet.compile.lower import lower
from violet.compile.numba_backend import compile_ir
from violet.dag.graph import load_graph
from violet.tools.diff import identity_view

FLOAT_LITERALS = ["0.0", "-0.0", "0.5", "3.0", "-2.5", "1e308", "5e-324", "1e-300", "0.1"]
# integer literals with an exact float64 value (a literal converted to float must be exact, or lowering refuses it)
INT_LITERALS = ["0", "1", "-1", "7", "4611686018427387904", "-4611686018427387904", "9007199254740992"]
SPECIAL_FLOATS = [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 1.7976931348623157e308, 1.0, -1.0]
INT_EDGES = [0, 1, -1, 2**63 - 1, -(2**63), 2**62, -(2**62), 3]


@st.composite
def expr(draw, kind: str, depth: int, nodes: dict[str, str]) -> str:
    """A random expression of type kind (f, i or b)."""
    refs = [n for n, k in nodes.items() if k == kind]
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        leaves = {"f": ["a", "b", "c", *FLOAT_LITERALS], "i": ["i", "j", *INT_LITERALS], "b": ["p", "q"]}[kind]
        return draw(st.sampled_from(leaves + refs))
    sub = lambda k: draw(expr(k, depth - 1, nodes))  # noqa: E731
    forms = {
        "f": [lambda: f"({sub('f')} {draw(st.sampled_from(['+', '-', '*', '/']))} {sub('f')})",
              lambda: f"{draw(st.sampled_from(['min', 'max']))}({sub('f')}, {sub('f')})",
              lambda: f"abs({sub('f')})", lambda: f"(-{sub('f')})", lambda: f"clamp({sub('f')}, 0.0, 1.0)",
              lambda: f"({sub('f')} if {sub('b')} else {sub('f')})", lambda: f"float({sub('i')})",
              lambda: f"({sub('f')} ** {draw(st.integers(2, 3))})", lambda: f"({sub('i')} / {sub('i')})",
              lambda: f"({sub('f')} * {sub('i')})"],
        "i": [lambda: f"({sub('i')} {draw(st.sampled_from(['+', '-', '*']))} {sub('i')})",
              lambda: f"{draw(st.sampled_from(['min', 'max']))}({sub('i')}, {sub('i')})",
              lambda: f"abs({sub('i')})", lambda: f"(-{sub('i')})",
              lambda: f"{draw(st.sampled_from(['floor', 'ceil', 'int']))}({sub('f')})",
              lambda: f"select({sub('b')}, {sub('i')}, {sub('i')})"],
        "b": [lambda: f"({sub('f')} {draw(st.sampled_from(['<', '<=', '>', '>=', '==', '!=']))} {sub('f')})",
              lambda: f"({sub('i')} {draw(st.sampled_from(['<', '==', '!=']))} {sub('i')})",
              lambda: f"({sub('b')} {draw(st.sampled_from(['and', 'or']))} {sub('b')})",
              lambda: f"(not {sub('b')})"],
    }[kind]
    return draw(st.sampled_from(forms))()


@st.composite
def graphs(draw, min_nodes: int = 1, max_nodes: int = 5) -> str:
    nodes: dict[str, str] = {}
    lines = []
    for k in range(draw(st.integers(min_nodes, max_nodes))):
        kind = draw(st.sampled_from("fffib"))
        text = draw(expr(kind, 3, nodes))
        nodes[f"n{k}"] = kind
        lines.append(f'[nodes.n{k}]\nexpr = "{text}"\n')
    outputs = "\n".join(f'out_{n} = "{n}"' for n in nodes)
    return f"""
[graph]
name = "random"
[inputs]
a = {{ type = "float64" }}
b = {{ type = "float64" }}
c = {{ type = "float64" }}
i = {{ type = "int64" }}
j = {{ type = "int64" }}
p = {{ type = "bool" }}
q = {{ type = "bool" }}
{"".join(lines)}
[outputs]
{outputs}
"""


floats = st.one_of(st.sampled_from(SPECIAL_FLOATS), st.floats(allow_nan=True, allow_infinity=True, width=64))
ints = st.one_of(st.sampled_from(INT_EDGES), st.integers(-(2**63), 2**63 - 1))


@st.composite
def rows(draw, n: int = 40) -> dict[str, np.ndarray]:
    return {"a": np.array(draw(st.lists(floats, min_size=n, max_size=n))),
            "b": np.array(draw(st.lists(floats, min_size=n, max_size=n))),
            "c": np.array(draw(st.lists(floats, min_size=n, max_size=n))),
            "i": np.array(draw(st.lists(ints, min_size=n, max_size=n)), dtype=np.int64),
            "j": np.array(draw(st.lists(ints, min_size=n, max_size=n)), dtype=np.int64),
            "p": np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n))),
            "q": np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))}


def assert_compiled_equals_interpreter(write_graph, text: str, columns: dict[str, np.ndarray]) -> None:
    ir = lower(load_graph(write_graph(text)))
    got = compile_ir(ir).batch(columns)
    want = Interpreter(ir).batch(columns)
    for name in ir.output_names:
        g, w = got[name], want[name]
        if g.dtype == np.float64:  # exact bits; every NaN one value (docs/semantics.md)
            g, w = identity_view(g), identity_view(w)
        assert np.array_equal(g, w), (name, text, got[name], want[name])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(graphs(), rows())
def test_compiled_equals_interpreter_bit_for_bit(write_graph, text, columns):
    assert_compiled_equals_interpreter(write_graph, text, columns)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow, HealthCheck.data_too_large])
@given(graphs(min_nodes=150, max_nodes=200), rows(n=8))
def test_a_graph_of_a_thousand_ops_compiles_and_agrees(write_graph, text, columns):
    """Kernels with bytecode offsets in the tens of thousands: Numba's temporaries `$<variable><offset>` must not
    collide (with variables named v3 and v38, `$v38694` was both: "Type of variable cannot be determined")."""
    assert_compiled_equals_interpreter(write_graph, text, columns)
