"""The generated kernels: elementwise vector ops fused into one per-asset loop, kernels compiled on demand."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from violet.compile.identity import identity_view
from violet.compile.interp import Interpreter
from violet.compile.lower import lower
from violet.compile.numba_backend import compile_ir
from violet.compile.numba_codegen import generate
from violet.dag.graph import load_graph
from conftest import GRAPHS

CHAIN = """
[graph]
name = "chain"
[inputs]
x = { type = "float64", vector = true }
y = { type = "float64" }
[nodes]
a = { expr = "x * y" }
b = { expr = "a + 1.0" }
c = { expr = "abs(b) - x" }
d = { expr = "argmax(c, c > 0.0)" }
e = { expr = "b[0] + c[1]" }
[outputs]
d = "d"
e = "e"
"""


def kernel_text(source: str, name: str) -> str:
    start = source.index(f"def {name}(")
    return source[start:source.find("\n@njit", start)]


def test_a_chain_of_elementwise_ops_is_one_loop_storing_only_what_is_read_later(write_graph):
    """a, b, c and c > 0 run in one loop over the assets; a is read only inside it (a scalar), b and c are
    read after it (by the gathers and argmax) and so are stored, as is the mask argmax reads."""
    ir = lower(load_graph(write_graph(CHAIN)))
    step = kernel_text(generate(ir), "step")
    assert step.count("for k in range(N):") == 1
    arrays = [line.split("=")[0].strip() for line in step.splitlines() if "np.empty(N" in line]
    vector_ops = [op for op in ir.ops if op.type.vector and op.kind not in ("input",)]
    assert len(arrays) == 3 and len(vector_ops) == 5  # b, c and the mask are stored; a and abs(b) are not


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=2, max_size=6),
       st.floats(allow_nan=True, allow_infinity=True))
def test_the_fused_kernel_agrees_with_the_interpreter(tmp_path_factory, x, y):
    path = tmp_path_factory.mktemp("chain") / "chain.toml"
    path.write_text(CHAIN)
    ir = lower(load_graph(path))
    columns = {"x": np.array([x] * 3), "y": np.array([y] * 3)}
    got, want = compile_ir(ir).batch(columns), Interpreter(ir).batch(columns)
    assert np.array_equal(got["d"], want["d"])
    assert np.array_equal(identity_view(got["e"]), identity_view(want["e"]))


def test_a_command_compiles_only_the_kernels_it_runs(write_graph):
    cg = compile_ir(lower(load_graph(write_graph(CHAIN.replace('"chain"', '"chain_lazy"')))))
    assert cg.loads == {}
    cg.batch({"x": np.ones((2, 3)), "y": np.ones(2)})
    assert set(cg.loads) == {"scan"}  # a short table: not the parallel kernel; step and trace never compiled
    cg.batch({"x": np.ones((2, 3)), "y": np.ones(2)}, parallel=True)
    assert set(cg.loads) == {"scan", "batch"}
    cg.warm()
    assert set(cg.loads) == {"batch", "scan", "step"} and cg.seconds >= 0


def test_the_parallel_batch_kernel_is_the_sequential_scan_bit_for_bit():
    """A stateless graph's `batch` runs its rows on all cores (prange): every output equals the sequential
    scan kernel's, bit for bit, on random and extreme rows (NaN, infinities, -0.0 among them)."""
    from violet.tools.sampling import sample

    cg = compile_ir(lower(load_graph(GRAPHS / "blue_sizing.toml")))
    assert "batch" in cg.module.SIGNATURES
    rows = sample(cg.ir.inputs, 20_000, 5_000, seed=3)
    columns = {name: np.asarray(values) for name, values in rows.items()}
    parallel, sequential = cg.batch(columns, parallel=True), cg.scan(columns)[0]
    assert all(np.array_equal(parallel[k].view(np.int64), sequential[k].view(np.int64)) for k in sequential)
    into = {name: np.full_like(values, 7) for name, values in parallel.items()}  # written over, every row
    again = cg.batch(columns, parallel=True, into=into)
    assert all(again[k] is into[k] and np.array_equal(into[k].view(np.int64), sequential[k].view(np.int64))
               for k in sequential)
    with pytest.raises(ValueError, match="output 'margin' needs a C-contiguous float64 array of shape"):
        cg.batch(columns, parallel=True, into={**into, "margin": into["margin"][:-1]})
    assert "batch" not in compile_ir(lower(load_graph(GRAPHS / "blue_decision.toml"))).module.SIGNATURES  # state


def test_an_op_computed_only_under_its_select_compiles_when_the_condition_folds(write_graph):
    """`(a < a)` is read only by a select's false arm, so the kernels compute it under `if not c:`; here c,
    `-1 < sign(0)`, is a constant Numba folds, pruning that branch: the op still has a value on every path
    (found by the random-graph test), and the kernels equal the interpreter; the sizing of an entry, guarded
    the same way, is computed only where the select reads it."""
    graph = write_graph('[graph]\nname = "folded"\n[inputs]\na = { type = "float64" }\np = { type = "bool" }\n'
                        '[nodes.n]\nexpr = "select((-1 < sign(0)), p, (a < a))"\n[outputs]\nout = "n"\n')
    ir = lower(load_graph(graph))
    columns = {"a": np.array([0.0, 1.0, np.nan]), "p": np.array([True, False, True])}
    cg = compile_ir(ir)
    assert cg.batch(columns)["out"].tolist() == Interpreter(ir).batch(columns)["out"].tolist() == [True, False, True]
    assert [cg.step({"a": a, "p": p})["out"] for a, p in zip(columns["a"], columns["p"])] == [True, False, True]
    from violet.compile.numba_codegen import generate_population
    from violet.tools.sweep import STREAM

    blue = lower(load_graph(GRAPHS / "blue_decision.toml"))
    swept = frozenset(op.id for op in blue.leaves("param") if op.name == "vd_threshold")
    population = generate_population(blue, swept, frozenset(STREAM), "trade").split("def population(")[1]
    division = next(line for line in population.splitlines() if "# div float64 ; sz.s" in line)
    assert division.startswith(" " * 20 + "v")  # in the instance loop (16), under the entry's `if` (20)
