"""Hypothesis writes random well-typed graphs; the compiled kernels must equal the interpreter bit for bit."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from violet.compile.interp import Interpreter
from violet.compile.lower import lower
from violet.compile.numba_backend import compile_ir
from violet.compile.ops import BY_BUILTIN, OpSpec, Refusal, result_type
from violet.dag.graph import load_graph
from violet.compile.identity import identity_view
from violet.dag.types import BOOL, F64, I64, ValueType
from violet.tools.diff import run_step

FLOAT_LITERALS = ["0.0", "-0.0", "0.5", "3.0", "-2.5", "1e308", "5e-324", "1e-300", "0.1"]
# integer literals with an exact float64 value (a literal converted to float must be exact, or lowering refuses it)
INT_LITERALS = ["0", "1", "-1", "7", "4611686018427387904", "-4611686018427387904", "9007199254740992"]
SPECIAL_FLOATS = [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 1.7976931348623157e308, 1.0, -1.0]
INT_EDGES = [0, 1, -1, 2**63 - 1, -(2**63), 2**62, -(2**62), 3]


Sub = Callable[[str], str]  # a random sub-expression of a kind
Pick = Callable[[list[str]], str]  # one of some operator spellings
Form = Callable[[Sub, Pick], str]

# kinds: f float64, i int64, b bool (scalars: outputs); v float64 and m bool vectors over the universe
LEAVES: dict[str, list[str]] = {"f": ["a", "b", "c", *FLOAT_LITERALS], "i": ["i", "j", *INT_LITERALS], "b": ["p", "q"]}
# the forms no catalog op is called by: operators, conditionals and the built-ins written out in ops
HAND_FORMS: dict[str, list[Form]] = {
    "f": [lambda sub, pick: f"({sub('f')} {pick(['+', '-', '*', '/'])} {sub('f')})",
          lambda sub, pick: f"(-{sub('f')})",
          lambda sub, pick: f"clamp({sub('f')}, 0.0, 1.0)",
          lambda sub, pick: f"({sub('f')} if {sub('b')} else {sub('f')})", lambda sub, pick: f"float({sub('i')})",
          lambda sub, pick: f"({sub('f')} ** {pick(['2', '3'])})", lambda sub, pick: f"({sub('i')} / {sub('i')})",
          lambda sub, pick: f"({sub('f')} * {sub('i')})"],
    "i": [lambda sub, pick: f"({sub('i')} {pick(['+', '-', '*'])} {sub('i')})",
          lambda sub, pick: f"({sub('i')} {pick(['//', '%'])} {sub('i')})",
          lambda sub, pick: f"(-{sub('i')})",
          lambda sub, pick: f"{pick(['floor', 'ceil', 'int'])}({sub('f')})"],
    "b": [lambda sub, pick: f"({sub('f')} {pick(['<', '<=', '>', '>=', '==', '!='])} {sub('f')})",
          lambda sub, pick: f"({sub('i')} {pick(['<', '==', '!='])} {sub('i')})",
          lambda sub, pick: f"({sub('b')} {pick(['and', 'or'])} {sub('b')})",
          lambda sub, pick: f"(not {sub('b')})"],
}
SCALARS: dict[str, ValueType] = {"f": F64, "i": I64, "b": BOOL}


def _call(name: str, kinds: tuple[str, ...]) -> Form:
    return lambda sub, pick: f"{name}({', '.join(sub(k) for k in kinds)})"


def catalog_forms(args: dict[str, ValueType], needs: str = "", hardware: bool = False) -> dict[str, list[Form]]:
    """A call of every catalog op that is a built-in (min, abs, sqrt, ...), for every argument kinds of
    `args` its type rule accepts (with `needs`, only those using one of its kinds; with `hardware`, only
    ops with fixed-point and Verilog rules), filed under the kind whose type is its result (the first such
    kind): a new op is drawn the day it is added to the catalog."""
    kinds_of = {}
    for kind, vtype in args.items():
        kinds_of.setdefault(vtype, kind)
    forms: dict[str, list[Form]] = {}
    for name, op in BY_BUILTIN.items():
        if hardware and not lowered(op):
            continue
        for kinds in itertools.product(args, repeat=op.arity):
            if needs and not set(needs) & set(kinds):
                continue
            result = result_type(op.name, [args[k] for k in kinds])
            if not isinstance(result, str) and result in kinds_of:
                forms.setdefault(kinds_of[result], []).append(_call(name, kinds))
    return forms


def lowered(op: OpSpec) -> bool:
    """The op has a fixed-point rule and a Verilog rule (exp, log, ... refuse both)."""
    return not isinstance(op.fixed, Refusal) and not isinstance(op.verilog, Refusal)


def merged(*tables: dict[str, list[Form]]) -> dict[str, list[Form]]:
    """Forms of several tables, kind by kind."""
    return {kind: [form for table in tables for form in table.get(kind, [])] for kind in dict.fromkeys(
        kind for table in tables for kind in table)}


FORMS = merged(HAND_FORMS, catalog_forms(SCALARS))
# v and m are named vectors (only a name is indexed); V and M their elementwise expressions
VECTOR_FORMS: dict[str, list[Form]] = {
    "f": [lambda sub, pick: f"{sub('v')}[{sub('i')}]"],
    "b": [lambda sub, pick: f"{sub('m')}[{sub('i')}]"],
    "i": [lambda sub, pick: f"{sub('w')}[{sub('i')}]"],
    "V": [lambda sub, pick: f"({sub('V')} {pick(['+', '-', '*'])} {sub('f')})", lambda sub, pick: f"(-{sub('V')})"],
    "M": [lambda sub, pick: f"({sub('V')} {pick(['<', '>=', '=='])} {sub('f')})",
          lambda sub, pick: f"(not {sub('M')})"],
}
# the catalog's built-ins taking a vector (argmax(V, M), any(M), min(V, f), sum(V, p), ...; rank(V, M) an
# int64 vector W, named as a node w and indexed); the scalar ones are in FORMS
VECTOR_CALLS = catalog_forms({**SCALARS, "V": F64.as_vector(), "M": BOOL.as_vector(), "W": I64.as_vector()},
                             needs="VMW")
# the windows (hidden state written out by the lowering), scalar and per asset
WINDOW_FORMS: dict[str, list[Form]] = {
    kind: [lambda sub, pick, k=kind: f"lag({sub(k)}, {pick(['1', '3'])})",
           lambda sub, pick, k=kind: f"ewma({sub(k)}, {pick(['0.5', '0.1', 'c'])})",
           lambda sub, pick, k=kind: f"rolling_std({sub(k)}, {pick(['2', '3'])})",
           *[lambda sub, pick, k=kind, w=window: f"{w}({sub(k)}, {pick(['1', '2', '4'])})"
             for window in ("rolling_sum", "rolling_mean", "rolling_min", "rolling_max")]]
    for kind in ("f", "V")} | {"i": [lambda sub, pick: f"lag({sub('i')}, 2, -3)"],
                               "b": [lambda sub, pick: f"lag({sub('b')}, 1, True)"]}
INPUTS = """[inputs]
a = { type = "float64" }
b = { type = "float64" }
c = { type = "float64" }
i = { type = "int64" }
j = { type = "int64" }
p = { type = "bool" }
q = { type = "bool" }
"""


@dataclass(frozen=True)
class Vocabulary:
    """What random graphs are made of: the inputs (and state) they declare, the leaves and the forms
    of each kind, the kinds their nodes take (the scalar nodes are the outputs), and each state
    field's kind (its next value is a random expression of that kind). A kind without forms is
    drawn only as a name (a vector to index or reduce); an upper-case kind is an expression whose
    node is then named as the lower-case kind."""

    declarations: str = INPUTS
    leaves: dict[str, list[str]] = field(default_factory=lambda: LEAVES)
    forms: dict[str, list[Form]] = field(default_factory=lambda: FORMS)
    node_kinds: str = "fffib"
    state: dict[str, str] = field(default_factory=dict)


KERNEL_VOCABULARY = Vocabulary()
SCALAR_KINDS = "fib"


@st.composite
def expr(draw, kind: str, depth: int, nodes: dict[str, str], vocab: Vocabulary = KERNEL_VOCABULARY) -> str:
    """A random expression of a kind, over the vocabulary's leaves, forms and the nodes drawn so far."""
    refs = [n for n, k in nodes.items() if k == kind]
    if depth == 0 or not vocab.forms.get(kind) or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(vocab.leaves[kind] + refs))
    form = draw(st.sampled_from(vocab.forms[kind]))
    return form(lambda k: draw(expr(k, depth - 1, nodes, vocab)), lambda words: draw(st.sampled_from(words)))


@st.composite
def graphs(draw, vocab: Vocabulary = KERNEL_VOCABULARY, min_nodes: int = 1, max_nodes: int = 5) -> str:
    """A random well-typed graph file: min_nodes to max_nodes nodes (the last one scalar), every scalar
    node an output."""
    nodes: dict[str, str] = {}
    lines = []
    count = draw(st.integers(min_nodes, max_nodes))
    for k in range(count):
        kind = draw(st.sampled_from(vocab.node_kinds if k < count - 1 else SCALAR_KINDS))
        text = draw(expr(kind, 3, nodes, vocab))
        nodes[f"n{k}"] = kind.lower()  # an expression kind (upper case) names a value of that kind
        lines.append(f'[nodes.n{k}]\nexpr = "{text}"\n')
    outputs = "\n".join(f'out_{n} = "{n}"' for n, kind in nodes.items() if kind in SCALAR_KINDS)
    next_state = "".join(f'{name} = "{draw(expr(kind, 2, nodes, vocab))}"\n' for name, kind in vocab.state.items())
    return f"""
[graph]
name = "random"
{vocab.declarations}
{"".join(lines)}
[outputs]
{outputs}
""" + (f"[next_state]\n{next_state}" if next_state else "")


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


def assert_compiled_equals_interpreter(write_graph, text: str, columns: dict[str, np.ndarray],
                                       step: bool = False) -> None:
    """The scan kernel (and with `step`, the step kernel called once per row, its state threaded through
    Python as the runtime does) equals the interpreter on every output of every row."""
    ir = lower(load_graph(write_graph(text)))
    cg = compile_ir(ir)
    want = Interpreter(ir).batch(columns)
    for got in [cg.batch(columns)] + ([run_step(cg, columns)] if step else []):
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


STATEFUL_VOCABULARY = Vocabulary(
    declarations=INPUTS + 'price = { type = "float64", vector = true }\nflag = { type = "bool", vector = true }\n'
    + 'lots = { type = "int64", vector = true }\n' + "[state]\nacc = 0.0\nvs = { init = 0.0, vector = true }\nvm = { init = false, vector = true }\n",
    leaves={"f": [*LEAVES["f"], "acc"], "i": LEAVES["i"], "b": LEAVES["b"], "v": ["price", "vs"], "m": ["flag", "vm"],
            "V": ["price", "vs"], "M": ["flag", "vm"], "w": ["lots"], "W": ["lots"]},
    forms=merged(FORMS, VECTOR_FORMS, VECTOR_CALLS, WINDOW_FORMS),
    node_kinds="fffibVMW",
    state={"acc": "f", "vs": "V", "vm": "M"},
)
ASSETS = 3


@st.composite
def vector_rows(draw, n: int = 30) -> dict[str, np.ndarray]:
    """rows(), and a price, a flag and lots per asset."""
    columns = draw(rows(n))
    columns["lots"] = np.array(draw(st.lists(ints, min_size=n * ASSETS, max_size=n * ASSETS)),
                               dtype=np.int64).reshape(n, ASSETS)
    columns["price"] = np.array(draw(st.lists(floats, min_size=n * ASSETS, max_size=n * ASSETS))).reshape(n, ASSETS)
    columns["flag"] = np.array(draw(st.lists(st.booleans(), min_size=n * ASSETS, max_size=n * ASSETS))).reshape(n, ASSETS)
    return columns


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(graphs(STATEFUL_VOCABULARY), vector_rows())
def test_vector_state_and_windows_compiled_equal_the_interpreter_bit_for_bit(write_graph, text, columns):
    """Graphs with a scalar and two per-asset state fields, vector ops and the windows: the scan kernel and
    the step kernel (its per-asset state handed back in from Python) equal the interpreter."""
    assert_compiled_equals_interpreter(write_graph, text, columns, step=True)


@pytest.mark.long
@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow, HealthCheck.data_too_large])
@given(graphs(min_nodes=150, max_nodes=200), rows(n=8))
def test_a_graph_of_a_thousand_ops_compiles_and_agrees(write_graph, text, columns):
    """Kernels with bytecode offsets in the tens of thousands: Numba's temporaries `$<variable><offset>` must not
    collide (with variables named v3 and v38, `$v38694` was both: "Type of variable cannot be determined")."""
    assert_compiled_equals_interpreter(write_graph, text, columns)


def test_the_stateful_vocabulary_reaches_vector_state_and_every_window(tmp_path):
    """The drawn graphs do read per-asset state and declare every window's hidden fields, scalar and per
    asset: one graph per seed over a fixed sequence, lowered, its state fields collected."""
    fields: set[tuple[str, bool]] = set()
    vector_reads: set[str] = set()

    @settings(max_examples=400, database=None, derandomize=True, deadline=None)
    @given(graphs(STATEFUL_VOCABULARY))
    def collect(text: str) -> None:
        path = tmp_path / "random.toml"
        path.write_text(text)
        ir = lower(load_graph(path))
        fields.update((s.name.rpartition(".")[2].rstrip("0123456789_"), s.type.vector) for s in ir.state)
        vector_reads.update(ir.ops[a].name for op in ir.ops for a in op.args if ir.ops[a].kind == "state")

    collect()
    windows = {"lag", "rolling_sum", "rolling_mean", "rolling_min", "rolling_max", "rolling_std", "ewma"}
    assert {(w, v) for w in windows for v in (False, True)} <= fields, fields
    assert {"acc", "vs", "vm"} <= vector_reads
