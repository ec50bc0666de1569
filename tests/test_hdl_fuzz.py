"""Random graphs in random fixed-point formats: the generated Verilog equals the fixed-point model, bit for bit.

The graphs come from the strategy of tests/test_random_graphs.py, its vocabulary
extended with what the hardware path adds: gathers over a 3-asset universe
(indices reaching below 0 and past N), argmax, any/all, elementwise vector
nodes, three state fields (a float and an int register, and a float register
per asset) and lags with a finite fill (shift registers). Each example picks
`frac_bits` in [0, 32], `int_bits` in [1, 40] and a pipeline depth in [0, 4]
(0: combinational; a stateful graph pipelined takes a row every depth + 1
clocks, its state written from the last stage), lowers, and co-simulates a
sequence of rows from reset.

Cost is bounded for CI: VIOLET_FUZZ_EXAMPLES graphs (100 by default, about
0.1 s each) under Icarus, and one in fifty of them (at least 2, each a
Verilator build of 10 to 30 s) under Verilator. For a longer hunt:
`VIOLET_FUZZ_EXAMPLES=2000 python -m pytest -q tests/test_hdl_fuzz.py`.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from test_random_graphs import HAND_FORMS, INPUTS, LEAVES, SCALARS, VECTOR_FORMS, Form, Vocabulary, catalog_forms, \
    graphs, lowered, merged

from violet.compile.cosim import cosim_rows, cosimulate
from violet.compile.fixed import FixedConfig, FixedModel, LoweringError
from violet.compile.lower import lower
from violet.compile.ops import BY_BUILTIN
from violet.dag.graph import load_graph
from violet.dag.types import BOOL, F64, I64

EXAMPLES = int(os.environ.get("VIOLET_FUZZ_EXAMPLES", "100"))
ASSETS = 3
ROWS = 300

# lags with a finite fill are shift registers (the other windows start at NaN, which a register cannot hold)
LAG_FORMS: dict[str, list[Form]] = {kind: [lambda sub, pick, k=kind, f=fill: f"lag({sub(k)}, {pick(['1', '2'])}, {f})"]
                                    for kind, fill in (("f", "0.25"), ("V", "-1.0"), ("i", "1"), ("b", "True"))}
# the catalog's built-ins the hardware takes (exp, log, ... are refused there): on scalars, and taking a
# vector (argmax(V, M), any(M), min(V, f), sum(V, p), ...; rank(V, M) an int64 vector W, named as a node w
# and indexed)
SCALAR_CALLS = catalog_forms(SCALARS, hardware=True)
VECTOR_CALLS = catalog_forms({**SCALARS, "V": F64.as_vector(), "M": BOOL.as_vector(), "W": I64.as_vector()},
                             needs="VMW", hardware=True)

HARDWARE = Vocabulary(
    declarations=INPUTS.replace('a = { type = "float64" }', 'a = { type = "float64", finite = true, ge = -8.0, le = 8.0 }')
    .replace('i = { type = "int64" }', 'i = { type = "int64", ge = -2, le = 4 }')  # gathers in and out of [0, 3)
    + 'price = { type = "float64", vector = true, finite = true, ge = -4.0, le = 4.0 }\n'
    + 'flag = { type = "bool", vector = true }\n'
    + 'lots = { type = "int64", vector = true, ge = -3, le = 3 }\n'
    + "[state]\nacc = 0.0\ncnt = 0\nvacc = { init = 0.5, vector = true }\n",
    leaves={"f": [*LEAVES["f"], "acc"], "i": [*LEAVES["i"], "cnt"], "b": LEAVES["b"], "v": ["price", "vacc"],
            "m": ["flag"], "V": ["price", "vacc"], "M": ["flag"], "w": ["lots"], "W": ["lots"]},
    forms=merged(HAND_FORMS, SCALAR_CALLS, VECTOR_FORMS, VECTOR_CALLS, LAG_FORMS),
    node_kinds="fffibVMW",
    state={"acc": "f", "cnt": "i", "vacc": "V"},
)

formats = st.tuples(st.integers(0, 32), st.integers(1, 40), st.integers(0, 4))
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def cosimulate_random(text: str, frac_bits: int, int_bits: int, stages: int, seed: int, simulator: str) -> None:
    """Lower one random graph in one format and pipeline depth, and co-simulate it from reset: 0 mismatches,
    or the graph."""
    with tempfile.TemporaryDirectory(prefix="violet-fuzz-") as tmp:
        path = Path(tmp) / "random.toml"
        path.write_text(text)
        model = FixedModel(lower(load_graph(path)), FixedConfig(frac_bits=frac_bits, max_int_bits=int_bits))
        rows = cosim_rows(model, ROWS, seed=seed, assets=ASSETS)
        try:
            report = cosimulate(model, rows, Path(tmp) / "sim", "random", assets=ASSETS, simulator=simulator,
                                pipeline=stages)
        except LoweringError as err:  # refused, as documented: an index needs ceil(log2(N)) integer bits
            assert re.search(r"(argmax|argmin|rank) over", str(err)) and int_bits < (ASSETS - 1).bit_length(), err
            reject()
    assert report.vectors == ROWS and report.mismatches == 0, f"Q*.{frac_bits}, {int_bits} int bits, " \
                                                              f"--pipeline {stages}\n{text}\n" \
                                                              f"{report.render()}"


@settings(max_examples=EXAMPLES, **SETTINGS)
@given(graphs(HARDWARE), formats, st.integers(0, 2**32 - 1))
def test_random_graphs_in_random_formats_rtl_equals_model_under_icarus(text, fmt, seed):
    cosimulate_random(text, *fmt, seed, "icarus")


@settings(max_examples=max(2, EXAMPLES // 50), **SETTINGS)
@given(graphs(HARDWARE), formats, st.integers(0, 2**32 - 1))
def test_random_graphs_in_random_formats_rtl_equals_model_under_verilator(text, fmt, seed):
    cosimulate_random(text, *fmt, seed, "verilator")


def test_the_vocabulary_reaches_the_hardware_ops():
    """The fuzz graphs do contain what the HDL path adds (not only scalar arithmetic): one drawn
    graph per seed over a fixed sequence, lowered, and the op kinds collected."""
    kinds: set[str] = set()

    @settings(max_examples=150, database=None, derandomize=True, deadline=None)
    @given(graphs(HARDWARE))
    def collect(text: str) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "random.toml"
            path.write_text(text)
            kinds.update(op.kind for op in lower(load_graph(path)).ops)

    collect()
    hardware_built_ins = {name for name, op in BY_BUILTIN.items() if lowered(op)}
    missing = {"gather", "div", "mul", "floordiv", "mod", "f2i", "i2f", "state", *hardware_built_ins} - kinds
    assert not missing, missing
