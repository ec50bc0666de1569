"""One row's values on the graph (`violet dot --input T --row K`): hand-checked values, and for a stateful
graph the same outputs as the whole sequence run in one compiled loop."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import GRAPHS

from violet.compile.lower import lower
from violet.compile.numba_backend import compile_ir
from violet.dag.graph import load_graph
from violet.compile.identity import identity_view
from violet.tools.explain import show, values_at, vertex_values
from violet.tools.sampling import sample

SIZING_CSV = """vel_div,acb_boost,acb_beta,mc_scale,ob_mult,esof_score,dc_status,posture,capital,exchange_max_leverage
0.0,1.0,0.0,1.0,1.0,0.0,CONFIRM,STALKER,10000.0,3
-0.05,1.0,0.0,1.0,1.0,0.0,NEUTRAL,APEX,10000.0,20
"""


def violet(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "violet.cli", *map(str, args)], capture_output=True, text=True)


def test_one_rows_values_are_drawn_on_the_graph(tmp_path):
    """Row 1 by hand: s = 1 (vel_div at the extreme), base = 0.5 + 7.5 = 8, regime = dc = esof = 1, raw = 8,
    cmax = min(8, 9) = 8, leverage = 8, notional = 10000 * 0.2 * 8 = 16000, exch_lev = 8, margin = 2000."""
    table = tmp_path / "rows.csv"
    table.write_text(SIZING_CSV)
    done = violet("dot", GRAPHS / "blue_sizing.toml", "--input", table, "--row", 1)
    assert done.returncode == 0, done.stderr
    shown = dict(re.findall(r'^\t"?([\w. ()]+?)"? \[label="[^"]*?\n= ([^"\n]*)"', done.stdout, re.M))
    assert shown == shown | {"s": "1.0", "base": "8.0", "dc": "1.0", "regime": "1.0", "esof": "1.0", "raw": "8.0",
                             "cmax": "8.0", "leverage": "8.0", "notional": "16000.0", "exch_lev": "8",
                             "margin": "2000.0", "dc_status": "NEUTRAL", "posture": "APEX", "vel_div": "-0.05",
                             "min_leverage": "0.5", "margin (output)": "2000.0", "leverage (output)": "8.0"}
    assert "rows.csv, row 1" in done.stdout
    svg = tmp_path / "why.svg"
    assert violet("dot", GRAPHS / "blue_sizing.toml", "--input", table, "--row", 0, "-o", svg).returncode == 0
    assert "= STALKER" in svg.read_text()


def with_scan_ids(ids: str) -> str:
    """SIZING_CSV with a scan_id column (the journal's name of a scan) before its own."""
    header, *rows = SIZING_CSV.splitlines()
    return "\n".join(f"{i},{line}" for i, line in zip(["scan_id", *ids.split(",")], [header, *rows])) + "\n"


def test_a_scan_is_named_by_its_scan_id_as_the_journal_names_it(tmp_path):
    table = tmp_path / "rows.csv"
    table.write_text(with_scan_ids("1200,1234"))
    by_id = violet("dot", GRAPHS / "blue_sizing.toml", "--input", table, "--scan-id", 1234)
    by_row = violet("dot", GRAPHS / "blue_sizing.toml", "--input", table, "--row", 1)
    assert by_id.returncode == 0 and "rows.csv, row 1 (scan_id 1234)" in by_id.stdout, by_id.stderr
    assert by_id.stdout.replace(" (scan_id 1234)", "") == by_row.stdout and '= 16000.0' in by_id.stdout


@pytest.mark.parametrize("ids, args, message", [
    ("1200,1234", ["--scan-id", "7"], "scan_id 7 is not in the table (its ids: 1200..1234)"),
    ("5,5", ["--scan-id", "5"], "scan_id 5 is on 2 rows (0, 1)"),
    ("1200,1234", ["--scan-id", "1234", "--row", "1"], "--row and --scan-id both name the row"),
    ("", ["--scan-id", "1"], "the table has no scan_id column"),
])
def test_bad_scan_ids_are_refused_clearly(tmp_path, ids, args, message):
    table = tmp_path / "rows.csv"
    table.write_text(with_scan_ids(ids) if ids else SIZING_CSV)
    done = violet("dot", GRAPHS / "blue_sizing.toml", "--input", table, *args)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_a_stateful_rows_values_match_the_whole_sequence():
    """blue_decision at row K, state carried by the scan kernel over rows 0..K-1, equals row K of the whole
    sequence run in one loop (every output, exact bits), including rows where a position is open."""
    ir = lower(load_graph(GRAPHS / "blue_decision.toml"))
    cg = compile_ir(ir)
    cols = sample(ir.inputs, 400, 0, seed=3, assets=5)
    whole = cg.batch(cols)
    opened = 0
    for row in (0, 1, 57, 211, 399):
        at = values_at(cg, cols, row)
        opened += bool(at.state["pos.open"])
        for name, i in ir.outputs:
            got, want = np.array([at.values[i]]), whole[name][row:row + 1]
            if want.dtype == np.float64:
                got, want = identity_view(got), identity_view(want)
            assert np.array_equal(got.astype(want.dtype), want), (row, name, at.values[i], whole[name][row])
    assert opened > 0
    texts = vertex_values(ir, values_at(cg, cols, 211).values)
    assert texts["stable"].startswith("[") and texts["action (output)"] in ("NONE", "ENTER_SHORT", "EXIT")


def test_values_are_shown_exactly():
    ir = lower(load_graph(GRAPHS / "blue_decision.toml"))
    ops = {op.name: op for op in ir.ops if op.kind == "input"}
    assert show(0.1 + 0.2, ops["vel_div"]) == "0.30000000000000004"  # repr: the exact double, not rounded
    assert show(1, ops["posture"]) == "STALKER"
    assert show([True, False, True], ops["stable"]) == "[true, false, true]"
    assert show(np.arange(10.0), ops["score"]) == "[10] 0 .. 9"
    assert show(np.array([True] * 7 + [False] * 3), ops["stable"]) == "[10] 7 true"


@pytest.mark.parametrize("args, message", [
    (["--row", "5"], "--input and --row go together"),
    (["--input", "TABLE"], "--input and --row go together"),
    (["--input", "TABLE", "--row", "7"], "row 7 is outside the table's 2 rows"),
])
def test_bad_row_requests_are_refused_clearly(tmp_path, args, message):
    table = tmp_path / "rows.csv"
    table.write_text(SIZING_CSV)
    done = violet("dot", GRAPHS / "blue_sizing.toml", *[str(table) if a == "TABLE" else a for a in args])
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, done.stderr
