"""The code imports only what pyproject.toml declares, the tests run on the versions the lock pins, and the
layers import downward only."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

from conftest import REPO

PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==(\S+)")


def test_imports_match_declared_dependencies():
    """deptry: no undeclared import (a transitive one included), no declared dependency left unused."""
    done = subprocess.run([sys.executable, "-m", "deptry", "."], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr


def test_installed_versions_are_the_locked_ones():
    """`.ci/run` installs from requirements.lock into a new environment; a version that differs here means
    the lock no longer describes what was tested (refresh it: see the README)."""
    pins = [PIN.match(line) for line in (REPO / "requirements.lock").read_text().splitlines()]
    wrong = []
    for pin in filter(None, pins):
        try:
            installed = importlib.metadata.version(pin[1])
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if installed != pin[2]:
            wrong.append(f"{pin[1]}: locked {pin[2]}, installed {installed}")
    assert len([p for p in pins if p]) > 20 and not wrong, wrong


def test_every_declared_dependency_is_locked():
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + project["optional-dependencies"]["test"]
    locked = {PIN.match(line)[1].lower() for line in (REPO / "requirements.lock").read_text().splitlines()
              if PIN.match(line)}
    names = {re.split(r"[<>=\[ ;]", spec, maxsplit=1)[0].lower() for spec in declared}
    assert names <= locked, names - locked


def test_no_unused_import_or_undefined_name():
    """ruff's pyflakes rules over the package, the tests and the benchmarks: dead imports, unused variables,
    undefined names and shadowed imports fail here, not in a reader's head."""
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "violet", "tests", "benchmarks"], capture_output=True,
                          text=True, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr


def _imported(path: Path) -> set[str]:
    """Every module a Python file imports (absolute names; a relative import as its dotted tail)."""
    tree = ast.parse(path.read_text())
    names = {alias.name for n in ast.walk(tree) if isinstance(n, ast.Import) for alias in n.names}
    return names | {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}


def test_the_graph_layer_never_imports_the_node_layer():
    """Layers import downward only (dag < nodes): the graph loader reads VIOLET's own node modules as files, and
    loading a graph imports none of them."""
    dag = REPO / "violet" / "dag"
    found = {p.name: sorted(m for m in _imported(p) if m == "violet.nodes" or m.startswith("violet.nodes."))
             for p in dag.glob("*.py")}
    assert not {name: mods for name, mods in found.items() if mods} and found
    probe = ("import sys; from violet.api import load; ir = load(sys.argv[1]); "
             "print(sorted(m for m in sys.modules if m.startswith('violet.nodes')))")
    done = subprocess.run([sys.executable, "-c", probe, str(REPO / "graphs" / "blue_decision.toml")],
                          capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr


ONE_WAY = {"violet.compile.lower": "lower", "violet.dag.graph": "load_graph", "violet.compile.numba_backend": "compile_ir"}


def test_graphs_are_loaded_and_compiled_one_way():
    """The facade (violet/api.py) loads, lowers, binds and compiles a graph: nothing above the compiler (the CLI,
    the runtime, the journal, the tools, the benchmarks) imports the loader, the lowering or the compiler."""
    files = [p for p in (REPO / "violet").rglob("*.py") if p.parent.name not in ("compile", "dag") and p.name != "api.py"]
    files += list((REPO / "benchmarks").glob("*.py"))
    found = []
    for path in files:
        for n in ast.walk(ast.parse(path.read_text())):
            if isinstance(n, ast.ImportFrom) and any(ONE_WAY.get(n.module or "") == a.name for a in n.names):
                found.append(f"{path.relative_to(REPO)}:{n.lineno}: {ast.unparse(n)}")
    assert not found and len(files) > 20
