"""The whole chain on the shared real Binance panel (or, in a clone without it, the generated universe)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import GRAPHS

from violet.compile.lower import lower
from violet.compile.numba_backend import compile_ir
from violet.dag.graph import load_graph
from violet.legacy.engine import BlueEngine
from violet.scans.panel import SHARED_PANEL
from violet.tools.diff import diff_reference
from violet.table_io import input_columns, read_table


def test_decision_graph_equals_the_legacy_engine_on_every_real_scan(real_scans):
    ir = lower(load_graph(GRAPHS / "blue_decision.toml"))
    cg = compile_ir(ir)
    uni = read_table(real_scans.with_name("scans.universe.parquet"))
    columns, rejected = input_columns(ir, read_table(real_scans), str(real_scans), uni)
    n_scans, n_assets = columns["price"].shape
    if SHARED_PANEL.is_file():
        assert (n_scans, n_assets) == (4248 - 151, 453)
    assert not rejected.rows
    report = diff_reference(cg, columns, BlueEngine, "violet.legacy.engine:BlueEngine")
    assert report.ok, report.render()
    assert report.rows == n_scans and report.trades.graph == report.trades.reference > 10
    actions = cg.batch(columns)["action"]
    assert set(np.unique(actions)) == {0, 1, 2}  # NONE, ENTER_SHORT and EXIT all happen


def test_readme_diff_command_on_real_scans(real_scans):
    """The exact command the README shows, through the CLI."""
    done = subprocess.run([sys.executable, "-m", "violet.cli", "diff", str(GRAPHS / "blue_decision.toml"),
                           "--reference", "violet.legacy.engine:BlueEngine", "--input", str(real_scans),
                           "--samples", "2000", "--extreme", "500"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("mismatches: 0 rows") == 4 and "0 differ" in done.stdout  # scan and step kernels
    assert done.stdout.count("step kernel") == 2 and done.stdout.count("step trades:") == 2


@pytest.mark.long
def test_readme_main_job_as_written(tmp_path):
    """The README's main job, parsed from the README (all but its set-up: a venv installed from the lock, as
    .ci/run does), in a fresh directory: scans, the reactor replay into the embedded journal, the report and
    the journal's verification."""
    readme = (GRAPHS.parent / "README.md").read_text()
    command = next(line for line in readme.splitlines() if line.startswith("python3.11 -m venv .venv && "))
    setup = [part for part in command.split(" && ") if not part.startswith("violet ")]
    assert setup == ["python3.11 -m venv .venv", ". .venv/bin/activate", "pip install -c requirements.lock -e ."]
    steps = command.split(" && ")[len(setup):]
    (tmp_path / "graphs").symlink_to(GRAPHS)
    for step in steps:
        done = subprocess.run(step, shell=True, cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, f"{step}\n{done.stdout}\n{done.stderr}"
    assert steps[-1].startswith("violet journal verify") and "verified: the journal is exactly" in done.stdout
