"""References at any parameter point: `--set` values reach the legacy reference too (diff and replay), and a
reference that cannot take them is refused, never compared silently at its defaults."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import GRAPHS
from test_errors import violet
from test_runtime import write_scans

from violet.api import compile_graph
from violet.errors import InputError
from violet.legacy.engine import BlueEngine
from violet.tools.diff import diff_reference
from violet.table_io import input_columns, read_table

DECISION = GRAPHS / "blue_decision.toml"
AWAY = {"pos.tp_pct": 0.02, "sz.fraction": 0.3, "vd_threshold": -0.03, "pos.max_hold_bars": 30}


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    return write_scans(tmp_path_factory.mktemp("ref") / "scans.parquet", n_scans=400)


def columns_of(cg, scans):
    return input_columns(cg.ir, read_table(scans), "scans", read_table(scans.with_name("scans.universe.parquet")))[0]


def test_the_engine_compared_away_from_its_defaults(scans):
    """The graph and BlueEngine at the same non-default point agree on every field and trade; at different
    points they do not: the parameters really reach the engine."""
    cg = compile_graph(DECISION, AWAY)
    columns = columns_of(cg, scans)
    same = diff_reference(cg, columns, BlueEngine, "BlueEngine", AWAY)
    assert same.ok and same.trades is not None and same.trades.reference > 0 and same.trades.mismatches == 0
    defaults = diff_reference(cg, columns, BlueEngine, "BlueEngine")
    assert not defaults.ok


def test_diff_passes_set_to_the_references(capsys, scans):
    code, err = violet(capsys, "diff", DECISION, "--reference", "violet.legacy.engine:BlueEngine", "--input", scans,
                       "--samples", "0", "--extreme", "0", *[f"--set={k}={v}" for k, v in AWAY.items()])
    assert code == 0, err
    code, err = violet(capsys, "diff", GRAPHS / "blue_sizing.toml", "--reference", "violet.legacy.sizing:size",
                       "--samples", "3000", "--extreme", "1000", "--set", "max_leverage=6.0", "--set", "vd_extreme=-0.08")
    assert code == 0, err


def test_a_reference_that_cannot_take_the_parameters_is_refused(capsys, tmp_path, scans):
    (tmp_path / "fixed_ref.py").write_text(
        "from violet.legacy.sizing import size\n\n"
        "def fixed(vel_div, acb_boost, acb_beta, mc_scale, ob_mult, esof_score, dc_status, posture, capital,\n"
        "          exchange_max_leverage):\n"
        "    return size(vel_div, acb_boost, acb_beta, mc_scale, ob_mult, esof_score, dc_status, posture,\n"
        "                capital, exchange_max_leverage)\n")
    code, err = violet(capsys, "diff", GRAPHS / "blue_sizing.toml", "--reference", f"{tmp_path / 'fixed_ref.py'}:fixed",
                       "--samples", "10", "--extreme", "0", "--set", "max_leverage=6.0")
    assert code == 2 and "takes no parameter" in err and "max_leverage" in err, err
    code, err = violet(capsys, "diff", DECISION, "--reference", "violet.legacy.engine:BlueEngine", "--input", scans,
                       "--samples", "0", "--extreme", "0", "--set", "sz.esof_gain=0.2", "--set", "pos.sl_pct=0.1")
    assert code == 0, err  # both are engine parameters
    cg = compile_graph(DECISION)
    with pytest.raises(InputError, match="cannot be built from exchange_max_leverage, stable, tp_pct: .*no parameter .tp_pct."):
        diff_reference(cg, columns_of(cg, scans), BlueEngine, "BlueEngine", {"tp_pct": 0.02})


def test_replay_at_a_parameter_point_has_no_divergence(scans, tmp_path):
    """Before, `violet replay --set pos.tp_pct=0.02` compared with an engine at 0.0095: every exit diverged."""
    done = subprocess.run([sys.executable, "-m", "violet.cli", "replay", str(DECISION), "--input", str(scans),
                           "--journal", f"chdb://{tmp_path / 'db'}", "--no-progress", "--set", "pos.tp_pct=0.02",
                           "--set", "sz.fraction=0.3"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert ", 0 divergences" in done.stdout and " 0 trades" not in done.stdout


def test_journal_list_shows_every_run_newest_first(scans, tmp_path):
    dsn = f"chdb://{tmp_path / 'db'}"
    for run_id, extra in (("defaults", []), ("away", ["--set", "pos.tp_pct=0.02"])):
        done = subprocess.run([sys.executable, "-m", "violet.cli", "replay", str(DECISION), "--input", str(scans),
                               "--journal", dsn, "--no-progress", "--run-id", run_id, *extra], capture_output=True,
                              text=True)
        assert done.returncode == 0, done.stderr
    done = subprocess.run([sys.executable, "-m", "violet.cli", "journal", "list", "--journal", dsn], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines[1:]] == ["away", "defaults"]
    assert all(line.split()[-4:] == ["400", "0", "400", "0"] for line in lines[1:])  # scans, rejected, decisions, div.


def test_reading_a_journal_that_is_not_there_creates_nothing(capsys, tmp_path):
    """A mistyped --journal for report, list or verify is one error, not a new empty journal at that path."""
    missing = tmp_path / "no" / "journal"
    for args in (("journal", "report"), ("journal", "list"), ("journal", "verify", DECISION)):
        code, err = violet(capsys, *args, "--journal", f"chdb://{missing}")
        assert code == 2 and f"no journal at {missing}" in err, err
    assert not (tmp_path / "no").exists()
