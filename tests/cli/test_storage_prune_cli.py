"""`rivers storage prune` and `rivers storage stats` against an embedded store."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rivers.cli.storage import main, parse_duration
from rivers.execution.events import EventKind, RunEvent
from rivers.storage import InstigatorType, RunRecord, RunStatus, Storage, TickRecord, TickStatus

ROOT = Path(__file__).resolve().parents[2]
DAY = 86400.0


@pytest.fixture
def store(tmp_path: Path) -> str:
    """A closed embedded store: one old run (2 events), one old materializing run, one new run."""
    path = tmp_path / "store"
    old = time.time() - 40 * DAY
    with Storage.embedded(path) as storage:
        location = storage.ensure_location("warehouse").identity
        for run_id, created, asset in (
            ("old", old, None),
            ("old-a", old, "a"),
            ("new", None, None),
        ):
            at = created if created is not None else time.time()
            storage.add_run(
                RunRecord(
                    run_id=run_id,
                    location_id=location,
                    status=RunStatus.SUCCESS,
                    created_at=at,
                    end_time=at + 1,
                )
            )
            events = [
                RunEvent(run_id=run_id, kind=EventKind.RUN_STARTED, timestamp=at),
                RunEvent(run_id=run_id, kind=EventKind.LOG, timestamp=at, message="hello"),
            ]
            if asset is not None:
                events.append(
                    RunEvent(
                        run_id=run_id,
                        kind=EventKind.ASSET_MATERIALIZATION,
                        timestamp=at,
                        asset_key=asset,
                    )
                )
            storage.store_events(events, location_id=location)
        storage.add_tick(
            TickRecord(
                tick_id="t-old",
                location_id=location,
                instigator="s",
                type=InstigatorType.SENSOR,
                status=TickStatus.SKIPPED,
                timestamp=old,
            )
        )
    return str(path)


def rows_of(out: str) -> dict[str, str]:
    """The `table  count` rows of a printed table."""
    rows = {}
    for line in out.splitlines():
        cells = line.split()
        if len(cells) == 2 and cells[1].isdigit():
            rows[cells[0]] = cells[1]
    return rows


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30d", 30 * DAY), ("12h", 43200.0), ("90m", 5400.0), ("45s", 45.0), ("3600", 3600.0)],
)
def test_durations(text: str, seconds: float) -> None:
    """Durations take d, h, m, s (and w) suffixes or plain seconds."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "30x", "-5d", "0", "d"])
def test_bad_durations(text: str) -> None:
    """Anything else is refused with an example of what works."""
    with pytest.raises(argparse.ArgumentTypeError, match="30d"):
        parse_duration(text)


def test_dry_run_counts_and_keeps_everything(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--dry-run` prints what would go per table and deletes nothing."""
    assert main(["prune", "--older-than", "30d", "--dry-run", "--storage", store]) == 0
    out = capsys.readouterr().out
    assert "would delete" in out
    assert rows_of(out) == {"run_event": "4", "run": "1", "tick": "1"}
    assert "kept 1 old run(s)" in out
    with Storage.embedded(store) as storage:
        assert len(storage.get_run_events("old")) == 2


def test_prune_deletes_and_prints_progress(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A prune prints progress lines per table, a summary, and the store is smaller after."""
    args = ["prune", "--older-than", "30d", "--batch-size", "1", "--storage", store]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "  run_event: 1 deleted" in out and "  run_event: 4 deleted" in out
    assert "  run: 1 deleted" in out and "  tick: 1 deleted" in out
    assert rows_of(out.split("table")[-1]) == {"run_event": "4", "run": "1", "tick": "1"}
    with Storage.embedded(store) as storage:
        assert storage.get_run("old") is None
        assert [e.kind for e in storage.get_run_events("old-a")] == [
            EventKind.ASSET_MATERIALIZATION
        ]
        assert len(storage.get_run_events("new")) == 2


def test_keep_last_and_unknown_location(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`--keep-last 3` keeps every run; an unknown `--location` is an error (status 2)."""
    assert main(["prune", "--older-than", "1s", "--keep-last", "3", "--storage", store]) == 0
    assert rows_of(capsys.readouterr().out)["run"] == "0"
    code = main(["prune", "--older-than", "1d", "--location", "nope", "--storage", store])
    assert code == 2
    assert "no code location 'nope'" in capsys.readouterr().err


def test_stats_prints_rows_per_table(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`stats` prints a row count per table, the total and the bytes on disk."""
    assert main(["stats", "--storage", store]) == 0
    out = capsys.readouterr().out
    rows = rows_of(out)
    assert (rows["run"], rows["run_event"], rows["tick"], rows["asset_record"]) == (
        "3",
        "7",
        "1",
        "1",
    )
    assert "on disk: " in out


def test_the_rivers_command_has_prune(store: str) -> None:
    """`rivers storage prune` through the real entry point, in a subprocess."""
    rivers = str(Path(sys.executable).parent / "rivers")
    proc = subprocess.run(
        [rivers, "storage", "prune", "--older-than", "30d", "--storage", store],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert rows_of(proc.stdout)["run"] == "1"
