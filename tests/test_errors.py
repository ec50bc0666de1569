"""Every bad-input class gets one message naming file, key or line, what is wrong and the fix; exit code 2."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import GRAPHS
from hypothesis import given, settings
from hypothesis import strategies as st

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
    ("x // 2.0", "'//' is int64 floor division, got float64, float64", "for float64 write floor(a / b)"),
    ("x % 2.0", "'%' is int64 floor division, got float64, float64", "for float64 write a - b * floor(a / b)"),
    ("x & 1", "'&' is outside the expression subset", "write 'and'"),
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


# ------------------------------------------------------------ integers outside int64, inexact float64 values

BIG = 2**63  # one past INT64_MAX


@pytest.mark.parametrize("body, expected", [
    (f"[consts]\nbig = {BIG}\n[outputs]\ny = \"n == big\"\n", f"consts.big: the integer {BIG} is outside int64"),
    (f"[params]\np = {BIG}\n[outputs]\ny = \"n + p\"\n", f"params.p.default: the integer {BIG} is outside int64"),
    (f"[params]\np = {{ default = {-BIG - 1}, type = \"int64\" }}\n[outputs]\ny = \"n + p\"\n",
     f"params.p.default: the integer {-BIG - 1} is outside int64"),
    (f"[state]\ns = {BIG}\n[next_state]\ns = \"s\"\n[outputs]\ny = \"s\"\n", f"state.s.init: the integer {BIG} is outside int64"),
    (f"[nodes.a]\nnode = \"core.lerp\"\nin = {{ lo = \"x\", hi = \"x\", t = {BIG} }}\n[outputs]\ny = \"a\"\n",
     f"nodes.a.in.t: the integer {BIG} is outside int64"),
    (f"[outputs]\ny = \"n == {BIG}\"\n", f"outputs.y (column 6): the integer {BIG} is outside int64"),
    (f"[outputs]\ny = \"n - -{BIG + 1}\"\n", f"outputs.y (column 6): the integer {BIG + 1} is outside int64"),
    (f"[outputs]\ny = \"x + {10**40}\"\n", f"the integer {10**40} is outside int64"),
    ("[params]\np = { default = 9007199254740993, type = \"float64\" }\n[outputs]\ny = \"x + p\"\n",
     "params.p: the integer 9007199254740993 has no exact float64 value (nearest: 9007199254740992.0)"),
    ("[state]\ns = { init = 9007199254740993, type = \"float64\" }\n[next_state]\ns = \"s\"\n[outputs]\ny = \"s\"\n",
     "state.s: the integer 9007199254740993 has no exact float64 value"),
    ("[outputs]\ny = \"x\"\n".replace("[outputs]", "[consts]\nc = " + "9" * 5000 + "\n[outputs]"),
     "bad TOML: an integer of more than 4,300 digits"),
    ("[outputs]\ny = \"n + " + "9" * 5000 + "\"\n", "an integer of more than 4,300 digits"),
])
def test_integers_outside_int64_and_inexact_float64_defaults_are_refused_at_load(capsys, write_graph, body, expected):
    check_file(capsys, write_graph, body, expected)


def test_int64_min_is_written_as_a_literal_and_means_the_same_compiled_and_interpreted(write_graph):
    from violet.compile.interp import Interpreter
    from violet.compile.lower import lower
    from violet.compile.numba_backend import compile_ir
    from violet.dag.graph import load_graph

    ir = lower(load_graph(write_graph(HEAD + '[outputs]\nlow = "n == -9223372036854775808"\nm = "n - 1"\n')))
    rows = {"x": np.zeros(2), "n": np.array([-(2**63), 5]), "flag": np.ones(2, bool), "mode": np.zeros(2, np.int64)}
    for result in (compile_ir(ir).batch(rows), Interpreter(ir).batch(rows)):
        assert list(result["low"]) == [True, False] and list(result["m"]) == [2**63 - 1, 4]  # wraps, as documented


@pytest.mark.parametrize("body, expected", [
    ("[inputs.k]\ntype = \"int64\"\nge = 1.5\n", "inputs.k.ge: 1.5 is not an integer, but the input is int64"),
    ("[inputs.k]\ntype = \"int64\"\nle = 1e19\n", "inputs.k.le: the integer 10000000000000000000 is outside int64"),
    ("[inputs.k]\ntype = \"int64\"\nlt = inf\n", "inputs.k.lt: inf is not an integer"),
    ("[inputs.k]\ntype = \"float64\"\nle = 9007199254740993\n", "inputs.k.le: the integer 9007199254740993 has no exact float64"),
    ("[inputs.k]\ntype = \"float64\"\nge = nan\n", "inputs.k.ge: must be a number, not nan"),
    ("[inputs.k]\ntype = \"bool\"\nge = 0\n", "inputs.k.ge: a bound on a bool input"),
])
def test_bounds_must_be_exact_in_their_inputs_type(capsys, write_graph, body, expected):
    path = write_graph(HEAD + body + '[outputs]\ny = "x"\n')
    code, err = violet(capsys, "check", path)
    assert code == 2 and expected in err, err


@pytest.mark.parametrize("option, value, expected", [
    ("--set", f"k={BIG}", f"--set: parameter 'k': the integer {BIG} is outside int64"),
    ("--set", "f=9007199254740993", "--set: parameter 'f': the integer 9007199254740993 has no exact float64 value"),
    ("--set", "f=" + "9" * 5000, "--set: parameter 'f' is float64, got '99999"),
    ("--set", "k=" + "9" * 5000, "--set: parameter 'k' is int64, got '99999"),
    ("--grid", f"k=1,{BIG}", f"--grid: parameter 'k': the integer {BIG} is outside int64"),
])
def test_parameter_values_on_the_command_line_obey_the_same_rules(capsys, write_graph, tmp_path, option, value, expected):
    graph = write_graph(HEAD + '[params]\nk = 3\nf = 1.0\n[outputs]\ni = "n + k"\ny = "x * f"\n')
    (tmp_path / "in.csv").write_text("x,n,flag,mode\n1.0,1,true,A\n")
    args = ("sweep", graph, "--input", tmp_path / "in.csv", "-o", tmp_path / "o.parquet") if option == "--grid" \
        else ("check", graph)
    code, err = violet(capsys, *args, option, value)
    assert code == 2 and expected in err, err
    assert len(err) < 1000  # a hostile value is quoted and cut, never echoed whole


# ------------------------------------------------------------ enums compare only with their own enum, in both orders


@pytest.mark.parametrize("expr", ["n == mode", "mode == n", "1 < mode", "mode < 1", "1 == mode", "mode != 0"])
def test_an_enum_against_an_int64_is_refused_whichever_side_it_is_on(capsys, write_graph, expr):
    check_file(capsys, write_graph, f'[nodes.a]\nexpr = "{expr}"\n[outputs]\ny = "a"\n',
               "type error: cannot compare", "an enum compares only with a value of the same enum")


@pytest.mark.parametrize("expr", ["mode == 'A'", "'B' != mode", "mode == mode"])
def test_an_enum_against_its_own_values_is_allowed(capsys, write_graph, expr):
    code, _ = violet(capsys, "check", write_graph(HEAD + f'[nodes.a]\nexpr = "{expr}"\n[outputs]\ny = "a"\n'))
    assert code == 0


# ------------------------------------------------------------ tracebacks that became one message with exit 2


def run_cli(*args: object) -> subprocess.CompletedProcess:
    """The CLI in a real subprocess (this worktree's code, via PYTHONPATH), as a user runs it."""
    done = subprocess.run([sys.executable, "-m", "violet.cli", *map(str, args)], capture_output=True, text=True)
    assert "Traceback" not in done.stderr, done.stderr
    return done


SIZING_ROW = {"vel_div": -0.04, "acb_boost": 1.0, "acb_beta": 0.5, "mc_scale": 1.0, "ob_mult": 1.0, "esof_score": 0.0,
              "dc_status": "NEUTRAL", "posture": "APEX", "capital": 10000.0, "exchange_max_leverage": 20}


def sizing_table(path: Path, rows: int = 50) -> Path:
    pq.write_table(pa.table({k: [v] * rows for k, v in SIZING_ROW.items()}), path)
    return path


def test_a_byte_flipped_parquet_file_is_one_message(tmp_path):
    good = sizing_table(tmp_path / "good.parquet")
    data = bytearray(good.read_bytes())
    data[-6] ^= 0xFF  # the footer's length (the 4 bytes before the closing PAR1): every read starts there
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(bytes(data))
    done = run_cli("run", GRAPHS / "blue_sizing.toml", "--input", bad, "--output", tmp_path / "o.parquet")
    assert done.returncode == 2 and f"error: {bad}: cannot read the table" in done.stderr
    assert "corrupt" in done.stderr and not (tmp_path / "o.parquet").exists()


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_any_flipped_byte_is_read_or_refused_never_a_crash(tmp_path_factory, data):
    from violet.compile.lower import lower
    from violet.dag.graph import load_graph
    from violet.errors import InputError
    from violet.table_io import input_columns, read_table

    folder = tmp_path_factory.mktemp("flip")
    raw = bytearray(sizing_table(folder / "good.parquet", 5).read_bytes())
    at = data.draw(st.integers(0, len(raw) - 1))
    raw[at] ^= data.draw(st.integers(1, 255))
    (folder / "bad.parquet").write_bytes(bytes(raw))
    try:
        input_columns(lower(load_graph(GRAPHS / "blue_sizing.toml")), read_table(folder / "bad.parquet"), "bad")
    except InputError:
        pass


def unwritable_cases(tmp_path: Path) -> list[tuple[Path, str]]:
    (tmp_path / "adir.parquet").mkdir()
    return [(tmp_path / "missing" / "o.parquet", "no directory"),
            (tmp_path / "adir.parquet", "is a directory"),
            (tmp_path / "o.txt", "unknown output format '.txt'")]


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_an_unwritable_output_is_refused_before_anything_is_computed(tmp_path, command):
    table = sizing_table(tmp_path / "in.parquet")
    extra = ("--grid", "max_leverage=6.0,7.0") if command == "sweep" else ()
    for output, expected in unwritable_cases(tmp_path):
        done = run_cli(command, GRAPHS / "blue_sizing.toml", "--input", table, "--output", output, *extra)
        assert done.returncode == 2 and "error: --output: " in done.stderr and expected in done.stderr, done.stderr
        assert "rows" not in done.stdout  # nothing ran


def test_a_read_only_directory_is_refused_before_computing():
    """Root ignores mode bits, so the check tries to write: run it as an unprivileged user when root."""
    shared = Path(tempfile.mkdtemp())  # pytest's own tmp folders are private to their user
    shared.chmod(0o755)
    table = sizing_table(shared / "in.parquet")
    locked = shared / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    prefix: list[str] = []
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("root, and no setpriv to drop privileges with")
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    done = subprocess.run([*prefix, sys.executable, "-m", "violet.cli", "run", str(GRAPHS / "blue_sizing.toml"),
                           "--input", str(table), "--output", str(locked / "o.parquet")],
                          capture_output=True, text=True, env={**os.environ, "VIOLET_CACHE_DIR": str(shared / "cache")})
    shutil.rmtree(shared)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"error: --output: cannot write in {locked}: Permission denied" in done.stderr


def test_dot_and_scans_build_check_their_output_first(tmp_path):
    (tmp_path / "adir.svg").mkdir()
    done = run_cli("dot", GRAPHS / "blue_sizing.toml", "-o", tmp_path / "adir.svg")
    assert done.returncode == 2 and "adir.svg is a directory" in done.stderr
    done = run_cli("dot", GRAPHS / "blue_sizing.toml", "-o", tmp_path / "no" / "g.svg")
    assert done.returncode == 2 and "no directory" in done.stderr
    (tmp_path / "scans.parquet").mkdir()
    done = run_cli("scans", "build", "--generate", "--output", tmp_path / "scans.parquet")
    assert done.returncode == 2 and "scans.parquet is a directory" in done.stderr


def sum_graph(write_graph, expr: str) -> Path:
    return write_graph(HEAD + f'[nodes.a]\nexpr = "{expr}"\n[outputs]\ny = "a"\n')


@pytest.mark.parametrize("op, terms, x", [("+", 500, 0.1), ("*", 400, 1.001), ("-", 3000, 0.3), ("/", 200, 1.1)])
def test_long_sums_and_products_lower_and_give_the_left_to_right_value(tmp_path, write_graph, op, terms, x):
    """Python nests a + a + ... as (((a + a) + a) ...): the parser and the lowering walk it without recursion."""
    from violet.compile.interp import Interpreter
    from violet.compile.lower import lower
    from violet.dag.graph import load_graph

    ir = lower(load_graph(sum_graph(write_graph, f" {op} ".join(["x"] * terms))))
    expected = x
    for _ in range(terms - 1):
        expected = {"+": expected + x, "*": expected * x, "-": expected - x, "/": expected / x}[op]
    table = tmp_path / "in.csv"
    table.write_text(f"x,n,flag,mode\n{x!r},1,true,A\n")
    done = run_cli("run", tmp_path / "g.toml", "--input", table, "--output", tmp_path / "o.parquet")
    assert done.returncode == 0, done.stderr
    assert pq.read_table(tmp_path / "o.parquet").column("y").to_pylist() == [expected]
    assert Interpreter(ir).step({"x": x, "n": 1, "flag": True, "mode": 0})["y"] == expected


@pytest.mark.parametrize("expr, expected", [
    ("(" * 2000 + "x" + ")" * 2000, "too many nested parentheses"),
    ("x + (" * 150 + "x" + ")" * 150, "the expression is nested more than 100 levels deep"),
    ("-" * 3000 + "x", "the expression is nested more than 100 levels deep"),
    ("- " * 9000 + "x", "nested too deeply for Python's parser"),
    ("+".join(["x"] * 11000), "characters long, more than 20,000"),
])
def test_deep_nesting_is_one_message_not_a_recursion_error(capsys, write_graph, expr, expected):
    code, err = violet(capsys, "check", sum_graph(write_graph, expr))
    assert code == 2 and "nodes.a.expr" in err and expected in err, err
    assert len(err) < 1000


@pytest.mark.parametrize("value, expected", [
    ("[" * 3000 + "]" * 3000, "bad TOML: arrays or inline tables nested too deeply to read"),
    ("{ a = " * 3000 + "1" + " }" * 3000, "bad TOML: arrays or inline tables nested too deeply to read"),
    ("[" * 200 + "]" * 200, "consts.c: must be a number or true/false, got an array"),
])
def test_deeply_nested_toml_is_one_message(capsys, write_graph, value, expected):
    check_file(capsys, write_graph, f'[consts]\nc = {value}\n[outputs]\ny = "x"\n', expected)


def test_a_composition_path_of_thousands_of_characters(capsys, write_graph):
    name = "x" * 5000 + ".toml"
    path = write_graph(HEAD + f'[nodes.s]\ngraph = "{name}"\nin = {{}}\n[outputs]\ny = "x"\n')
    code, err = violet(capsys, "check", path)
    assert code == 2 and f"{path}: nodes.s.graph: 'xxxx" in err and "(5,007 characters) is not a graph file path" in err
    assert len(err) < 1000
    code, err = violet(capsys, "check", str(path.parent / name))
    assert code == 2 and "no such graph file" in err and len(err) < 1000


def test_a_chain_of_compositions_deeper_than_the_limit(capsys, tmp_path):
    from violet.dag.graph import MAX_COMPOSITION

    leaf = '[graph]\nname = "g0"\n[inputs]\nx = { type = "float64" }\n[outputs]\ny = "x"\n'
    (tmp_path / "g0.toml").write_text(leaf)
    for k in range(1, MAX_COMPOSITION + 3):
        (tmp_path / f"g{k}.toml").write_text(
            f'[graph]\nname = "g{k}"\n[inputs]\nx = {{ type = "float64" }}\n'
            f'[nodes.s]\ngraph = "g{k - 1}.toml"\nin = {{ x = "x" }}\n[outputs]\ny = "s.y"\n')
    code, _ = violet(capsys, "check", tmp_path / f"g{MAX_COMPOSITION}.toml")
    assert code == 0  # exactly the limit: loads
    code, err = violet(capsys, "check", tmp_path / f"g{MAX_COMPOSITION + 2}.toml")
    assert code == 2 and f"graphs composed more than {MAX_COMPOSITION} deep" in err


@pytest.mark.parametrize("expr, expected", [
    ("x.real", "attribute access '.real' on 'x', a single value"),
    ("x.__class__", "attribute access '.__class__' is outside the expression subset"),
    ("(x + x).real", "attribute access '.real' is outside the expression subset"),
    ("mode.A.B", "attribute access '.B' is outside the expression subset"),
])
def test_attribute_access_on_a_value_is_refused(capsys, write_graph, expr, expected):
    check_file(capsys, write_graph, f'[nodes.a]\nexpr = "{expr}"\n[outputs]\ny = "a"\n', "nodes.a.expr", expected,
               "a.b only names an output of node a")
