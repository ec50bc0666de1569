"""Parameters: a composed graph's parameter bound to an expression of the parent's parameters and constants,
and refinements (finite, bounds) on a parameter, checked wherever a value is given to it."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
from test_errors import violet

from violet import api
from violet.compile.lower import lower
from violet.compile.numba_codegen import per_run_ops
from violet.dag.graph import load_graph
from violet.errors import InputError

LANE = '''[graph]
name = "lane"
[inputs]
vel_div = { type = "float64" }
[params]
vd_threshold = -0.02
[nodes.signal]
expr = "vel_div < vd_threshold"
[outputs]
signal = "signal"
'''

TWO_LANES = '''[graph]
name = "two_lanes"
[inputs]
vel_div = { type = "float64" }
[params]
long_threshold = 0.03
[consts]
margin = 0.005
[nodes.neg]
expr = "-long_threshold"
[nodes.short]
graph = "lane.toml"
in = { vel_div = "vel_div" }
params = { vd_threshold = "BINDING" }
[outputs]
short = "short.signal"
'''


def write_lanes(directory: Path, binding: str = "-long_threshold") -> Path:
    (directory / "lane.toml").write_text(LANE)
    path = directory / "g.toml"
    path.write_text(TWO_LANES.replace("BINDING", binding))
    return path


def run(graph: Path, rows: list[float], *sets: str) -> list[str]:
    """`violet run` over vel_div values: the `short` column as written."""
    table = graph.with_name("in.csv")
    table.write_text("vel_div\n" + "\n".join(map(repr, rows)) + "\n")
    args = [a for s in sets for a in ("--set", s)]
    done = subprocess.run([sys.executable, "-m", "violet.cli", "run", str(graph), "--input", str(table),
                           "--output", str(graph.with_name("out.csv")), *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return [line.split(",")[-1] for line in graph.with_name("out.csv").read_text().splitlines()[1:]]


@pytest.mark.parametrize("binding, threshold", [
    ("-long_threshold", lambda lt: -lt),
    ("-long_threshold - margin", lambda lt: -lt - 0.005),
    ("neg", lambda lt: -lt),  # a node whose value depends on a parameter only
    ("min(-long_threshold, -0.01) * 1.0", lambda lt: min(-lt, -0.01)),
])
def test_a_bound_expression_follows_set_through_the_cli(tmp_path, binding, threshold):
    graph = write_lanes(tmp_path, binding)
    rows = [-0.1, -0.05, -0.036, -0.034, -0.031, -0.02, 0.0]
    for lt in (0.03, 0.035):
        expected = ["true" if v < threshold(lt) else "false" for v in rows]
        sets = () if lt == 0.03 else (f"long_threshold={lt}",)
        assert [v.strip('"').lower() for v in run(graph, rows, *sets)] == expected
    ir = lower(load_graph(graph))
    assert [p.name for p in ir.params] == ["long_threshold"]  # the bound parameter is no parameter of its own
    compare = next(op for op in ir.ops if op.kind == "lt")
    assert compare.args[1] in per_run_ops(ir)  # computed once per run, before the scan loop


def test_a_bound_expression_diffs_clean_at_a_set_point(capsys, tmp_path):
    graph = write_lanes(tmp_path, "-long_threshold - margin")
    code, err = violet(capsys, "diff", graph, "--set", "long_threshold=0.01", "--samples", "200", "--extreme", "200")
    assert code == 0, err


@pytest.mark.parametrize("binding, leaf", [
    ("-vel_div", "input 'vel_div'"),
    ("-long_threshold if vel_div > 0.0 else long_threshold", "input 'vel_div'"),
    ("n * 0.001", "state 'n'"),
])
def test_a_binding_that_varies_by_row_is_refused_naming_what_it_reads(capsys, tmp_path, binding, leaf):
    graph = write_lanes(tmp_path, binding)
    graph.write_text(graph.read_text().replace('[outputs]', '[state]\nn = 0\n[next_state]\nn = "n + 1"\n[outputs]'))
    code, err = violet(capsys, "check", graph)
    assert code == 2
    assert f"nodes.short.params.vd_threshold: parameter 'vd_threshold' of graph lane is bound to a value that " \
           f"depends on {leaf}" in err
    assert "bind it to an expression of params, consts and literals" in err


def test_a_binding_of_the_wrong_type_is_refused(capsys, tmp_path):
    code, err = violet(capsys, "check", write_lanes(tmp_path, "long_threshold > 0.0"))
    assert code == 2 and "parameter 'vd_threshold' is float64, but the value bound to it is bool" in err


# ---------------------------------------------------------------- refinements

REFINED = '''[graph]
name = "refined"
[inputs]
x = { type = "float64" }
[params]
k = { default = 0.5, finite = true, doc = "the gain" }
hold = { default = 10, ge = 1, le = 100 }
cap = { default = 2.0, gt = 0.0 }
[outputs]
y = "x * k + float(hold) + cap"
'''


@pytest.mark.parametrize("option, value, message", [
    ("--set", "k=nan", "parameter 'k' is NaN (finite)"),
    ("--set", "k=inf", "parameter 'k' is inf, not finite (finite)"),
    ("--set", "k=-inf", "parameter 'k' is -inf, not finite (finite)"),
    ("--set", "hold=0", "parameter 'hold' is 0, must be >= 1 (ge 1, le 100)"),
    ("--set", "hold=101", "parameter 'hold' is 101, must be <= 100"),
    ("--set", "cap=0.0", "parameter 'cap' is 0.0, must be > 0.0 (gt 0.0)"),
    ("--set", "cap=nan", "parameter 'cap' is NaN (gt 0.0)"),  # NaN meets no bound
])
def test_set_refuses_a_value_that_breaks_the_refinement(capsys, write_graph, option, value, message):
    code, err = violet(capsys, "check", write_graph(REFINED), option, value)
    assert code == 2 and f"{option}: {message}" in err, err
    assert f"give '{value.split('=')[0]}' a value that meets its refinement" in err


def test_a_sweep_grid_with_nan_for_a_finite_parameter_is_refused(capsys, write_graph, tmp_path):
    (tmp_path / "in.csv").write_text("x\n1.0\n")
    code, err = violet(capsys, "sweep", write_graph(REFINED), "--input", tmp_path / "in.csv", "--grid", "k=0.1,nan",
                       "--output", tmp_path / "sweep.csv")
    assert code == 2 and "--grid: parameter 'k' is NaN (finite)" in err and not (tmp_path / "sweep.csv").exists()


def test_values_that_meet_the_refinement_run(capsys, write_graph, tmp_path):
    (tmp_path / "in.csv").write_text("x\n2.0\n")
    code, err = violet(capsys, "run", write_graph(REFINED), "--input", tmp_path / "in.csv", "--output",
                       tmp_path / "out.csv", "--set", "k=1e300", "--set", "hold=100", "--set", "cap=5e-324")
    assert code == 0, err
    assert float((tmp_path / "out.csv").read_text().splitlines()[1].split(",")[1]) == 2e300 + 100.0 + 5e-324


def test_the_facade_checks_the_refinement_too(write_graph):
    path = write_graph(REFINED)
    with pytest.raises(InputError, match="parameter 'k' is NaN"):
        api.load(path, {"k": math.nan})
    assert api.load(path, {"k": 2.0}).param_defaults["k"] == 2.0


@pytest.mark.parametrize("params, where, message", [
    ('k = { default = nan, finite = true }', "params.k.default", "the default is NaN (finite)"),
    ('k = { default = 0.0, gt = 0.0 }', "params.k.default", "the default is 0.0, must be > 0.0"),
    ('k = { default = 5, le = 4 }', "params.k.default", "the default is 5, must be <= 4"),
    ('k = { default = 5, finite = true }', "params.k.finite", "`finite` on a int64 parameter"),
    ('k = { default = true, ge = 0 }', "params.k.ge", "a bound on a bool parameter"),
    ('k = { default = 5, ge = 1.5 }', "params.k.ge", "1.5 is not an integer, but the parameter is int64"),
    ('k = { default = 1.0, ge = nan }', "params.k.ge", "must be a number, not nan"),
])
def test_a_refinement_the_default_breaks_or_that_cannot_apply_is_refused_at_load(capsys, write_graph, params, where,
                                                                                 message):
    code, err = violet(capsys, "check", write_graph(f'[graph]\nname = "g"\n[inputs]\nx = {{ type = "float64" }}\n'
                                                    f'[params]\n{params}\n[outputs]\ny = "x"\n'))
    assert code == 2 and message in err and where in err, err


def test_check_lists_a_refinement_and_the_hash_includes_it(write_graph):
    done = subprocess.run([sys.executable, "-m", "violet.cli", "check", str(write_graph(REFINED))],
                          capture_output=True, text=True)
    rows = {line.split()[1]: line for line in done.stdout.splitlines() if line.startswith("param")}
    assert "0.5 (finite)" in rows["k"] and "the gain" in rows["k"] and "10 (ge 1, le 100)" in rows["hold"]
    plain = lower(load_graph(write_graph(REFINED.replace("finite = true, ", ""), "plain.toml")))
    refined = lower(load_graph(write_graph(REFINED)))
    assert plain.content_hash != refined.content_hash and plain.code_hash == refined.code_hash


def test_set_suggests_the_nearest_name_of_a_composed_parameter(capsys, tmp_path):
    graph = write_lanes(tmp_path, "-long_threshold")
    code, err = violet(capsys, "check", graph, "--set", "long_treshold=0.1")
    assert code == 2 and "unknown parameter 'long_treshold' (did you mean 'long_threshold'?)" in err
