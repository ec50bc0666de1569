"""The worked examples (graphs/examples/, docs/graph-files.md): each compiles, and equals its
legacy-style reference (violet/legacy/examples/) bit for bit on every real scan and on random and
extreme scan sequences, through the scan kernel and the step kernel."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import GRAPHS

from violet.api import compile_graph
from violet.compile.ir import input_shape
from violet.compile.lower import lower
from violet.compile.numba_backend import compile_ir
from violet.dag.graph import load_graph
from violet.tools.diff import diff_reference, load_reference
from violet.table_io import input_columns, read_table

EXAMPLES = GRAPHS / "examples"
REFERENCES = {
    "zscore_selector": "violet.legacy.examples.zscore:ZScoreSelector",
    "invvol_sizing": "violet.legacy.examples.invvol:InvVolSizer",
    "long_lane": "violet.legacy.examples.long_lane:LongEngine",
    "cooldown_short": "violet.legacy.examples.cooldown:CooldownEngine",
    "single_short": "violet.legacy.examples.single_short:SingleShortEngine",
}


def real_run(name: str, scans: Path) -> tuple:
    """The example's kernels, the real scans as its input columns, and its diff against the reference."""
    cg = compile_ir(lower(load_graph(EXAMPLES / f"{name}.toml")))
    universe = read_table(scans.with_name("scans.universe.parquet"))
    columns, rejected = input_columns(cg.ir, read_table(scans), str(scans), universe)
    assert not rejected.rows
    report = diff_reference(cg, columns, load_reference(REFERENCES[name]), REFERENCES[name])
    return cg, columns, report


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_example_equals_its_reference_on_every_real_scan(name, real_scans):
    cg, columns, report = real_run(name, real_scans)
    assert report.ok, report.render()
    assert report.rows == input_shape(cg.ir, columns, rows=True)[0] > 4000 and not report.errors
    assert len(report.compared) >= 3


def test_examples_do_what_they_say_on_real_scans(real_scans):
    """Each example's point shows on the real history: the volatility is a number after warm-up, the long
    lane trades, the cooldown really bars assets after real stop-losses, the z-score picks assets."""
    cg, columns, _ = real_run("invvol_sizing", real_scans)
    out = cg.batch(columns)
    assert np.isnan(out["vol"][:24]).all() and np.isfinite(out["vol"][24:]).mean() > 0.99
    cg, columns, report = real_run("long_lane", real_scans)
    assert report.trades.graph > 10
    cg, columns, report = real_run("cooldown_short", real_scans)
    out = cg.batch(columns)
    reasons = cg.ir.output_type("exit_reason").enum
    assert (out["exit_reason"] == reasons.index("STOP_LOSS")).sum() >= 3 and out["cooling"].max() >= 1
    cg, columns, _ = real_run("zscore_selector", real_scans)
    assert len(np.unique(cg.batch(columns)["asset"])) > 5


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_example_diff_command_on_random_and_extreme_sequences(name):
    done = subprocess.run([sys.executable, "-m", "violet.cli", "diff", str(EXAMPLES / f"{name}.toml"),
                           "--reference", REFERENCES[name], "--samples", "3000", "--extreme", "500"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "mismatches: 0 rows" in done.stdout and "raised" not in done.stdout


def test_long_lane_away_from_its_defaults(real_scans):
    """The mirrored parameter moves with --set, and the reference is given the same point: the lane's own
    threshold, the exit's take-profit and the composed sizing's cap."""
    sets = ["--set", "long_threshold=0.03", "--set", "pos.tp_pct=0.02", "--set", "sz.max_leverage=6.0"]
    done = subprocess.run([sys.executable, "-m", "violet.cli", "diff", str(EXAMPLES / "long_lane.toml"), "--reference",
                           REFERENCES["long_lane"], "--input", str(real_scans), "--samples", "0", "--extreme", "0", *sets],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    defaults = real_run("long_lane", real_scans)[2].trades.graph
    moved = int(re.search(r"trades: ([\d,]+) \(graph\)", done.stdout).group(1).replace(",", ""))
    assert "mismatches: 0 rows" in done.stdout and 0 < moved != defaults  # trades, and not the defaults' ones


def test_single_short_across_its_benchmark_grid(real_scans):
    """The strategy benchmarks/bench_vectorbt.py compares with vectorbt, on the asset it trades there
    (BTCUSDT) at corners of its grid: the graph equals the desk-style loop output by output and trade by
    trade, both exits occur, and a lower threshold trades less often."""
    universe = read_table(real_scans.with_name("scans.universe.parquet"))
    btc = universe.column("symbol").to_pylist().index("BTCUSDT")
    reference = load_reference(REFERENCES["single_short"])
    trades = []
    for vd, tp in [(-0.002, 0.005), (-0.002, 0.05), (-0.04, 0.005)]:
        params = {"asset": btc, "vd_threshold": vd, "tp_pct": tp}
        cg = compile_graph(EXAMPLES / "single_short.toml", params)  # the point bound: its defaults
        columns = input_columns(cg.ir, read_table(real_scans), str(real_scans), universe)[0]
        report = diff_reference(cg, columns, reference, REFERENCES["single_short"], params)
        assert report.ok, report.render()
        exits = cg.scan(columns, params)[0]["exit_reason"]
        reasons = cg.ir.output_type("exit_reason").enum
        assert {reasons.index("TAKE_PROFIT"), reasons.index("STOP_LOSS")} <= set(exits.tolist())
        trades.append(report.trades.graph)
    assert trades[0] > trades[2] > 0 and trades[0] > trades[1] > 0
