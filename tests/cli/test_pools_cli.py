"""`rivers pools list|info|set|clear` against an embedded store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rivers.cli.pools import main
from rivers.storage import Storage

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path: Path) -> str:
    """An embedded store with code limits, a manual limit, holders and a waiter (closed)."""
    path = tmp_path / "store"
    with Storage.embedded(path) as storage:
        storage.ensure_pool_limits({"warehouse": 4, "api": 2})
        storage.set_pool_limit("api", 1)
        common = {"owner": "host:42:abc", "lease_duration": 60.0}
        assert storage.claim_pool_slots(
            "c1", ["warehouse", "api"], 1, run_id="run-1", step_key="load", **common
        )
        assert storage.claim_pool_slots(
            "c2", ["warehouse"], 2, run_id="run-2", step_key="heavy", **common
        )
        storage.register_pool_waiter("c3", ["api"], 1, run_id="run-3", step_key="call", **common)
    return str(path)


def test_list_shows_limits_sources_and_usage(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`pools list` prints one row per pool: limit, source, in use, holders, waiting."""
    assert main(["list", "--storage", store]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["pool", "limit", "source", "in", "use", "holders", "waiting"]
    assert lines[2].split() == ["api", "1", "manual", "1", "1", "1"]
    assert lines[3].split() == ["warehouse", "4", "code", "3", "2", "0"]


def test_info_lists_the_holders(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`pools info NAME` prints the limit and a table of holders with their lease."""
    assert main(["info", "warehouse", "--storage", store]) == 0
    out = capsys.readouterr().out
    assert "limit:   4 (code)" in out
    assert "in use:  3 slot(s), 2 holder(s)" in out
    rows = [line.split() for line in out.splitlines() if line.startswith("run-")]
    assert [row[:4] for row in rows] == [
        ["run-1", "load", "1", "host:42:abc"],
        ["run-2", "heavy", "2", "host:42:abc"],
    ]
    assert all(55 < float(row[4].rstrip("s")) <= 60 for row in rows)
    assert main(["info", "api", "--storage", store]) == 0
    out = capsys.readouterr().out
    assert "limit:   1 (manual)" in out
    assert "code default: 2 (overridden by the manual limit)" in out
    assert "waiting: 1 step(s)" in out


def test_set_and_clear_change_the_limit(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`pools set` overrides the code default until `pools clear` restores it."""
    assert main(["set", "warehouse", "8", "--storage", store]) == 0
    assert capsys.readouterr().out.strip() == (
        "pool warehouse: limit set to 8 (overrides the code default 4)"
    )
    with Storage.embedded(store) as storage:
        info = storage.get_pool_info("warehouse")
        assert (info.limit, info.source) == (8, "manual")
    assert main(["clear", "warehouse", "--storage", store]) == 0
    assert capsys.readouterr().out.strip() == (
        "pool warehouse: manual limit cleared; limit is now 4 (code default)"
    )
    assert main(["set", "fresh", "0", "--storage", store]) == 0
    assert "limit set to 0; the pool is paused" in capsys.readouterr().out
    assert main(["clear", "fresh", "--storage", store]) == 0
    assert "limit is now unlimited" in capsys.readouterr().out


def test_bad_input_is_refused(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A negative limit is a usage error; an empty store lists no pools."""
    with pytest.raises(SystemExit) as exit_info:
        main(["set", "warehouse", "-1", "--storage", store])
    assert exit_info.value.code == 2
    assert "invalid limit '-1'" in capsys.readouterr().err
    assert main(["list", "--storage", "memory"]) == 0
    assert "no pools yet" in capsys.readouterr().out


def test_runs_as_a_module(store: str) -> None:
    """`python -m rivers.cli.pools list` works as its own command; storage errors exit 2."""
    proc = subprocess.run(
        [sys.executable, "-m", "rivers.cli.pools", "list", "--storage", store],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "warehouse" in proc.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "rivers.cli.pools", "list", "--storage", "ws://127.0.0.1:9"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("rivers: error: cannot connect to storage")
