"""A live population on the reactor (violet.runtime.population): P instances of the decision graph, one
compiled `population_step` per scan. Each instance, scan by scan, is the step kernel run alone with its
parameters, bit for bit (outputs and state); the aggregates are what its own outputs add up to."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import GRAPHS
from test_runtime import write_scans

from violet.api import load
from violet.compile.numba_backend import compile_ir
from violet.errors import InputError
from violet.runtime.population import PopulationHost
from violet.runtime.record import decision_record
from violet.runtime.source import replay_source
from violet.table_io import input_columns, read_table

DECISION = GRAPHS / "blue_decision.toml"
COOLDOWN = GRAPHS / "examples" / "cooldown_short.toml"
K_SHORT = GRAPHS / "examples" / "k_short.toml"


def bits(value) -> bytes:
    return np.ascontiguousarray(np.asarray(value)).tobytes()


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    return write_scans(tmp_path_factory.mktemp("live_population") / "scans.parquet", n_scans=120, n_assets=7)


def run_both(graph, scans, sets):
    """The population over every scan, checked after each scan against each instance run alone through the
    scan kernel with its parameters: every scalar output, bit for bit; then the final states. The host."""
    ir = load(graph)
    cg = compile_ir(ir)
    source = replay_source(ir, scans)
    host = PopulationHost(cg, source.universe, sets, decision_record(ir, str(graph)))
    columns, _ = input_columns(ir, read_table(scans), str(scans), read_table(scans.with_name("scans.universe.parquet")))
    alone = [cg.scan(columns, params) for params in sets]
    for t, event in enumerate(source.events):
        host.on_scan(event.inputs)
        for k, (outs, _) in enumerate(alone):
            for name, got in host.outputs.items():
                assert bits(got[k]) == bits(outs[name][t].astype(got.dtype)), (t, k, name)
    for k, (_, state) in enumerate(alone):
        for name in host.states:
            assert bits(host.states[name][k]) == bits(state[name]), (k, name)
    return host, [outs for outs, _ in alone]


def test_each_instance_is_the_kernel_alone_with_its_parameters(scans):
    sets = [{"pos.tp_pct": tp, "vd_threshold": vd} for tp in (0.004, 0.03) for vd in (-0.06, -0.02)]
    host, alone = run_both(DECISION, scans, sets)
    enter = load(DECISION).output_type("action").enum.index("ENTER_SHORT")
    for k, outs in enumerate(alone):
        closed = outs["trade"]
        total = 0.0
        for value in outs["trade_pnl"][closed]:
            total += float(value)
        assert (host.trades[k], host.wins[k]) == (closed.sum(), (outs["trade_pnl"][closed] > 0).sum())
        assert bits(host.pnl[k]) == bits(total)
        assert host.entries[k] == (outs["action"] == enter).sum() > 0
    assert host.trades.sum() > len(sets) and len(set(host.pnl.tolist())) > 1  # the instances trade, and differ
    assert host.scans == 120 and len(host.latencies_us) == 120


def test_per_asset_state_is_each_instances_own(scans):
    """cooldown_short carries a cooldown per asset (int64[N]): one row of the population's state per instance."""
    sets = [{"cooldown_bars": c, "sl_pct": s} for c, s in ((0, 0.004), (3, 0.01), (40, 0.02))]
    host, _ = run_both(COOLDOWN, scans, sets)
    assert any(np.asarray(v).ndim == 2 for v in host.states.values())
    assert host.trades.sum() > 0


def test_a_per_asset_lane_is_totalled_over_its_assets(scans):
    """k_short holds up to k shorts at once, its action, trade flag and pnl vectors over the assets: each
    instance's entries are its ENTER_SHORT actions over every scan and asset, its trades and wins the flags
    set, its pnl each scan's closed pnl summed over the assets in index order, then added scan by scan
    (computed here from the scan kernel run alone with its parameters)."""
    sets = [{"tp_pct": tp, "enter_score": e} for tp in (0.004, 0.02) for e in (0.5, 1.0)]
    host, alone = run_both(K_SHORT, scans, sets)
    enter = load(K_SHORT).output_type("action").enum.index("ENTER_SHORT")
    for k, outs in enumerate(alone):
        closed, pnl = outs["trade"], outs["trade_pnl"]
        assert closed.ndim == 2 and closed.shape[1] == 7
        total = 0.0
        for t in range(closed.shape[0]):
            scan_total = 0.0
            for a in np.flatnonzero(closed[t]):
                scan_total += float(pnl[t, a])
            total += scan_total
        assert (host.entries[k], host.trades[k]) == ((outs["action"] == enter).sum(), closed.sum())
        assert host.wins[k] == (closed & (pnl > 0)).sum() and bits(host.pnl[k]) == bits(total)
    assert host.trades.min() > 0 and len(set(host.trades.tolist())) > 1  # every instance trades, not alike


def test_a_population_needs_a_swept_parameter(scans):
    ir = load(DECISION)
    with pytest.raises(InputError, match="swept parameter"):
        PopulationHost(compile_ir(ir), {}, [{}], decision_record(ir, "g"))


def test_replay_hosts_the_population_and_journals_one_row_per_instance(scans, tmp_path):
    """`violet replay --population`: the designated run decides and verifies as before; the population's
    rows in the journal are, per instance, the aggregates of the scan kernel run alone with its parameters."""
    import json

    from test_record import violet

    from violet.journal.dsn import existing
    from violet.journal.writer import Journal

    dsn = f"chdb://{tmp_path / 'j'}"
    done = violet("replay", DECISION, "--input", scans, "--journal", dsn, "--run-id", "pop", "--no-progress",
                  "--population", "pos.tp_pct=0.004,0.03", "--population", "vd_threshold=-0.06:-0.02:3")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "population of 6 instances: step p50" in done.stdout
    done = violet("journal", "verify", DECISION, "--journal", dsn, "--run-id", "pop")
    assert done.returncode == 0 and "verified" in done.stdout, done.stdout + done.stderr
    journal = Journal(existing(dsn))  # this process holds the embedded engine from here on
    rows = journal.query("SELECT instance, params, scans, entries, trades, wins, pnl FROM {db}.population FINAL "
                         "WHERE run_id = 'pop' ORDER BY instance")
    journal.close()
    ir = load(DECISION)
    cg = compile_ir(ir)
    columns, _ = input_columns(ir, read_table(scans), str(scans), read_table(scans.with_name("scans.universe.parquet")))
    enter = ir.output_type("action").enum.index("ENTER_SHORT")
    assert [json.loads(r[1]) for r in rows] == [{"pos.tp_pct": tp, "vd_threshold": vd} for tp in (0.004, 0.03)
                                                 for vd in (-0.06, -0.04, -0.02)]
    for instance, params, n_scans, entries, trades, wins, pnl in rows:
        outs, _ = cg.scan(columns, json.loads(params))
        closed = outs["trade"]
        total = 0.0
        for value in outs["trade_pnl"][closed]:
            total += float(value)
        assert (n_scans, entries, trades, wins) == (120, int((outs["action"] == enter).sum()), int(closed.sum()),
                                                    int((outs["trade_pnl"][closed] > 0).sum())), instance
        assert bits(pnl) == bits(total)


def test_a_bad_population_is_one_message_before_anything_runs(scans, tmp_path):
    from test_record import violet

    for args, message in ((["--population", "nope=1,2"], "unknown parameter 'nope'"),
                          (["--population", "pos.tp_pct=0.01", "--population-threads", "0"],
                           "is not a number of cores from 1 to")):
        done = violet("replay", DECISION, "--input", scans, "--journal", f"chdb://{tmp_path / 'j'}", "--no-progress",
                      *args)
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert not (tmp_path / "j").exists()
