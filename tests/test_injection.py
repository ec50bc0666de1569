"""A graph file is data: hostile strings in every string position never run, never escape the target
directory, and never reach generated source; each is refused with one short message (exit 2), or, in free
text (docs), accepted and kept out of the code."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest
from hostile import FILES, POSITIONS, hostile, payloads, write_pair
from test_errors import violet

from violet.compile.lower import lower
from violet.compile.numba_backend import cache_dir, compile_ir
from violet.dag.graph import load_graph

COMMANDS = ("check", "compile", "run", "hdl")


def files_under(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in root.rglob("*") if p.is_file()}


def run_all(capsys, case: Path, position: str, payload: str) -> list[tuple[int, str]]:
    """check, compile, run and hdl on BASE with `payload` at `position`: (exit code, stderr) of each."""
    case.mkdir()
    graph = write_pair(case, hostile(position, payload))
    (case / "in.csv").write_text("x,e\n1.0,A\n0.25,B\n")
    args = {"check": [], "compile": [], "run": ["--input", case / "in.csv", "--output", case / "out.csv"],
            "hdl": ["--out", case / "hdl"]}
    return [violet(capsys, command, graph, *args[command]) for command in COMMANDS]


@pytest.mark.parametrize("position", sorted(POSITIONS))
def test_no_string_position_runs_code_or_writes_outside(capsys, tmp_path, position):
    canary = tmp_path / f"violet_canary_{uuid.uuid4().hex}"
    kind = POSITIONS[position][1]
    # an expression with a trailing comment is that expression: it must do what the bare `x` does
    bare = [code for code, _ in run_all(capsys, tmp_path / "bare", position, "x")]
    for k, payload in enumerate(payloads(canary)):
        results = run_all(capsys, tmp_path / f"case{k}", position, payload)
        commented = kind == "expr" and payload.startswith("x  #")
        for command, expected, (code, err) in zip(COMMANDS, bare if commented else [0 if kind == "text" else 2] * 4,
                                                   results):
            assert code == expected, (position, payload[:80], command, err)
            if code == 2:
                assert err.startswith("error: ") and len(err) < 1200, (position, command, err)
                forged = [line for line in err.splitlines() if line.lstrip().startswith(("__import__", "$system"))]
                assert not forged, err  # a value is quoted: its newlines never start a line of the message
    assert not canary.exists() and not Path(canary.name).exists()
    cases = {"bare"} | {f"case{k}" for k in range(len(payloads(canary)))}
    for path in files_under(tmp_path):
        assert path.parts[0] in cases, path
        assert path.parts[1] == "hdl" or path.name in (*FILES, "in.csv", "out.csv"), path


def test_generated_kernels_hold_no_string_of_the_file(capsys, tmp_path):
    """Free text is accepted, but the kernel module is built from op ids, numbers and a fixed vocabulary."""
    canary = tmp_path / "canary"
    marker = f"marker{uuid.uuid4().hex}"
    doc = hostile("graph.doc", f'{marker}\n__import__("os").system("touch {canary}")')
    doc["nodes"]["w"]["doc"] = marker + '"""'
    graph = write_pair(tmp_path, doc)
    code, _ = violet(capsys, "compile", graph)
    assert code == 0 and not canary.exists()
    for module in cache_dir().glob("violet_*.py"):
        text = module.read_text()
        assert marker not in text and "touch" not in text


def test_a_planted_kernel_module_is_replaced_not_imported(capsys, tmp_path):
    """The cache is keyed by the hash of the generated text; a file at that name holding anything else
    (a torn write, an edit, code planted by an old version) is rewritten before import."""
    graph = write_pair(tmp_path, hostile("graph.doc", "plain"))
    module = compile_ir(lower(load_graph(graph))).path
    canary = tmp_path / "planted"
    planted = f'__import__("os").system("touch {canary}")\n' + module.read_text()
    module.write_text(planted)
    sys.modules.pop(module.stem, None)  # this process imported it already; a new process would not have
    code, _ = violet(capsys, "compile", graph)
    assert code == 0 and not canary.exists()
    assert "touch" not in module.read_text()


@pytest.mark.parametrize("name", ["../escape", "/abs/escape", "a/b", "module x", ".hidden"])
def test_hdl_never_writes_outside_out(capsys, tmp_path, name):
    doc = hostile("graph.doc", "plain")
    doc["graph"]["name"] = name
    graph = write_pair(tmp_path / "", doc)
    out = tmp_path / "deep" / "out"
    code, err = violet(capsys, "hdl", graph, "--out", out)
    assert code == 2 and "graph.name" in err and "is not a valid name" in err
    assert files_under(tmp_path) == set(map(Path, FILES))
    assert not Path(os.sep, "abs").exists()


def test_hdl_refuses_a_simulator_that_would_name_a_directory_outside_out(capsys, tmp_path):
    graph = write_pair(tmp_path, hostile("graph.doc", "plain"))
    code, err = violet(capsys, "hdl", graph, "--out", tmp_path / "out", "--simulate", "10",
                       "--simulator", "../../escape")
    assert code == 2 and "unknown simulator '../../escape'" in err
    assert files_under(tmp_path) == set(map(Path, FILES))


def test_verilog_reserved_words_as_names_still_simulate(capsys, tmp_path):
    """Names are identifiers, but `module`, `wire` or `reg` are Verilog's: ports are prefixed (in_, out_) and
    a reserved module name gets `_g`, so the module still builds and co-simulates."""
    doc = hostile("graph.doc", "plain")
    doc["graph"]["name"] = "module"
    doc["inputs"] = {"wire" if k == "x" else k: v for k, v in doc["inputs"].items()}
    doc["nodes"]["s"]["in"]["y"] = "wire"
    doc["nodes"]["u"]["in"]["v"] = "wire"
    doc["next_state"]["pos"] = "side.SHORT if wire > c else pos"
    doc["outputs"] = {"reg": "w", "held": "pos == side.SHORT"}
    graph = write_pair(tmp_path, doc)
    code, err = violet(capsys, "hdl", graph, "--out", tmp_path / "out", "--simulate", "40", "--simulator", "icarus")
    assert code == 0, err
    assert (tmp_path / "out" / "module_g.v").read_text().startswith("//")
    assert "module module_g" in (tmp_path / "out" / "module_g.v").read_text()
