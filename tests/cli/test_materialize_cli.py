"""`rivers materialize`: progress, summary, exit codes, selection, config and stored history."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import rivers as rs

ROOT = Path(__file__).resolve().parents[2]


def _rivers(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rivers", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_help_lists_commands():
    """`rivers --help` lists the materialize command."""
    proc = _rivers("--help")
    assert proc.returncode == 0
    assert "materialize" in proc.stdout


def test_materialize_prints_progress_and_summary_and_records_the_run(tmp_path):
    """A successful run prints a line per step, a summary table, exits 0 and is stored."""
    store = tmp_path / "store"
    proc = _rivers(
        "materialize",
        "-m",
        "tests.fixtures.code_locations.basic",
        "--storage",
        str(store),
        "--tag",
        "who=cli-test",
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "[4/4]" in out
    for key in ("numbers", "scaled", "total", "report"):
        assert key in out
    assert "asset" in out and "status" in out and "duration" in out
    assert "count=4" in out  # metadata column
    assert "SUCCESS" in out
    run_id = next(
        w for line in out.splitlines() if line.startswith("run ") for w in line.split()[1:2]
    )
    with rs.Storage.embedded(store) as storage:
        run = storage.get_run(run_id)
        assert run is not None
        assert run.status is rs.RunStatus.SUCCESS
        assert run.tags == {"who": "cli-test"}


def test_failed_run_exits_1_with_the_user_traceback(tmp_path):
    """A failing asset makes the command exit 1 and print the user's traceback."""
    proc = _rivers(
        "materialize",
        "-m",
        "tests.fixtures.code_locations.failing",
        "--storage",
        str(tmp_path / "s"),
    )
    assert proc.returncode == 1
    assert "FAILED" in proc.stdout
    assert "skipped" in proc.stdout
    assert "ValueError: cannot handle 1" in proc.stdout
    assert "failing.py" in proc.stdout


def test_select_and_config_file(tmp_path):
    """--select limits the run and --config (YAML) feeds the asset's config."""
    config = tmp_path / "run.yaml"
    config.write_text("scaled:\n  factor: 5\n")
    proc = _rivers(
        "materialize",
        "-m",
        "tests.fixtures.code_locations.basic",
        "--select",
        "+scaled",
        "--config",
        str(config),
        "--storage",
        "memory",
    )
    assert proc.returncode == 0, proc.stderr
    assert "[2/2]" in proc.stdout
    assert "report" not in proc.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-m", "tests.fixtures.code_locations.nope"], "no module named"),
        (["-m", "tests.fixtures.code_locations.import_error"], "config service unreachable"),
        (["-m", "tests.fixtures.code_locations.basic", "--select", "zzz"], "no asset 'zzz'"),
        (["-m", "tests.fixtures.code_locations.basic", "--tag", "bad"], "KEY=VALUE"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(tmp_path, args, message):
    """Unknown modules, import errors and bad flags exit 2 with one clear message."""
    proc = _rivers("materialize", *args, "--storage", "memory")
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback (most recent call last)" not in proc.stderr.splitlines()[0]


def test_invalid_config_file_names_asset_and_field(tmp_path):
    """A config value that does not validate exits 2 naming asset and field."""
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"scaled": {"factor": "lots"}}))
    proc = _rivers(
        "materialize",
        "-m",
        "tests.fixtures.code_locations.basic",
        "--config",
        str(config),
        "--storage",
        "memory",
    )
    assert proc.returncode == 2
    assert "'scaled'" in proc.stderr and "'factor'" in proc.stderr
