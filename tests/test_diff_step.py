"""`violet diff` also runs the step kernel the runtime calls, row by row with the state threaded in Python."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

from conftest import GRAPHS

from violet.compile.lower import lower
from violet.compile.numba_backend import CompiledGraph, compile_ir
from violet.dag.graph import load_graph
from violet.legacy.sizing import size
from violet.tools.diff import diff_interpreter, diff_reference, run_step
from violet.tools.sampling import sample

COUNTED = 'bars_held   = "0 if enter else (bars if stays else 0)"'
NOT_COUNTED = 'bars_held   = "0 if enter else (bars_held if stays else 0)"'


def test_the_step_kernel_threads_the_state_as_the_scan_kernel_carries_it():
    """run_step on blue_exit equals the scan kernel row for row, and a position is really held for
    several scans in these rows (so the state threaded through Python matters)."""
    cg = compile_ir(lower(load_graph(GRAPHS / "blue_exit.toml")))
    columns = sample(cg.ir.inputs, 3_000, 500, seed=3, assets=4)
    stepped, scanned = run_step(cg, columns), cg.batch(columns)
    for name in cg.ir.output_names:
        assert stepped[name].tobytes() == scanned[name].tobytes(), name
    assert stepped["bars_held"].max() >= 2


def test_diff_reports_the_step_kernel_rows_compared():
    cg = compile_ir(lower(load_graph(GRAPHS / "blue_exit.toml")))
    columns = sample(cg.ir.inputs, 2_000, 400, seed=1, assets=4)
    report = diff_interpreter(cg, columns)
    assert report.ok and report.step is not None
    assert (report.step.rows, report.step.outputs, report.step.mismatched_rows) == (2_400, 12, 0)
    assert ("step kernel (one call per row, state threaded in Python, as the runtime runs it) vs interpreter: "
            "2,400 rows x 12 outputs compared, mismatches: 0 rows") in report.render()


def test_diff_against_a_reference_runs_the_step_kernel_too():
    cg = compile_ir(lower(load_graph(GRAPHS / "blue_sizing.toml")))
    columns = sample(cg.ir.inputs, 1_000, 200, seed=2)
    report = diff_reference(cg, columns, size, "legacy")
    assert report.ok and report.step is not None
    assert report.step.rows == 1_200 and report.step.outputs == len(report.compared) > 0
    assert report.step.mismatched_rows == 0 and "vs legacy: 1,200 rows" in report.render()


def test_a_step_kernel_that_differs_from_the_scan_kernel_is_caught(write_graph):
    """The kernels of blue_exit, but the step kernel compiled from a version of the graph whose next
    state forgets to count bars held (as a stale or mis-built step kernel would): the scan kernel
    agrees with the interpreter on every row, the step kernel does not, and diff fails naming it."""
    good = compile_ir(lower(load_graph(GRAPHS / "blue_exit.toml")))
    text = (GRAPHS / "blue_exit.toml").read_text()
    assert COUNTED in text
    stale = compile_ir(lower(load_graph(write_graph(text.replace(COUNTED, NOT_COUNTED)))))
    kernels = SimpleNamespace(scan=good.kernel("scan"), trace=good.kernel("trace"), step=stale.kernel("step"),
                              SIGNATURES=good.module.SIGNATURES)
    mixed = CompiledGraph(good.ir, kernels, good.path, {"scan": (0.0, True), "step": (0.0, True)})  # type: ignore[arg-type]
    columns = sample(good.ir.inputs, 2_000, 400, seed=1, assets=4)
    report = diff_interpreter(mixed, columns)
    assert report.mismatched_rows == 0  # the scan kernel is right
    assert not report.ok and report.step is not None and report.step.mismatched_rows > 0
    assert report.step.per_output["bars_held"] > 0
    assert "output 'bars_held': step" in report.step.first and "interpreter" in report.step.first
    row = int(report.step.first.split()[1].rstrip(","))  # named by its row and its scan_id, as the journal names it
    assert report.step.first.startswith(f"row {row} (scan_id {columns['scan_id'][row]}), output 'bars_held'")


def test_cli_diff_prints_the_step_kernel_line():
    done = subprocess.run([sys.executable, "-m", "violet.cli", "diff", str(GRAPHS / "blue_sizing.toml"),
                           "--samples", "1500", "--extreme", "500"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2,000 rows x 11 outputs compared, mismatches: 0 rows" in done.stdout.replace("\n", " ")
