"""The op catalog (violet/compile/ops): every op has every backend's rule or an explicit refusal, each
backend really runs every op it does not refuse, the built-in names agree with violet/dag's list, and
docs/semantics.md's op table is the catalog's."""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import replace

import numpy as np
import pytest
from conftest import REPO

from violet.compile.cosim import cosim_rows, cosimulate
from violet.compile.fixed import FixedModel, LoweringError
from violet.compile.interp import Interpreter
from violet.compile.ir import IR, Op
from violet.compile.lower import WINDOWS, WRITTEN_OUT
from violet.compile.numba_backend import compile_ir
from violet.compile.numba_codegen import generate
from violet.compile.ops import BACKENDS, BY_BUILTIN, CATALOG, Refusal, result_type
from violet.compile.ranges import analyze
from violet.compile.verilog import emit_module
from violet.dag.builtins import BUILTINS
from violet.dag.types import BOOL, F64, I64, InputSpec
from violet.errors import GraphError
from violet.compile.identity import identity_view

ASSETS = 3
# one input per type an op can take: scalars first, so an op that can give a scalar does
POOL = {"a": F64, "i": I64, "p": BOOL, "v": F64.as_vector(), "w": I64.as_vector(), "m": BOOL.as_vector()}
ROWS = [dict(a=a, i=i, p=p, v=[a, -1.5, 2.0], w=[i, 3, -4], m=[p, True, not p])
        for a, i, p in [(2.0, 3, True), (-0.0, -1, False), (0.75, 0, True), (-3.5, 7, False), (5e-324, 2, True)]]


def typed_args(kind: str) -> list[int]:
    """Input ids (in POOL order) of the first well-typed argument list for `kind`, one with a scalar
    result if there is one (a vector result, as rank's, is then read through a gather)."""
    names = list(POOL)
    combos = [list(combo) for combo in itertools.product(range(len(names)), repeat=CATALOG[kind].arity)
              if not isinstance(result_type(kind, [POOL[names[k]] for k in combo]), str)]
    assert combos, f"no argument types fit '{kind}'"
    return next((c for c in combos if not result_type(kind, [POOL[names[k]] for k in c]).vector), combos[0])


def one_of_each(backend: str) -> IR:
    """An IR computing every op the backend does not refuse once, from the POOL inputs, each an output
    (a vector result through a gather at the input index i, in and out of range)."""
    ops = [Op(k, "input", vtype, name=name) for k, (name, vtype) in enumerate(POOL.items())]
    outputs = []
    for kind, spec in CATALOG.items():
        if isinstance(spec.rule(backend), Refusal):
            continue
        args = typed_args(kind)
        vtype = result_type(kind, [ops[a].type for a in args])
        ops.append(Op(len(ops), kind, vtype, tuple(args), node=kind))
        if vtype.vector:
            ops.append(Op(len(ops), "gather", vtype.scalar, (len(ops) - 1, list(POOL).index("i")), node=kind))
        outputs.append((kind, len(ops) - 1))
    inputs = tuple(InputSpec(name, vtype) for name, vtype in POOL.items())
    return IR("catalog", inputs, (), tuple(ops), tuple(outputs))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", list(CATALOG))
def test_every_backend_has_a_rule_or_a_refusal_for_every_op(kind, backend):
    rule = CATALOG[kind].rule(backend)
    assert callable(rule) or (isinstance(rule, Refusal) and rule.reason.strip()), (kind, backend, rule)
    if backend in ("interp", "numba"):  # the definition and the kernels take every op: nothing to refuse
        assert callable(rule), (kind, backend)


@pytest.mark.parametrize("kind", list(CATALOG))
def test_every_op_is_declared_whole(kind):
    spec = CATALOG[kind]
    assert spec.name == kind and spec.arity in (1, 2, 3) and spec.meaning.strip()
    typed_args(kind)  # some argument types are accepted


def exact(values: np.ndarray) -> np.ndarray:
    """Values to compare exactly: float64 by bit pattern, every NaN one value (docs/semantics.md)."""
    return identity_view(values) if values.dtype == np.float64 else values


def test_the_interpreter_and_both_kernels_run_every_op_alike():
    ir = one_of_each("numba")
    compiled, interp = compile_ir(ir), Interpreter(ir)
    columns = {name: np.array([row[name] for row in ROWS]) for name in POOL}
    scanned = compiled.batch(columns)
    for name in ir.output_names:
        want = np.array([interp.step(row)[name] for row in ROWS])
        stepped = np.array([compiled.step(row)[name] for row in ROWS], dtype=want.dtype)
        assert np.array_equal(exact(scanned[name]), exact(want)) and np.array_equal(exact(stepped), exact(want)), \
            (name, scanned[name], stepped, want)


def test_every_op_stays_inside_its_interval():
    ir = one_of_each("interval")
    ranges, interp = analyze(ir), Interpreter(ir)
    for row in ROWS:
        for name, i in ir.outputs:
            value, iv = interp.step(row)[name], ranges[i]
            assert (iv.nan if isinstance(value, float) and math.isnan(value) else iv.lo <= value <= iv.hi), \
                (name, value, iv)


@pytest.mark.parametrize("simulator", ["icarus"])
def test_every_op_lowers_to_verilog_equal_to_the_fixed_point_model(tmp_path, simulator):
    ir = one_of_each("verilog")
    assert {op.kind for op in ir.ops} >= {k for k, s in CATALOG.items() if not isinstance(s.fixed, Refusal)
                                          and not isinstance(s.verilog, Refusal)}
    model = FixedModel(ir)
    report = cosimulate(model, cosim_rows(model, 200, assets=ASSETS), tmp_path, "catalog", assets=ASSETS,
                        simulator=simulator)
    assert report.vectors == 200 and report.mismatches == 0, report.render()


@pytest.mark.parametrize("backend", ["fixed", "verilog"])
def test_a_refusal_stops_the_lowering_with_its_reason(monkeypatch, backend):
    reason = "abs has no hardware here (a refusal made up for this test)"
    monkeypatch.setitem(CATALOG, "abs", replace(CATALOG["abs"], **{backend: Refusal(reason)}))
    ir = one_of_each("verilog" if backend == "fixed" else "fixed")  # abs, and no op the other backend refuses
    with pytest.raises(LoweringError, match=re.escape(reason)):
        emit_module(FixedModel(ir), "refused", assets=ASSETS)


def test_a_numba_refusal_is_an_error_naming_the_node(monkeypatch):
    """No catalog op refuses the kernels today; a refusal there must still read as an error, not a crash."""
    reason = "abs has no kernel here (a refusal made up for this test)"
    monkeypatch.setitem(CATALOG, "abs", replace(CATALOG["abs"], numba=Refusal(reason)))
    with pytest.raises(GraphError, match=re.escape(reason)) as caught:
        generate(one_of_each("interp"))
    assert caught.value.where == "node 'abs'" and "without 'abs'" in caught.value.fix


def test_built_in_names_come_from_one_list():
    """violet/dag reserves and checks the names of violet/dag/builtins.py; each is a catalog op of that
    name, a form the lowering writes out, or a window it writes out as hidden state, never unknown."""
    assert set(BY_BUILTIN) <= set(BUILTINS)
    assert set(BUILTINS) == set(BY_BUILTIN) | set(WRITTEN_OUT) | set(WINDOWS) | {"match"}
    for name, spec in BY_BUILTIN.items():
        least, most = BUILTINS[name]
        assert least <= spec.arity and (most is None or spec.arity <= most), name


def documented_ops() -> dict[str, tuple[int, str]]:
    """docs/semantics.md's op table: op -> (arity, built-in)."""
    text = (REPO / "docs" / "semantics.md").read_text()
    table = text.split("## The op catalog", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| (\d) \| `?(\w*)`? \|", table, flags=re.M)
    return {name: (int(arity), builtin) for name, arity, builtin in rows}


def test_the_semantics_page_documents_every_op_of_the_catalog():
    documented = documented_ops()
    assert sorted(documented) == sorted(CATALOG), "docs/semantics.md's op table and the catalog differ"
    for name, (arity, builtin) in documented.items():
        assert (arity, builtin) == (CATALOG[name].arity, CATALOG[name].builtin), name
