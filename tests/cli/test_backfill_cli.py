"""`rivers backfill` and `rivers materialize --partition` from the command line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODULE = "tests.fixtures.code_locations.partitioned"


def _rivers(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rivers", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **(env or {})},
    )


def test_backfill_progress_failures_status_and_rerun(tmp_path):
    """A backfill prints progress and failures, exits 1; --status and --rerun-failed work."""
    store = str(tmp_path / "store")
    proc = _rivers(
        "backfill",
        "-m",
        MODULE,
        "--assets",
        "daily_events",
        "--from",
        "2024-01-01",
        "--to",
        "2024-01-05",
        "--storage",
        store,
        env={"RIVERS_TEST_FAIL_DAY": "2024-01-04"},
    )
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    assert "5 partition(s) in 5 run(s)" in out
    assert "[5/5 runs]" in out
    assert "4 of 5 partition(s) succeeded, 1 failed" in out
    assert "2024-01-04: daily_events: RuntimeError: source unavailable for 2024-01-04" in out
    backfill_id = re.search(r"--rerun-failed (\w+)", out)
    assert backfill_id is not None
    status = _rivers("backfill", "-m", MODULE, "--status", backfill_id[1], "--storage", store)
    assert status.returncode == 1
    assert "FAILED" in status.stdout
    rerun = _rivers("backfill", "-m", MODULE, "--rerun-failed", backfill_id[1], "--storage", store)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "1 of 1 partition(s) succeeded, 0 failed" in rerun.stdout


def test_backfill_needs_a_partition_choice(tmp_path):
    """Without --from/--to, --partition or --all the command refuses with exit 2."""
    proc = _rivers("backfill", "-m", MODULE, "--assets", "daily_events", "--storage", "memory")
    assert proc.returncode == 2
    assert "choose the partitions" in proc.stderr


def test_backfill_single_run_strategy(tmp_path):
    """--strategy single_run runs every partition in one run."""
    proc = _rivers(
        "backfill",
        "-m",
        MODULE,
        "--assets",
        "two_day_total",
        "--all",
        "--strategy",
        "single_run",
        "--storage",
        "memory",
    )
    # two_day_total's upstream was never materialized in this store: every partition fails,
    # in one run, and the reason names the missing input.
    assert proc.returncode == 1
    assert "10 partition(s) in 1 run(s)" in proc.stdout
    assert "0 of 10 partition(s) succeeded, 10 failed" in proc.stdout


def test_materialize_one_partition(tmp_path):
    """`rivers materialize --partition KEY` runs that partition; a bad key exits 2."""
    ok = _rivers(
        "materialize",
        "-m",
        MODULE,
        "--select",
        "daily_events",
        "--partition",
        "2024-01-02",
        "--storage",
        "memory",
    )
    assert ok.returncode == 0, ok.stderr
    assert "[1/1]" in ok.stdout
    bad = _rivers(
        "materialize",
        "-m",
        MODULE,
        "--select",
        "daily_events",
        "--partition",
        "2024-13-01",
        "--storage",
        "memory",
    )
    assert bad.returncode == 2
    assert "2024-01-01" in bad.stderr  # the error shows a valid example
