"""The `violet` command end to end on real files: check, dot, compile (cache), run, diff."""

from __future__ import annotations

import os
import subprocess
import sys

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from conftest import GRAPHS

from violet.compile.lower import lower
from violet.dag.graph import load_graph

SIZING = GRAPHS / "blue_sizing.toml"
ROWS = [  # hand-checked below
    dict(vel_div=-0.05, acb_boost=1.0, acb_beta=0.0, mc_scale=1.0, ob_mult=1.0, esof_score=0.0, dc_status="NEUTRAL",
         posture="APEX", capital=10000.0, exchange_max_leverage=20),
    dict(vel_div=0.0, acb_boost=1.0, acb_beta=0.0, mc_scale=1.0, ob_mult=1.0, esof_score=0.0, dc_status="CONFIRM",
         posture="STALKER", capital=10000.0, exchange_max_leverage=3),
]


def violet(*args: object, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "violet.cli", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


def test_check_prints_the_graph(tmp_path):
    done = violet("check", SIZING)
    assert done.returncode == 0, done.stderr
    ir = lower(load_graph(SIZING))
    for text in ("input", "vel_div", "enum{CONFIRM,NEUTRAL,CONTRADICT}", "finite, gt 0.0", "output", "exch_lev",
                 "int64", "param", "vd_threshold", "-0.02", f"ops: {len(ir.ops)}", ir.content_hash):
        assert text in done.stdout, text


def test_check_lists_state_with_its_start_and_docs(tmp_path):
    """State fields with their initial values as a graph file writes them (false, -1, an enum's name),
    and the docs of inputs and params."""
    from hostile import BASE, write_pair

    done = violet("check", GRAPHS / "blue_exit.toml")
    assert done.returncode == 0, done.stderr
    rows = {line.split()[1]: line for line in done.stdout.splitlines() if line.split()[:1] in (["state"], ["input"])}
    assert "starts at false" in rows["open"] and "starts at -1" in rows["entry_scan"]
    assert "this scan's number" in rows["scan_id"]
    done = violet("check", write_pair(tmp_path, BASE))
    rows = {line.split()[1]: line for line in done.stdout.splitlines() if line.split()[:1] == ["state"]}
    assert "starts at FLAT" in rows["pos"] and "starts at 0" in rows["n"]  # an enum starts at its first value


def test_set_names_the_nearest_parameter_and_spells_a_bool(capsys):
    from test_errors import violet as in_process

    code, err = in_process(capsys, "check", GRAPHS / "blue_decision.toml", "--set", "sz.max_levrage=3")
    assert code == 2 and "unknown parameter 'sz.max_levrage' (did you mean 'sz.max_leverage'?)" in err
    code, err = in_process(capsys, "check", GRAPHS / "blue_decision.toml", "--set", "pos.sl_enabled=yes")
    assert code == 2 and "parameter 'pos.sl_enabled' is bool, got 'yes'" in err and "fix: write true or false" in err


def test_check_ranges_proves_leverage_within_the_set_limits():
    done = violet("check", SIZING, "--ranges", "--set", "abs_max_leverage=6.0", "--set", "min_leverage=1.0")
    assert done.returncode == 0, done.stderr
    ranges = [line.split() for line in done.stdout.splitlines() if line.startswith("output leverage ")]
    assert ranges == [["output", "leverage", "float64", "[1,", "6]"]]  # [min_leverage, abs_max_leverage], no NaN
    assert "by cases on the sign of" in done.stdout and "48 boxes" in done.stdout


def test_dot_draws_composed_graphs_as_clusters_with_typed_edges(tmp_path):
    dot = tmp_path / "decision.dot"
    assert violet("dot", GRAPHS / "blue_decision.toml", "-o", dot).returncode == 0
    text = dot.read_text()
    assert "subgraph cluster_sz" in text and "subgraph cluster_pos" in text and "subgraph cluster_sel" in text
    assert 'label="float64[N]"' in text and 'label="enum{NONE,STOP_LOSS,TAKE_PROFIT,TRAILING,MAX_HOLD}"' in text
    svg = tmp_path / "sizing.svg"
    done = violet("dot", SIZING, "-o", svg)
    assert done.returncode == 0, done.stderr  # the CI installs Debian's graphviz
    assert "<svg" in svg.read_text()
    decision_svg = tmp_path / "decision.svg"  # Graphviz 2.43 needs newrank for its clusters
    done = violet("dot", GRAPHS / "blue_decision.toml", "-o", decision_svg)
    assert done.returncode == 0 and done.stdout.strip() == f"wrote {decision_svg}", done.stderr
    assert "<svg" in decision_svg.read_text()


def test_compile_misses_then_a_second_process_hits_the_disk_cache(tmp_path):
    env = {"VIOLET_CACHE_DIR": str(tmp_path / "cache")}
    first = violet("compile", SIZING, env=env)
    second = violet("compile", SIZING, env=env)
    assert "compiled (miss)" in first.stdout, first.stdout + first.stderr
    assert "loaded from cache (hit)" in second.stdout, second.stdout


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_run_on_parquet_and_csv(tmp_path, suffix):
    table = pa.Table.from_pylist(ROWS)
    source = tmp_path / f"in{suffix}"
    (pq.write_table if suffix == ".parquet" else pacsv.write_csv)(table, source)
    out = tmp_path / f"out{suffix}"
    done = violet("run", SIZING, "--input", source, "--output", out)
    assert done.returncode == 0, done.stderr
    result = (pq.read_table if suffix == ".parquet" else pacsv.read_csv)(out).to_pylist()
    # row 0: full conviction, neutral factors: leverage 8, notional 10000 * 0.2 * 8 = 16000, exch_lev 8, margin 2000
    assert (result[0]["leverage"], result[0]["notional"], result[0]["exch_lev"], result[0]["margin"]) == (8.0, 16000.0, 8, 2000.0)
    # row 1: no conviction (s = 0): base 0.5, dc 1.25 -> raw 0.625; STALKER cap 2 does not bind; leverage 0.625
    # notional 10000 * 0.2 * 0.625 = 1250; exch_lev = min(max(ceil(0.625), 1), 3) = 1; margin 1250
    assert (result[1]["s"], result[1]["raw"], result[1]["cmax"], result[1]["leverage"]) == (0.0, 0.625, 2.0, 0.625)
    assert (result[1]["notional"], result[1]["exch_lev"], result[1]["margin"]) == (1250.0, 1, 1250.0)
    assert result[1]["dc_status"] == "CONFIRM" and result[1]["posture"] == "STALKER"  # enums as their names
    if suffix == ".parquet":
        meta = pq.read_schema(out).metadata
        assert meta[b"violet.graph_hash"].decode() == lower(load_graph(SIZING)).content_hash


def test_run_with_a_parameter_override(tmp_path):
    source = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS[:1]), source)
    out = tmp_path / "out.parquet"
    assert violet("run", SIZING, "--input", source, "--output", out, "--set", "max_leverage=4.0").returncode == 0
    row = pq.read_table(out).to_pylist()[0]
    # base = 0.5 + (4 - 0.5) * 1 = 4; cmax = min(4 * 1, 9) = 4; leverage 4; notional 8000; exch_lev 4; margin 2000
    assert (row["base"], row["leverage"], row["notional"], row["exch_lev"], row["margin"]) == (4.0, 4.0, 8000.0, 4, 2000.0)
    assert pq.read_schema(out).metadata[b"violet.graph_hash"].decode() != lower(load_graph(SIZING)).content_hash


def test_diff_against_the_interpreter_and_the_legacy_form():
    done = violet("diff", SIZING, "--samples", "20000", "--extreme", "5000")
    assert done.returncode == 0 and "mismatches: 0 rows" in done.stdout, done.stdout + done.stderr
    done = violet("diff", SIZING, "--reference", "violet.legacy.sizing:size", "--samples", "20000", "--extreme", "5000")
    assert done.returncode == 0 and "compiled vs violet.legacy.sizing:size" in done.stdout, done.stdout + done.stderr


def test_a_wrong_reference_is_caught_and_attributed(tmp_path):
    legacy = (GRAPHS.parent / "violet" / "legacy" / "sizing.py").read_text()
    bad = tmp_path / "bad_ref.py"
    bad.write_text(legacy.replace("ESOF_MAX = 1.20", "ESOF_MAX = 1.2000000000000002"))  # one ULP above 1.2
    done = violet("diff", SIZING, "--reference", f"{bad}:size", "--samples", "20000", "--extreme", "0")
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert "mismatches: " in out and "mismatches: 0 rows" not in out
    assert "first difference at row" in out and "node 'esof'" in out and "(output 'esof')" in out
    assert "min float64" in out  # the IR op: clamp's upper min
    assert "1.2 (0x3ff3333333333333)" in out and "1.2000000000000002 (0x3ff3333333333334)" in out
    assert "ULP distance: 1" in out
