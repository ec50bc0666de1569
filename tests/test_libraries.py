"""User node libraries (`[libraries]`): read and parsed, never run; checked by the parser of VIOLET's own
node modules, with its messages and line numbers; their content reaches the content hash through the ops
they inline; paths relative to the graph file that names them."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_errors import violet

from violet.compile.lower import lower
from violet.compile.numba_backend import compile_ir
from violet.dag.graph import load_graph
from violet.errors import NodeSubsetError

LIBRARY = '''"""A desk's nodes."""

from pathlib import Path

from violet.nodes.prelude import clamp
from violet.nodes.registry import node

Path(__file__).with_name("ran").write_text("top-level code ran")


@node
def scaled(x: float, k: float) -> float:
    """k times x, kept in [-1, 1]."""
    return clamp(x * k, -1.0, 1.0)  # a comment


@node(outputs=("lo", "hi"))
def band(x: float, width: float) -> tuple[float, float]:
    half = width / 2.0
    return x - half, x + half


@node
def twice_scaled(x: float, k: float) -> float:
    return mynodes.scaled(x, k) * 2.0


def not_a_node():
    __import__("os").system("touch ran_helper")
'''

GRAPH = '''[graph]
name = "lib"
[libraries]
mynodes = "nodes/mynodes.py"
[inputs]
x = { type = "float64" }
[params]
k = 0.5
[nodes.b]
node = "mynodes.band"
in = { x = "x", width = "k" }
[outputs]
s = "mynodes.scaled(x, k)"
lo = "b.lo"
hi = "b.hi"
t = "mynodes.twice_scaled(x, k)"
'''


def write(directory: Path, graph: str = GRAPH, library: str = LIBRARY, where: str = "nodes/mynodes.py") -> Path:
    (directory / where).parent.mkdir(parents=True, exist_ok=True)
    (directory / where).write_text(library)
    path = directory / "g.toml"
    path.write_text(graph)
    return path


def test_library_nodes_compute_through_the_cli_and_nothing_in_the_file_runs(capsys, tmp_path):
    graph = write(tmp_path)
    (tmp_path / "in.csv").write_text("x\n1.0\n-3.0\n0.25\n")
    for command, *args in (("check",), ("compile",), ("run", "--input", tmp_path / "in.csv", "--output",
                                                        tmp_path / "out.csv", "--set", "k=0.8"),
                           ("hdl", "--out", tmp_path / "hdl")):
        code, err = violet(capsys, command, graph, *args)
        assert code == 0, (command, err)
    assert not (tmp_path / "nodes" / "ran").exists() and not (tmp_path / "ran_helper").exists()
    assert not Path("ran_helper").exists()
    assert "mynodes" not in sys.modules
    rows = [line.split(",") for line in (tmp_path / "out.csv").read_text().splitlines()[1:]]
    got = {float(r[0]): [float(v) for v in r[1:]] for r in rows}
    header = (tmp_path / "out.csv").read_text().splitlines()[0].replace('"', "").split(",")[1:]
    k = 0.8
    for x, values in got.items():
        expected = {"s": min(max(x * k, -1.0), 1.0), "lo": x - k / 2.0, "hi": x + k / 2.0,
                    "t": min(max(x * k, -1.0), 1.0) * 2.0}
        assert dict(zip(header, values)) == expected


def test_check_lists_the_library_and_its_nodes(tmp_path):
    done = subprocess.run([sys.executable, "-m", "violet.cli", "check", str(write(tmp_path))],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    line = next(row for row in done.stdout.splitlines() if row.startswith("library"))
    assert line.split()[1] == "mynodes" and "band, scaled, twice_scaled" in line


# the same bodies as a package node module, parsed on import by @node, and as a library, parsed as text
BAD_BODIES = {
    "loop": ("def f(x: float) -> float:\n    total = 0.0\n    for _ in range(3):\n        total = total + x\n"
             "    return total\n", "'for' loops are outside the node subset"),
    "if": ("def f(x: float) -> float:\n    if x > 0.0:\n        return x\n    return -x\n",
           "'if' statements (write 'a if c else b' or select(c, a, b)) are outside the node subset"),
    "annotation": ("def f(x) -> float:\n    return x\n", "port 'x' needs a type annotation float, int or bool"),
    "unknown name": ("def f(x: float) -> float:\n    y = x * 2.0\n    return x + z\n", "'z' is not a port or an earlier local"),
    "import": ("def f(x: float) -> float:\n    import os\n    return x\n", "imports are outside the node subset"),
    "outputs": ("def f(x: float) -> tuple[float, float]:\n    return x, x\n", "returns 2 value(s) but declares 1"),
}


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_a_library_is_checked_as_a_package_module_is_with_the_same_message(capsys, tmp_path, case):
    body, construct = BAD_BODIES[case]
    source = "from violet.nodes.registry import node\n\n\n@node\n" + body
    graph = write(tmp_path, GRAPH.replace('"mynodes.band"', '"mynodes.f"'), source)
    code, err = violet(capsys, "check", graph)
    assert code == 2 and construct in err
    # the same file imported as a module named mynodes: @node parses it on import and refuses it
    spec = importlib.util.spec_from_file_location("mynodes", tmp_path / "nodes" / "mynodes.py")
    assert spec is not None and spec.loader is not None
    with pytest.raises(NodeSubsetError) as imported:
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    assert err == f"error: {imported.value}\n"
    line = int(err.split(":")[2])
    assert source.splitlines()[line - 1].strip()  # the line of the construct, counted in the file


def test_editing_a_node_body_recompiles_a_comment_or_docstring_does_not(tmp_path):
    graph = write(tmp_path)
    library = tmp_path / "nodes" / "mynodes.py"
    first = lower(load_graph(graph))
    library.write_text(LIBRARY.replace("# a comment", "# another comment").replace("kept in", "held in"))
    same = lower(load_graph(graph))
    assert same.content_hash == first.content_hash and same.code_hash == first.code_hash
    library.write_text(LIBRARY.replace("clamp(x * k, -1.0, 1.0)", "clamp(x * k, -2.0, 2.0)"))
    edited = lower(load_graph(graph))
    assert edited.content_hash != first.content_hash and edited.code_hash != first.code_hash
    a, b = compile_ir(first), compile_ir(edited)
    assert a.path != b.path  # the kernel cache follows the content: a new module, compiled
    x = np.array([1.5, -0.5])
    assert list(b.batch({"x": x})["s"]) == [0.75, -0.25] and list(a.batch({"x": x * 4})["s"]) == [1.0, -1.0]
    assert list(b.batch({"x": x * 4})["s"]) == [2.0, -1.0]


def test_a_composed_graph_resolves_its_libraries_relative_to_its_own_file(capsys, tmp_path):
    write(tmp_path / "inner", library=LIBRARY, where="nodes/mynodes.py")  # inner/g.toml, inner/nodes/mynodes.py
    outer = tmp_path / "outer.toml"
    outer.write_text('[graph]\nname = "outer"\n[inputs]\nx = { type = "float64" }\n'
                     '[nodes.i]\ngraph = "inner/g.toml"\nin = { x = "x" }\n[outputs]\ns = "i.s"\n')
    code, err = violet(capsys, "check", outer)
    assert code == 0, err
    ir = lower(load_graph(outer))
    assert compile_ir(ir).batch({"x": np.array([4.0])})["s"][0] == 1.0  # clamp(4 * 0.5, -1, 1)


def test_a_library_shared_from_a_parent_directory_and_through_a_link(capsys, tmp_path):
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "mynodes.py").write_text(LIBRARY)
    (tmp_path / "desk").mkdir()
    graph = tmp_path / "desk" / "g.toml"
    graph.write_text(GRAPH.replace('"nodes/mynodes.py"', '"../shared/mynodes.py"'))
    assert violet(capsys, "check", graph)[0] == 0
    os.symlink(tmp_path / "shared" / "mynodes.py", tmp_path / "desk" / "linked.py")
    graph.write_text(GRAPH.replace('"nodes/mynodes.py"', '"linked.py"'))
    assert violet(capsys, "check", graph)[0] == 0


@pytest.mark.parametrize("path, message", [
    ("/etc/mynodes.py", "'/etc/mynodes.py' is not a library path"),
    ("nodes/missing.py", "no such library file 'nodes/missing.py'"),
    ("nodes/mynodes.txt", "'nodes/mynodes.txt' is not a library path"),
    ("nodes\\\\mynodes.py", "is not a library path"),
    ("secret.py", "'secret.py' is a link to a file that is not a .py file"),
])
def test_library_paths_outside_the_policy_are_refused_by_name(capsys, tmp_path, path, message):
    graph = write(tmp_path)
    (tmp_path / "secret.txt").write_text("not python")
    os.symlink(tmp_path / "secret.txt", tmp_path / "secret.py")
    graph.write_text(GRAPH.replace('"nodes/mynodes.py"', f'"{path}"'))
    code, err = violet(capsys, "check", graph)
    assert code == 2 and message in err and "libraries.mynodes" in err


@pytest.mark.parametrize("key, message", [
    ("sizing", "'sizing' is one of VIOLET's node modules"),
    ("b", "duplicate name 'b': already defined as libraries.b"),
    ("min", "'min' is a built-in function name"),
])
def test_a_library_name_may_not_shadow_a_module_a_name_or_a_builtin(capsys, tmp_path, key, message):
    graph = write(tmp_path, GRAPH.replace("mynodes", key))
    code, err = violet(capsys, "check", graph)
    assert code == 2 and message in err


@pytest.mark.parametrize("library, message, line", [
    ("def f(x: float) -> float:\n    return x\n", "the library holds no @node function", None),
    ("from violet.nodes.registry import node\n@node\ndef f(x: float) -> float\n", "not valid Python: expected ':'", 3),
    ("@node\n@other\ndef f(x: float) -> float:\n    return x\n", "a plain `def` with the one decorator @node", 3),
    ("@node\nasync def f(x: float) -> float:\n    return x\n", "a plain `def` with the one decorator @node", 2),
    ("@node(outputs=NAMES)\ndef f(x: float) -> float:\n    return x\n", "@node takes only `outputs=", 2),
    ('@node(outputs=("a b",))\ndef f(x: float) -> float:\n    return x\n', "output 'a b' is not a valid name", 2),
    ("@node\ndef é(x: float) -> float:\n    return x\n", "'é' is not a valid node name", 2),
    ("@node\ndef f(x: float) -> float:\n    return x\n@node\ndef f(x: float) -> float:\n    return x\n",
     "node 'f' is defined twice", 5),
])
def test_bad_library_files_are_one_message_naming_file_and_line(capsys, tmp_path, library, message, line):
    graph = write(tmp_path, GRAPH.replace('"mynodes.band"', '"mynodes.f"'), library)
    code, err = violet(capsys, "check", graph)
    assert code == 2 and message in err, err
    shown = str(tmp_path / "nodes" / "mynodes.py")
    assert err.startswith(f"error: {shown}" + (f":{line}:" if line else ":"))


def test_unknown_node_of_a_library_names_its_file_and_nodes(capsys, tmp_path):
    graph = write(tmp_path, GRAPH.replace('"mynodes.band"', '"mynodes.bnad"'))
    code, err = violet(capsys, "check", graph)
    assert code == 2 and "unknown node 'mynodes.bnad'" in err and "has no @node function 'bnad'" in err
    assert "its nodes: band, scaled, twice_scaled" in err


def test_a_library_file_not_utf8_or_too_large_is_refused(capsys, tmp_path):
    graph = write(tmp_path)
    (tmp_path / "nodes" / "mynodes.py").write_bytes(b"\xff\xfe")
    code, err = violet(capsys, "check", graph)
    assert code == 2 and "not UTF-8 text" in err
    (tmp_path / "nodes" / "mynodes.py").write_text("#" * 1_000_001)
    code, err = violet(capsys, "check", graph)
    assert code == 2 and "larger than 1,000,000 bytes" in err


def test_a_node_that_calls_itself_through_another_is_refused(capsys, tmp_path):
    library = ("from violet.nodes.registry import node\n\n\n@node\ndef f(x: float) -> float:\n    return mynodes.g(x)\n\n\n"
               "@node\ndef g(x: float) -> float:\n    return mynodes.f(x) + 1.0\n")
    graph = write(tmp_path, GRAPH.replace('"mynodes.band"', '"mynodes.f"').replace('in = { x = "x", width = "k" }',
                                                                                   'in = { x = "x" }'), library)
    graph.write_text(graph.read_text().split("[outputs]")[0] + '[outputs]\ny = "b"\n')
    code, err = violet(capsys, "check", graph)
    assert code == 2 and "node mynodes.f calls itself: mynodes.f -> mynodes.g -> mynodes.f" in err
    assert f"{tmp_path / 'nodes' / 'mynodes.py'}:11: node 'mynodes.g'" in err


def deep_library(levels: int) -> str:
    """Nodes f0 ... f<levels - 1>, each calling the next inside an expression nested as deep as the subset allows."""
    lines = ["from violet.nodes.registry import node", ""]
    for k in range(levels):
        inner = f"mynodes.f{k + 1}(x)" if k + 1 < levels else "x"
        lines += ["@node", f"def f{k}(x: float) -> float:", "    return " + "-abs(" * 48 + inner + ")" * 48, ""]
    return "\n".join(lines)


def test_nodes_call_nodes_32_deep_at_full_nesting_and_no_deeper(capsys, tmp_path):
    graph = tmp_path / "g.toml"
    graph.write_text('[graph]\nname = "deep"\n[libraries]\nmynodes = "deep.py"\n[inputs]\nx = { type = "float64" }\n'
                     '[outputs]\ny = "mynodes.f0(x)"\n')
    (tmp_path / "deep.py").write_text(deep_library(32))
    ir = lower(load_graph(graph))
    assert sum(op.kind == "abs" for op in ir.ops) == 32 * 48
    (tmp_path / "deep.py").write_text(deep_library(33))
    code, err = violet(capsys, "check", graph)
    assert code == 2 and "nodes call nodes more than 32 deep: mynodes.f0 -> mynodes.f1" in err
