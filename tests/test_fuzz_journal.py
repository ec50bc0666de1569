"""Fuzzing that stays: a replay SIGKILLed at random points, resumed each time, loses and duplicates nothing.

Each campaign kills the live-paced replay of 200 scans at 1 to 3 random journal counts (a seeded draw,
waiting on the replay's own per-scan line, never on the clock), resumes it under the same run id, and
then checks the journal: exactly 200 scans and decisions, no row twice after merging, and `violet journal
verify` recomputes every decision and trade from the journal alone. Journal insert failures, torn spill
files and a full disk are in tests/test_journal.py. `VIOLET_FUZZ_EXAMPLES` raises the campaigns.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import GRAPHS
from test_runtime import COUNT_SCRIPT, scans_written, write_scans
from waiting import LineReader

CAMPAIGNS = max(1, int(os.environ.get("VIOLET_FUZZ_EXAMPLES", "60")) // 60)
N_SCANS = 200


def replay_command(scans: Path, dsn: str) -> list[str]:
    return [sys.executable, "-m", "violet.cli", "replay", str(GRAPHS / "blue_decision.toml"), "--input", str(scans),
            "--journal", dsn, "--run-id", "killed", "--no-progress"]


def kill_when_journaled(cmd: list[str], at: int) -> int:
    """Run (or resume) the replay live-paced and SIGKILL it once this process has journaled `at` scans;
    the count it had reached."""
    proc = subprocess.Popen(cmd + ["--live-pace", "0.02"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)
    try:
        line = LineReader(proc).wait_line(lambda text: scans_written(text) >= at, f"{at} scans journaled")
        return scans_written(line)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.parametrize("campaign", range(CAMPAIGNS))
def test_killed_at_random_points_then_resumed_the_journal_is_exact(tmp_path, campaign):
    rng = random.Random(campaign)
    scans = write_scans(tmp_path / "scans.parquet", n_scans=N_SCANS)
    dsn = f"chdb://{tmp_path / 'db'}"
    cmd = replay_command(scans, dsn)
    points, journaled = [], 0
    for _ in range(rng.randint(1, 3)):
        # scans this process journals before its kill: at most half of what is left, since the kill lands a
        # few scans after the line that triggers it, and the run must not finish first
        points.append(rng.randint(1, max(1, (N_SCANS - journaled) // 2)))
        journaled += kill_when_journaled(cmd, points[-1])
        assert journaled < N_SCANS, f"the run ended before the kills at {points}"
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "resuming after scan" in done.stdout, (points, done.stdout)
    # counted in another process: chdb opens one data directory per process
    counts = subprocess.run([sys.executable, "-c", COUNT_SCRIPT, dsn], capture_output=True, text=True, check=True)
    final, raw = json.loads(counts.stdout)
    assert final == {"scans": N_SCANS, "decisions": N_SCANS, "divergences": 0}, points
    assert raw == final, points  # after merging, no row is there twice
    verify = subprocess.run([sys.executable, "-m", "violet.cli", "journal", "verify", str(GRAPHS / "blue_decision.toml"),
                             "--journal", dsn, "--run-id", "killed"], capture_output=True, text=True)
    assert verify.returncode == 0 and "verified" in verify.stdout, verify.stdout + verify.stderr
