"""`rivers queue show|set` against an embedded store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rivers.cli.main import main as rivers_main
from rivers.cli.queue import main
from rivers.storage import Storage
from rivers.storage.records import RunQueueConfig, TagConcurrencyLimit

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path: Path) -> str:
    """An empty embedded store (closed)."""
    path = tmp_path / "store"
    with Storage.embedded(path) as storage:
        storage.open()
    return str(path)


def _config(store: str) -> RunQueueConfig:
    with Storage.embedded(store) as storage:
        return storage.get_run_queue_config()


def test_show_prints_an_unlimited_queue(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A fresh store has no limits, and `queue show` says so."""
    assert main(["show", "--storage", store]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "max concurrent runs: unlimited",
        "tag limits: none",
    ]


def test_set_stores_every_kind_of_limit(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Max runs, key, key:value and per-value limits are stored and shown in a table."""
    args = [
        "set",
        "--storage",
        store,
        "--max-concurrent-runs",
        "10",
        "--tag-limit",
        "team=3",
        "--tag-limit",
        "db:prod=1",
        "--tag-limit-per-value",
        "customer=2",
    ]
    assert main(args) == 0
    assert _config(store) == RunQueueConfig(
        max_concurrent_runs=10,
        tag_concurrency_limits=(
            TagConcurrencyLimit(key="team", limit=3),
            TagConcurrencyLimit(key="db", value="prod", limit=1),
            TagConcurrencyLimit(key="customer", limit=2, per_value=True),
        ),
    )
    capsys.readouterr()
    assert main(["show", "--storage", store]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "max concurrent runs: 10"
    assert lines[1] == "tag limits:"
    assert lines[2].split() == ["tag", "value", "limit"]
    assert [line.split() for line in lines[4:]] == [
        ["team", "(any)", "3"],
        ["db", "prod", "1"],
        ["customer", "(each", "value)", "2"],
    ]


def test_set_merges_into_the_stored_limits(store: str) -> None:
    """A limit for the same target replaces the old one; others and max runs are kept."""
    assert (
        main(["set", "--storage", store, "--max-concurrent-runs", "4", "--tag-limit", "a=1"]) == 0
    )
    assert main(["set", "--storage", store, "--tag-limit", "a=5", "--tag-limit", "a:x=2"]) == 0
    config = _config(store)
    assert config.max_concurrent_runs == 4
    assert config.tag_concurrency_limits == (
        TagConcurrencyLimit(key="a", limit=5),
        TagConcurrencyLimit(key="a", value="x", limit=2),
    )
    assert main(["set", "--storage", store, "--max-concurrent-runs", "unlimited"]) == 0
    assert _config(store).max_concurrent_runs is None


def test_clear_drops_every_limit_first(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`--clear` alone removes all limits; with other flags it replaces them."""
    assert (
        main(["set", "--storage", store, "--max-concurrent-runs", "2", "--tag-limit", "a=1"]) == 0
    )
    assert main(["set", "--storage", store, "--clear", "--tag-limit", "b=0"]) == 0
    assert _config(store) == RunQueueConfig(
        tag_concurrency_limits=(TagConcurrencyLimit(key="b", limit=0),)
    )
    capsys.readouterr()
    assert main(["set", "--storage", store, "--clear"]) == 0
    assert _config(store) == RunQueueConfig()
    assert capsys.readouterr().out.splitlines() == [
        "max concurrent runs: unlimited",
        "tag limits: none",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-concurrent-runs", "-1"], "invalid --max-concurrent-runs '-1': an integer >= 0"),
        (["--max-concurrent-runs", "many"], "invalid --max-concurrent-runs 'many'"),
        (["--tag-limit", "team"], "invalid tag limit 'team': expected KEY=LIMIT or KEY:VALUE"),
        (["--tag-limit", "=3"], "invalid tag limit '=3'"),
        (["--tag-limit", ":prod=3"], "invalid tag limit ':prod=3': the tag key is empty"),
        (["--tag-limit", "team=lots"], "invalid limit in 'team=lots': an integer >= 0"),
        (["--tag-limit", "team=-2"], "invalid limit in 'team=-2'"),
        (["--tag-limit-per-value", "db:prod=1"], "invalid per-value limit 'db:prod=1'"),
        (["--tag-limit-per-value", "db"], "invalid tag limit 'db': expected KEY=LIMIT"),
    ],
)
def test_bad_input_exits_2(
    store: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    """Malformed limits are usage errors (exit 2) naming the bad value; nothing is stored."""
    with pytest.raises(SystemExit) as exit_info:
        main(["set", "--storage", store, *args])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert _config(store) == RunQueueConfig()


def test_set_without_changes_is_refused(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`queue set` with nothing to set exits 2 with a one-line hint, through `rivers` too."""
    assert main(["set", "--storage", store]) == 2
    assert capsys.readouterr().err == (
        "rivers: error: nothing to set: pass --max-concurrent-runs, --tag-limit, "
        "--tag-limit-per-value or --clear\n"
    )
    assert rivers_main(["queue", "set", "--storage", store]) == 2
    assert "nothing to set" in capsys.readouterr().err
    assert rivers_main(["queue"]) == 2


def test_registered_in_rivers_and_runs_as_a_module(store: str) -> None:
    """`rivers queue` is a command of the main CLI and of `python -m rivers.cli.queue`."""
    assert rivers_main(["queue", "set", "--storage", store, "--max-concurrent-runs", "0"]) == 0
    assert _config(store).max_concurrent_runs == 0
    proc = subprocess.run(
        [sys.executable, "-m", "rivers.cli.queue", "show", "--storage", store],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "max concurrent runs: 0 (the queue is paused)"
    bad = subprocess.run(
        [sys.executable, "-m", "rivers.cli.queue", "show", "--storage", "ws://127.0.0.1:9"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("rivers: error: cannot connect to storage")
