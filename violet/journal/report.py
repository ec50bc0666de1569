"""`violet journal report`: a run summarised from the journal alone."""

from __future__ import annotations

import time

from violet.errors import VioletError
from violet.journal.dsn import JournalError, existing
from violet.journal.writer import Journal


def pick_run(journal: Journal, run_id: str | None) -> str:
    """`run_id`, or the latest run in the journal."""
    if run_id is not None:
        return run_id
    rows = journal.query("SELECT run_id FROM {db}.runs FINAL ORDER BY started_us DESC LIMIT 1")
    if not rows:
        raise VioletError("the journal holds no run", where=f"{journal.dsn} database {journal.database}",
                          fix="run `violet replay` first")
    return rows[0][0]


def _actions(journal: Journal, decisions: str, action: str, run_id: str) -> list[str]:
    """One line per value of one lane's action column: how many decisions took it (a per-asset lane's
    actions counted asset by asset)."""
    kind = journal.query("SELECT type FROM system.columns WHERE database = {d:String} AND table = {t:String} "
                         "AND name = {c:String}", d=journal.database, t=decisions, c=action)
    per_asset = bool(kind) and kind[0][0].startswith("Array")
    value = f"arrayJoin(`{action}`)" if per_asset else f"`{action}`"
    return [f"  decisions {action}{' (per asset)' if per_asset else ''} {name:<16} {n:,}"
            for name, n in journal.query(f"SELECT {value} AS v, count() FROM {{db}}.{decisions} FINAL "
                                         "WHERE run_id = {r:String} GROUP BY v ORDER BY v", r=run_id)]


def journal_report(dsn: str, database: str, run_id: str | None) -> str:
    """One run of the journal summarised (the journal opened in this process, and closed)."""
    with Journal(existing(dsn), database) as journal:
        return _report(journal, dsn, database, run_id)


def _report(journal: Journal, dsn: str, database: str, run_id: str | None) -> str:
    q = journal.query
    run_id = pick_run(journal, run_id)
    run = q("SELECT graph, graph_hash, source, mode, started_us, length(universe) FROM {db}.runs FINAL "
            "WHERE run_id = {r:String}", r=run_id)
    if not run:
        raise VioletError(f"no run '{run_id}' in the journal", where=f"{dsn} database {database}",
                          fix="omit --run-id for the latest run")
    graph, graph_hash, source, mode, _, assets = run[0]
    decisions, trades, actions = journal.run_tables(run_id)
    scans, rejected = _scans(journal, run_id)
    lines = [f"run {run_id}: graph {graph} {graph_hash[:16]}, {mode}, {assets} assets, source {source}",
             f"scans: {scans:,} ({rejected:,} rejected)"]
    for action in actions:
        lines += _actions(journal, decisions, action, run_id)
    p50, p99 = q(f"SELECT quantile(0.5)(latency_us), quantile(0.99)(latency_us) FROM {{db}}.{decisions} FINAL "
                 "WHERE run_id = {r:String}", r=run_id)[0]
    lines.append(f"decision latency: p50 {p50:.1f} us, p99 {p99:.1f} us")
    orders = q("SELECT status, count() FROM {db}.orders FINAL WHERE run_id = {r:String} GROUP BY status ORDER BY status",
               r=run_id)
    lines.append("orders: " + (", ".join(f"{s} {n:,}" for s, n in orders) or "none"))
    for src, lane, n, pnl in q(f"SELECT source, lane, count(), sum(pnl) FROM {{db}}.{trades} FINAL "
                               "WHERE run_id = {r:String} GROUP BY source, lane ORDER BY source, lane", r=run_id):
        lines.append(f"trades ({src}{', lane ' + lane if lane else ''}): {n:,}, summed pnl {pnl:.6f}")
    divergences = q("SELECT scan_id, kind, field, shadow_value, reference_value FROM {db}.divergences FINAL "
                    "WHERE run_id = {r:String} ORDER BY scan_id LIMIT 5", r=run_id)
    total = q("SELECT count() FROM {db}.divergences FINAL WHERE run_id = {r:String}", r=run_id)[0][0]
    lines.append(f"divergences: {total:,}")
    lines += [f"  scan {sid} {kind} {fld}: shadow {a} vs reference {b}" for sid, kind, fld, a, b in divergences]
    return "\n".join(lines)


def journal_list(dsn: str, database: str) -> str:
    """Every run in the journal, newest first: id, start, graph, mode, scans (rejected), decisions, divergences."""
    with Journal(existing(dsn), database) as journal:
        return _listing(journal, dsn, database)


def _listing(journal: Journal, dsn: str, database: str) -> str:
    runs = journal.query("SELECT run_id, started_us, graph, graph_hash, mode FROM {db}.runs FINAL "
                         "ORDER BY started_us DESC")
    divergences = dict(journal.query("SELECT run_id, count() FROM {db}.divergences FINAL GROUP BY run_id"))
    rows = [(*run, *_counts(journal, run[0]), divergences.get(run[0], 0)) for run in runs]
    if not rows:
        return f"the journal at {dsn} (database {database}) holds no run"
    lines = [f"{'run':<40} {'started (UTC)':<20} {'graph':<28} {'mode':<5} {'scans':>8} {'rejected':>8} "
             f"{'decisions':>9} {'divergences':>11}"]
    for run_id, started_us, graph, graph_hash, mode, scans, rejected, decisions, divergences in rows:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(started_us / 1e6))
        lines.append(f"{run_id:<40} {started:<20} {graph + ' ' + graph_hash[:8]:<28} {mode:<5} {scans:>8,} "
                     f"{rejected:>8,} {decisions:>9,} {divergences:>11,}")
    return "\n".join(lines)


def _scans(journal: Journal, run_id: str) -> tuple[int, int]:
    """Scans and rejected scans of one run, in its layout's scans table."""
    (scans, rejected), = journal.query(f"SELECT count(), countIf(rejected = 1) FROM {{db}}.{journal.run_scans(run_id)} "
                                       "FINAL WHERE run_id = {r:String}", r=run_id)
    return int(scans), int(rejected)


def _counts(journal: Journal, run_id: str) -> tuple[int, int, int]:
    """Scans, rejected scans and decisions of one run, in its layout's tables (0s for a run journaled before
    them)."""
    try:
        scans, rejected = _scans(journal, run_id)
        decisions = journal.run_tables(run_id)[0]
    except JournalError:
        return 0, 0, 0
    return scans, rejected, int(journal.query(f"SELECT count() FROM {{db}}.{decisions} FINAL WHERE run_id = {{r:String}}",
                                              r=run_id)[0][0])
