"""The code imports only what pyproject.toml declares, and the tests run on the versions the lock pins."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys

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
