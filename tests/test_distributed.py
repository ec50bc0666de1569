"""`violet sweep --scheduler`: the parameter points sharded over a real multi-process Dask cluster on loopback,
the rows bit for bit the in-process sweep's, whatever the shard size."""

from __future__ import annotations

import socket
import struct
import subprocess
import sys

import pyarrow.parquet as pq
import pytest
from conftest import GRAPHS
from test_runtime import write_scans

from violet.api import load
from violet.compile.numba_backend import compile_ir
from violet.errors import InputError
from violet.tools import distributed
from violet.tools.backtest import Costs
from violet.tools.grid import product
from violet.tools.sweep import money, sweep
from violet.table_io import input_columns, read_table

DECISION = GRAPHS / "blue_decision.toml"


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    path = write_scans(tmp_path_factory.mktemp("dask") / "scans.parquet", n_scans=300)
    ir = load(DECISION, {"sz.fraction": 0.15})  # a bound parameter travels to the workers too
    columns, _ = input_columns(ir, read_table(path), str(path), read_table(path.with_name("scans.universe.parquet")))
    return path, ir, columns


@pytest.fixture(scope="module")
def client():
    """A real local cluster: a scheduler and two worker processes (one thread each) on loopback."""
    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None)
    with Client(cluster) as c:
        c.wait_for_workers(2)
        yield c
    cluster.close()


def bits(row: dict) -> dict:
    """A row with every float as its bit pattern: equal rows are equal bit for bit (a NaN to the same NaN)."""
    return {k: struct.pack("<d", v) if isinstance(v, float) else v for k, v in row.items()}


@pytest.mark.long
def test_the_cluster_sweep_is_the_in_process_sweep_bit_for_bit(history, client):
    _, ir, columns = history
    costs = Costs(10_000.0, 4.0, 1.0)
    points = product(ir, {"pos.tp_pct": [0.005, 0.01, 0.02], "vd_threshold": [-0.01, -0.02, -0.04]}).points()
    cg = compile_ir(ir)
    alone = [bits(row) for row in sweep(cg, columns, points, threads=1, accounting=money(columns, costs))]
    assert len({row["sharpe"] for row in alone}) > 3  # the parameters matter
    job = distributed.Job(str(DECISION), ir.content_hash, ir.param_defaults, costs)
    for size in (1, 4, 9):  # one point a task, uneven shards, one shard
        rows = distributed.run(client, job, columns, points, size)
        assert [bits(row) for row in rows] == alone, f"shards of {size}"
    assert len(client.run(lambda: 1)) == 2  # both worker processes stayed up


def test_a_worker_refuses_a_graph_that_is_not_the_clients(history, client):
    _, ir, columns = history
    job = distributed.Job(str(DECISION), "0" * 64, ir.param_defaults, None)
    with pytest.raises(InputError, match="content hash"):
        distributed.run(client, job, columns, [{"pos.tp_pct": 0.01}], 1)


def test_shards_keep_the_point_order():
    points = [{"k": k} for k in range(7)]
    assert [[p["k"] for p in s] for s in distributed.shards(points, 3)] == [[0, 1, 2], [3, 4, 5], [6]]
    with pytest.raises(InputError, match="shard size"):
        distributed.shards(points, 0)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.long
def test_the_cli_on_a_local_cluster_and_on_a_dead_scheduler(history, tmp_path):
    path, _, _ = history
    args = [sys.executable, "-m", "violet.cli", "sweep", str(DECISION), "--input", str(path), "--set",
            "sz.fraction=0.15", "--grid", "pos.tp_pct=0.005,0.02", "--grid", "vd_threshold=-0.01,-0.03", "--fee-bps",
            "4"]
    here = subprocess.run([*args, "-o", str(tmp_path / "here.parquet")], capture_output=True, text=True)
    there = subprocess.run([*args, "-o", str(tmp_path / "there.parquet"), "--scheduler", "local", "--workers", "2",
                            "--shard-size", "3"], capture_output=True, text=True)
    assert here.returncode == 0 and there.returncode == 0, here.stderr + there.stderr
    assert "Dask, 2 workers at tcp://127.0.0.1:" in there.stdout
    assert pq.read_table(tmp_path / "there.parquet").equals(pq.read_table(tmp_path / "here.parquet"))
    dead = subprocess.run([*args, "-o", str(tmp_path / "dead.parquet"), "--scheduler",
                           f"tcp://127.0.0.1:{closed_port()}"], capture_output=True, text=True)
    assert dead.returncode == 2 and "cannot reach the Dask scheduler at 'tcp://127.0.0.1:" in dead.stderr
    assert "Traceback" not in dead.stderr and not (tmp_path / "dead.parquet").exists()
