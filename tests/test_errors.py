"""Every bad-input class gets one message naming file, key or line, what is wrong and the fix; exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import GRAPHS

from violet.cli import main
from violet.errors import NodeSubsetError
from violet.nodes.registry import parse_node

HEAD = """[graph]
name = "g"
[inputs]
x = { type = "float64", finite = true }
n = { type = "int64" }
flag = { type = "bool" }
mode = { type = "enum", values = ["A", "B"] }
"""


def violet(capsys, *args: str) -> tuple[int, str]:
    """Run the real CLI entry point in this process: (exit code, stderr)."""
    sys.argv = ["violet", *map(str, args)]
    with pytest.raises(SystemExit) as done:
        main()
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return done.value.code, err


def check_file(capsys, write_graph, body: str, *expected: str, name: str = "g.toml") -> None:
    path = write_graph(HEAD + body, name)
    code, err = violet(capsys, "check", path)
    assert code == 2, err
    assert err.startswith(f"error: {path}")
    for text in expected:
        assert text in err, (text, err)


def test_cycle_prints_its_path(capsys, write_graph):
    check_file(capsys, write_graph, '[nodes.a]\nexpr = "b + 1.0"\n[nodes.b]\nexpr = "c * 2.0"\n'
               '[nodes.c]\nexpr = "a - x"\n[outputs]\ny = "a"\n',
               "nodes.a: cycle: a -> c -> b -> a (each node feeds the next)", "fix: a graph is a DAG")


def test_self_loop(capsys, write_graph):
    check_file(capsys, write_graph, '[nodes.a]\nexpr = "a + 1.0"\n[outputs]\ny = "a"\n', "cycle: a -> a")


def test_unknown_node(capsys, write_graph):
    check_file(capsys, write_graph, '[nodes.a]\nnode = "sizing.nope"\nin = {}\n[outputs]\ny = "a"\n',
               "nodes.a.node: unknown node 'sizing.nope'", "fix: use one of: core.clamp01", "sizing.conviction")


def test_missing_binding(capsys, write_graph):
    check_file(capsys, write_graph, '[nodes.a]\nnode = "core.lerp"\nin = { lo = "x", hi = "x" }\n[outputs]\ny = "a"\n',
               "nodes.a.in: missing binding for port(s) t of node core.lerp", 'fix: add `t = "<source>"` to nodes.a.in')


def test_extra_binding_with_did_you_mean(capsys, write_graph):
    check_file(capsys, write_graph,
               '[nodes.a]\nnode = "core.lerp"\nin = { lo = "x", hi = "x", t = "x", tt = "x" }\n[outputs]\ny = "a"\n',
               "nodes.a.in: 'tt' is not a port of node core.lerp (did you mean 't'?)", "fix: its ports are: lo, hi, t")


@pytest.mark.parametrize("port_value, want, got, fix", [
    ('leverage = "x", exchange_max_leverage = "x"', "is int64", "is float64", "int(x), floor(x) or ceil(x)"),
    ('leverage = "n", exchange_max_leverage = "n"', "is float64", "is int64", "float(x)"),
    ('leverage = "flag", exchange_max_leverage = "n"', "is float64", "is bool", "bind a value of the port's type"),
    ('leverage = "mode", exchange_max_leverage = "n"', "is float64", "is enum{A,B}", "bind a value of the port's type"),
])
def test_type_mismatch_on_an_edge(capsys, write_graph, port_value, want, got, fix):
    check_file(capsys, write_graph, f'[nodes.a]\nnode = "sizing.exchange_leverage"\nin = {{ {port_value} }}\n'
               '[outputs]\ny = "a"\n', "nodes.a.in: type mismatch on edge: port", want, f"bound to it {got}", fix)


def test_duplicate_name(capsys, write_graph):
    check_file(capsys, write_graph, '[nodes.x]\nexpr = "1.0"\n[outputs]\ny = "x"\n',
               "nodes.x: duplicate name 'x': already defined as inputs.x")


def test_unknown_parameter_of_a_composed_graph(capsys, write_graph):
    check_file(capsys, write_graph, f'[nodes.s]\ngraph = "{GRAPHS / "blue_sizing.toml"}"\n'
               'in = { vel_div = "x", acb_boost = "x", acb_beta = "x", mc_scale = "x", ob_mult = "x", '
               'esof_score = "x", dc_status = "mode", posture = "mode", capital = "x", exchange_max_leverage = "n" }\n'
               'params = { max_levrage = 7.0 }\n[outputs]\ny = "x"\n',
               "nodes.s.params.max_levrage: unknown parameter 'max_levrage'", "its parameters are: vd_threshold, vd_extreme, min_leverage")


def test_unknown_parameter_on_the_command_line(capsys):
    code, err = violet(capsys, "check", GRAPHS / "blue_sizing.toml", "--set", "max_levrage=7")
    assert code == 2 and "--set: unknown parameter 'max_levrage'" in err and "max_leverage" in err


def test_parameter_value_of_the_wrong_type(capsys):
    code, err = violet(capsys, "check", GRAPHS / "blue_sizing.toml", "--set", "max_leverage=high")
    assert code == 2 and "parameter 'max_leverage' is float64, got 'high'" in err


def test_bad_toml_names_the_line(capsys, write_graph):
    check_file(capsys, write_graph, '[nodes.a\nexpr = "x"\n', "bad TOML", "at line 8, column 9", "fix: fix the TOML syntax")


def test_schema_errors(capsys, write_graph):
    check_file(capsys, write_graph, '[nodes.a]\nexprr = "x"\n[outputs]\ny = "a"\n', "nodes.a.exprr: unknown key")
    check_file(capsys, write_graph, '[nodes.a]\nexpr = "x"\n', "outputs: required key is missing")
    path = write_graph('[graph]\nname = "g"\n[inputs]\nm = { type = "enum" }\n[outputs]\ny = "m"\n', "e.toml")
    code, err = violet(capsys, "check", path)
    assert code == 2 and "inputs.m: an enum input needs `values = [...]`" in err


def test_unknown_name_with_did_you_mean(capsys, write_graph):
    check_file(capsys, write_graph, '[nodes.a]\nexpr = "x + nn"\n[outputs]\ny = "a"\n',
               "nodes.a: unknown name 'nn' (did you mean 'n'?)")


@pytest.mark.parametrize("expr, message, fix", [
    ("x // 2.0", "'//' (floor division) is outside the expression subset", "write floor(a / b)"),
    ("(lambda: x)()", "only built-ins and library nodes (module.name) can be called", "use arithmetic"),
    ("0.0 < x < 1.0", "chained comparisons (a < b < c) are outside the subset", "write (a < b) and (b < c)"),
    ("[x][0]", "only a named vector can be indexed (x[i])", "use arithmetic"),
    ("x ** 0.5", "'**' needs a literal integer exponent from 1 to 8", "multiply chain"),
    ("x + ", "cannot parse expression 'x +': invalid syntax at the end of the expression", "parentheses"),
    ("mode == 'C'", "'C' is not a value of enum{A,B}", "use one of: A, B"),
    ("n < x", "cannot compare int64 with float64", "float(x)"),
    ("x[0]", "x[i] needs a vector and an int64 index, got float64", ""),
])
def test_expressions_outside_the_subset_or_ill_typed(capsys, write_graph, expr, message, fix):
    check_file(capsys, write_graph, f'[nodes.a]\nexpr = "{expr}"\n[outputs]\ny = "a"\n',
               "nodes.a.expr", message, fix)


def test_a_composed_graph_including_itself(capsys, write_graph):
    check_file(capsys, write_graph, '[nodes.s]\ngraph = "loop.toml"\nin = {}\n[outputs]\ny = "x"\n',
               "graph composes itself: loop.toml -> loop.toml", name="loop.toml")


# ------------------------------------------------------------ node bodies outside the subset


def node_with_loop(x: float) -> float:
    total = 0.0
    for _ in range(3):
        total = total + x
    return total


def node_with_if(x: float) -> float:
    if x > 0.0:
        return x
    return -x


def node_without_annotation(x) -> float:  # noqa: ANN001 - the point of the test
    return x


def node_with_unknown_name(x: float) -> float:
    return x + y  # noqa: F821 - the point of the test


@pytest.mark.parametrize("fn, construct", [
    (node_with_loop, "'for' loops are outside the node subset"),
    (node_with_if, "'if' statements (write 'a if c else b' or select(c, a, b)) are outside the node subset"),
    (node_without_annotation, "port 'x' needs a type annotation float, int or bool"),
    (node_with_unknown_name, "'y' is not a port or an earlier local"),
])
def test_node_bodies_outside_the_subset_name_file_line_and_construct(fn, construct):
    with pytest.raises(NodeSubsetError) as err:
        parse_node(fn, ("out",))
    line = fn.__code__.co_firstlineno
    text = str(err.value)
    assert construct in text
    assert text.startswith(f"{Path(__file__)}:")
    assert int(text.split(":")[1]) in range(line, line + 5)  # the line of the construct
    assert f"node 'test_errors.{fn.__name__}'" in text


# ------------------------------------------------------------ input tables and references


def test_rows_breaking_refined_types_are_named_and_nothing_is_written(capsys, tmp_path):
    table = tmp_path / "in.csv"
    header = "vel_div,acb_boost,acb_beta,mc_scale,ob_mult,esof_score,dc_status,posture,capital,exchange_max_leverage"
    good = "-0.04,1.0,0.5,1.0,1.0,0.0,NEUTRAL,APEX,10000.0,20"
    table.write_text("\n".join([header, good, good.replace("-0.04", "nan"), good.replace("NEUTRAL", "MAYBE"), good]))
    out = tmp_path / "out.parquet"
    code, err = violet(capsys, "run", GRAPHS / "blue_sizing.toml", "--input", table, "--output", out)
    assert code == 2 and not out.exists()
    assert "2 row(s) break the graph's input types" in err
    assert "row 1, field vel_div: is NaN" in err and "row 2, field dc_status: 'MAYBE' is not one of" in err
    assert "nothing was computed or written" in err


def test_missing_input_column(capsys, tmp_path):
    table = tmp_path / "in.csv"
    table.write_text("vel_div\n-0.04\n")
    code, err = violet(capsys, "run", GRAPHS / "blue_sizing.toml", "--input", table, "--output", tmp_path / "o.csv")
    assert code == 2 and "missing column(s) acb_beta, acb_boost, capital" in err and "the table needs:" in err


@pytest.mark.parametrize("ref, message", [
    ("violet.legacy.sizing.size", "bad reference 'violet.legacy.sizing.size'"),
    ("no_such_module:size", "cannot import 'no_such_module'"),
    ("violet.legacy.sizing:nope", "has no callable 'nope'"),
])
def test_bad_reference(capsys, ref, message):
    code, err = violet(capsys, "diff", GRAPHS / "blue_sizing.toml", "--reference", ref, "--samples", "10",
                       "--extreme", "0")
    assert code == 2 and message in err


def test_the_installed_console_script_maps_errors_to_exit_2(write_graph):
    path = write_graph(HEAD + '[nodes.a]\nexpr = "a + 1.0"\n[outputs]\ny = "a"\n')
    done = subprocess.run(["violet", "check", str(path)], capture_output=True, text=True)
    assert done.returncode == 2 and "cycle: a -> a" in done.stderr and "Traceback" not in done.stderr
