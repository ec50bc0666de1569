"""A sweep sharded over a Dask distributed cluster (docs/sweep-cluster.md).

The client cuts the parameter points into shards, in order, and sends each worker what it needs once:
the input columns (scattered, so the scans path need not be reachable from the workers) and, per task,
the graph's path and content hash, the bound parameters, the costs and one shard. A worker loads the
graph from that path, refuses it if its content hash is not the client's (another file, or an edited
one), and compiles its kernel once per process (or loads it from the content-addressed disk cache),
then evaluates its shard through the in-process sweep (`violet.tools.sweep.sweep`): the rows are the
in-process sweep's rows, bit for bit, whatever the number of workers and the shard size. The client
gathers the shards as they finish and returns the rows in point order.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from violet.compile.ir import Scalar
from violet.compile.numba_backend import CompiledGraph
from violet.errors import InputError, quote
from violet.tools.backtest import Costs

CONNECT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Job:
    """Everything a worker needs besides the columns and its shard: small, and pickled with every task."""

    graph: str  # the graph file's path, as the workers see it
    content_hash: str  # of the client's IR, its bound parameters included
    params: Mapping[str, Scalar]  # every parameter's value on the client (defaults and --set)
    costs: Costs | None  # None: no money accounting (no trade stream on a price input)
    means: bool = True  # each float output's mean per point (violet.tools.sweep.chunks)


def shards(points: Sequence[dict[str, Scalar]], size: int) -> list[list[dict[str, Scalar]]]:
    """The points cut into consecutive shards of `size` (the last may be shorter), in point order."""
    if size < 1:
        raise InputError(f"shard size must be at least 1, got {size}", where="--shard-size", fix="give a size >= 1")
    return [list(points[k:k + size]) for k in range(0, len(points), size)]


def connect(scheduler: str, workers: int) -> Any:
    """A Dask client: on a new local multi-process cluster (`local`: `workers` processes, one thread each), or
    on the scheduler at `scheduler` (tcp://host:8786); an unreachable scheduler is one clear error."""
    from dask.distributed import Client, LocalCluster

    if scheduler == "local":
        if workers < 1:
            raise InputError(f"a local cluster needs at least 1 worker, got {workers}", where="--workers",
                             fix="give --workers 1 or more")
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None)
        return Client(cluster)
    try:
        return Client(scheduler, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as err:
        raise InputError(f"cannot reach the Dask scheduler at {quote(scheduler)} ({type(err).__name__}: "
                         f"{str(err).splitlines()[0] if str(err) else 'no answer'})", where="--scheduler",
                         fix="start one (`dask scheduler`, then `dask worker ADDRESS` on each machine) and give its "
                             "address as tcp://host:8786, or use --scheduler local") from None


def close(client: Any) -> None:
    """Close the client, and the local cluster it started (a remote cluster keeps running)."""
    cluster = client.cluster
    client.close()
    if cluster is not None:
        cluster.close()


def run(client: Any, job: Job, columns: Mapping[str, np.ndarray], points: Sequence[dict[str, Scalar]],
        shard_size: int) -> list[dict[str, Any]]:
    """The sweep's rows for `points`, in their order, each shard evaluated on a worker of `client`."""
    from dask.distributed import as_completed

    if not client.nthreads():
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S * 6)
    # one object, under a key of this run's own (hash=False): a key named by the data's hash could be
    # released by a previous run's clean-up while this one replicates it
    [scattered] = client.scatter([dict(columns)], broadcast=True, hash=False)
    parts = shards(points, shard_size)
    futures = [client.submit(evaluate, job, scattered, part, pure=False) for part in parts]
    index = {future.key: k for k, future in enumerate(futures)}
    done: list[list[dict[str, Any]]] = [[] for _ in parts]
    try:
        for future in as_completed(futures):
            done[index[future.key]] = future.result()
    except InputError:
        raise
    except Exception as err:  # a worker died (KilledWorker) or the scheduler went away mid-sweep
        raise InputError(f"the Dask cluster failed during the sweep ({type(err).__name__}: "
                         f"{str(err).splitlines()[0] if str(err) else ''})", where="--scheduler",
                         fix="check the workers' logs, then run the sweep again") from None
    return [row for part in done for row in part]


_LOADED: dict[tuple[str, str], CompiledGraph] = {}
_LOADING = threading.Lock()


def evaluate(job: Job, columns: Mapping[str, np.ndarray], points: list[dict[str, Scalar]]) -> list[dict[str, Any]]:
    """On a worker: one shard's rows, through the in-process sweep, the kernel compiled once per process."""
    from violet.tools.sweep import money, sweep

    cg = _compiled(job)
    accounting = money(columns, job.costs) if job.costs is not None else None
    return sweep(cg, columns, points, threads=1, accounting=accounting, means=job.means)


def _compiled(job: Job) -> CompiledGraph:
    """The job's kernels, loaded once per worker process; a graph whose content is not the client's is refused."""
    from violet.api import compile_graph, load

    key = (job.graph, job.content_hash)
    with _LOADING:
        if key not in _LOADED:
            ir = load(Path(job.graph)).with_params(dict(job.params))
            if ir.content_hash != job.content_hash:
                raise InputError(f"the graph {quote(job.graph)} on this worker has content hash "
                                 f"{ir.content_hash[:16]}, the client's is {job.content_hash[:16]}", where="worker",
                                 fix="give the workers the same graph file (and node libraries) as the client")
            _LOADED[key] = compile_graph(ir).warm("scan")
        return _LOADED[key]
