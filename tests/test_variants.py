"""Graph variants (`[graph] extends`): a variant is the base's tables overridden key by key, lowers to the
IR of the equivalent flat file (same content hash), keeps the base's paths relative to the base, and
refuses cycles, chains deeper than 16 and drops of what the base does not define."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import GRAPHS
from test_errors import violet

from violet.compile.lower import lower
from violet.compile.numba_backend import compile_ir
from violet.dag.graph import load_graph
from violet.tools.sampling import sample

BASE = '''[graph]
name = "base"
doc = "the base"
[inputs]
x = { type = "float64" }
[params]
k = { default = 1.0, doc = "the k" }
m = 2.0
[consts]
c = 0.5
[state]
n = { init = 0, doc = "rows seen" }
[nodes.a]
expr = "x * k"
[nodes.b]
expr = "a + m"
[outputs]
y = "a + c"
z = "b"
[next_state]
n = "n + 1"
'''

VARIANT = '''[graph]
extends = "base.toml"
drop = ["nodes.b", "outputs.z"]
[params]
k = 3.0
m = { default = 4.0, doc = "new" }
[state]
n = 5
[nodes.a]
expr = "x * k - m"
[outputs]
w = "a * 2.0"
'''

FLAT = '''[graph]
name = "base"
doc = "the base"
[inputs]
x = { type = "float64" }
[params]
k = { default = 3.0, doc = "the k" }
m = { default = 4.0, doc = "new" }
[consts]
c = 0.5
[state]
n = { init = 5, doc = "rows seen" }
[nodes.a]
expr = "x * k - m"
[outputs]
y = "a + c"
w = "a * 2.0"
[next_state]
n = "n + 1"
'''


def check_resolved(path: Path) -> str:
    done = subprocess.run([sys.executable, "-m", "violet.cli", "check", str(path), "--resolved"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_variant_equals_the_flat_file_written_by_hand(write_graph):
    write_graph(BASE, "base.toml")
    variant = lower(load_graph(write_graph(VARIANT, "variant.toml")))
    flat = lower(load_graph(write_graph(FLAT, "flat.toml")))
    assert variant.content_hash == flat.content_hash
    assert {p.name: (p.default, p.doc) for p in variant.params} == {"k": (3.0, "the k"), "m": (4.0, "new")}
    assert [(s.name, s.init, s.doc) for s in variant.state] == [("n", 5, "rows seen")]
    assert variant.output_names == ["y", "w"] and variant.source.endswith("variant.toml")


def test_check_resolved_prints_a_flat_file_with_the_same_hash(write_graph, tmp_path):
    write_graph(BASE, "base.toml")
    variant = write_graph(VARIANT, "variant.toml")
    text = check_resolved(variant)
    assert "extends" not in text.split("\n", 1)[1] and "drop" not in text and "[nodes.b]" not in text
    flat = write_graph(text, "resolved.toml")
    assert lower(load_graph(flat)).content_hash == lower(load_graph(variant)).content_hash


def test_check_names_the_chain_of_bases(write_graph):
    write_graph(BASE, "base.toml")
    write_graph(VARIANT, "variant.toml")
    path = write_graph('[graph]\nextends = "variant.toml"\nname = "again"\n', "again.toml")
    done = subprocess.run([sys.executable, "-m", "violet.cli", "check", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"extends: {path.with_name('variant.toml')} -> {path.with_name('base.toml')}" in done.stdout
    assert done.stdout.startswith("again") and "param   m" in done.stdout


def copy_graphs(tmp_path: Path) -> Path:
    """graphs/ (the four graphs and examples/blue_tight.toml) copied, so files can be written beside them."""
    root = tmp_path / "graphs"
    shutil.copytree(GRAPHS, root, ignore=shutil.ignore_patterns("*.parquet", "*.csv"))
    return root


def test_blue_tight_is_a_few_lines_and_equals_its_flat_equivalent_bit_for_bit(tmp_path):
    source = (GRAPHS / "examples" / "blue_tight.toml").read_text()
    assert len([line for line in source.splitlines() if line.strip() and not line.startswith("#")]) <= 12
    root = copy_graphs(tmp_path)
    variant = root / "examples" / "blue_tight.toml"
    flat = root / "examples" / "blue_tight_flat.toml"
    flat.write_text(check_resolved(variant))
    assert 'graph = "../blue_exit.toml"' in flat.read_text() and 'graph = "../blue_sizing.toml"' in flat.read_text()
    a, b = lower(load_graph(variant)), lower(load_graph(flat))
    assert a.content_hash == b.content_hash and a.code_hash == b.code_hash
    params = {p.name: p for p in a.params}
    assert params["vd_threshold"].default == -0.015 and "shared by the entry signal" in params["vd_threshold"].doc
    assert params["take_profit"].default == 0.006 and "pos.tp_pct" not in params
    base = lower(load_graph(GRAPHS / "blue_decision.toml"))
    assert base.content_hash != a.content_hash and "pos.tp_pct" in {p.name for p in base.params}
    columns = sample(a.inputs, 3000, 1000, seed=7, assets=6)
    got, want = compile_ir(a).batch(columns), compile_ir(b).batch(columns)
    assert got.keys() == want.keys()
    for name in got:
        assert np.array_equal(np.asarray(got[name]).view(np.uint8), np.asarray(want[name]).view(np.uint8)), name
    # the tighter take-profit and the earlier entry change the decisions against the base on the same rows
    decided = compile_ir(base).batch(columns)
    assert not np.array_equal(decided["action"], got["action"])


def test_paths_of_the_base_stay_relative_to_the_base(capsys, tmp_path):
    (tmp_path / "lib" / "nodes").mkdir(parents=True)
    (tmp_path / "lib" / "nodes" / "mine.py").write_text(
        "from violet.nodes.registry import node\n\n\n@node\ndef half(v: float) -> float:\n    return v * 0.5\n")
    (tmp_path / "lib" / "sub.toml").write_text('[graph]\nname = "sub"\n[inputs]\ny = { type = "float64" }\n'
                                               '[outputs]\nz = "y * 3.0"\n')
    (tmp_path / "lib" / "base.toml").write_text(
        '[graph]\nname = "b"\n[libraries]\nmine = "nodes/mine.py"\n[inputs]\nx = { type = "float64" }\n'
        '[nodes.s]\ngraph = "sub.toml"\nin = { y = "x" }\n[outputs]\nh = "mine.half(s.z)"\n')
    variant = tmp_path / "v.toml"
    variant.write_text('[graph]\nextends = "lib/base.toml"\nname = "v"\n[outputs]\ng = "s.z + 1.0"\n')
    code, err = violet(capsys, "check", variant)
    assert code == 0, err
    cg = compile_ir(lower(load_graph(variant)))
    result = cg.batch({"x": np.array([2.0])})
    assert result["h"][0] == 3.0 and result["g"][0] == 7.0
    text = check_resolved(variant)
    assert 'mine = "lib/nodes/mine.py"' in text and 'graph = "lib/sub.toml"' in text
    flat = tmp_path / "flat.toml"
    flat.write_text(text)
    assert lower(load_graph(flat)).content_hash == lower(load_graph(variant)).content_hash
    # a node the variant writes is relative to the variant
    variant.write_text(variant.read_text() + '[nodes.s]\ngraph = "lib/sub.toml"\nin = { y = "x * 2.0" }\n')
    assert compile_ir(lower(load_graph(variant))).batch({"x": np.array([2.0])})["g"][0] == 13.0


def test_a_variant_replaces_a_library_and_the_base_nodes_use_it(write_graph, tmp_path):
    (tmp_path / "one.py").write_text("from violet.nodes.registry import node\n@node\ndef f(v: float) -> float:\n"
                                     "    return v + 1.0\n")
    (tmp_path / "two.py").write_text("from violet.nodes.registry import node\n@node\ndef f(v: float) -> float:\n"
                                     "    return v + 2.0\n")
    write_graph('[graph]\nname = "b"\n[libraries]\nmine = "one.py"\n[inputs]\nx = { type = "float64" }\n'
                '[nodes.a]\nnode = "mine.f"\nin = { v = "x" }\n[outputs]\ny = "a"\n', "base.toml")
    variant = write_graph('[graph]\nextends = "base.toml"\n[libraries]\nmine = "two.py"\n', "v.toml")
    assert compile_ir(lower(load_graph(variant))).batch({"x": np.array([1.0])})["y"][0] == 3.0


def chain(directory: Path, links: int) -> Path:
    """v0.toml extends v1.toml ... extends v<links>.toml, the plain base: `links` extends in a row."""
    (directory / f"v{links}.toml").write_text(BASE)
    for k in range(links):
        (directory / f"v{k}.toml").write_text(f'[graph]\nextends = "v{k + 1}.toml"\n[params]\nk = {float(k)}\n')
    return directory / "v0.toml"


def test_chains_of_sixteen_extends_load_seventeen_are_refused(capsys, tmp_path):
    (tmp_path / "ok").mkdir()
    (tmp_path / "deep").mkdir()
    assert lower(load_graph(chain(tmp_path / "ok", 16))).param_defaults["k"] == 0.0
    code, err = violet(capsys, "check", chain(tmp_path / "deep", 17))
    assert code == 2 and "graphs extended more than 16 deep" in err and "v16.toml: graph.extends" in err


def test_a_cycle_of_extends_is_refused_by_name(capsys, write_graph):
    write_graph('[graph]\nextends = "b.toml"\n', "a.toml")
    write_graph('[graph]\nextends = "a.toml"\n', "b.toml")
    code, err = violet(capsys, "check", write_graph('[graph]\nextends = "a.toml"\n', "start.toml"))
    assert code == 2 and "graph extends itself: start.toml -> a.toml -> b.toml -> a.toml" in err
    code, err = violet(capsys, "check", write_graph('[graph]\nextends = "self.toml"\n', "self.toml"))
    assert code == 2 and "graph extends itself: self.toml -> self.toml" in err


@pytest.mark.parametrize("graph_table, message", [
    ('extends = "base.toml"\ndrop = ["nodes.nope"]', "'nodes.nope' is not an entry of the base"),
    ('extends = "base.toml"\ndrop = ["graph.name"]', "'graph.name' is not an entry of the base"),
    ('extends = "base.toml"\ndrop = "nodes.b"', "`drop` must be a list of strings"),
    ('extends = "base.toml"\ndrop = ["outputs.z"]\n[outputs]\nz = "a"', "'outputs.z' is both dropped and defined"),
    ('name = "x"\ndrop = ["nodes.b"]', "`drop` removes entries of a base: it needs `extends`"),
    ("extends = 3", "`extends` must be a string"),
    ('extends = "missing.toml"', "no such graph file 'missing.toml'"),
    ('extends = "base.py"', "'base.py' is not a graph file path"),
])
def test_bad_extends_and_drop_are_one_message(capsys, write_graph, graph_table, message):
    write_graph(BASE, "base.toml")
    code, err = violet(capsys, "check", write_graph(f"[graph]\n{graph_table}\n", "v.toml"))
    assert code == 2 and message in err, err
    assert "v.toml" in err


def test_dropping_a_node_another_reads_names_the_reader_where_it_is_written(capsys, write_graph):
    base = write_graph(BASE, "base.toml")
    code, err = violet(capsys, "check", write_graph('[graph]\nextends = "base.toml"\ndrop = ["nodes.a"]\n', "v.toml"))
    assert code == 2 and f"{base}: nodes.b: unknown name 'a'" in err


def test_an_error_in_the_base_names_the_base(capsys, write_graph):
    write_graph(BASE.replace("[consts]", "[konsts]"), "base.toml")
    code, err = violet(capsys, "check", write_graph('[graph]\nextends = "base.toml"\n', "v.toml"))
    assert code == 2 and err.startswith("error: ") and err.split(":")[1].strip().endswith("base.toml")
    assert "konsts: unknown key" in err and "v.toml" not in err
