"""The conformance suite on Storage.embedded(path), plus what only a persistent store shows."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from rivers.errors import StorageError
from rivers.execution.events import EventKind
from rivers.storage import RunStatus, Storage
from tests.storage.conformance import StorageConformance

# Writes a run and its events, then exits; `close` decides whether it closes the store itself.
_WRITER = textwrap.dedent(
    """
    import sys, time
    from rivers.execution.events import EventKind, RunEvent
    from rivers.storage import RunRecord, RunStatus, Storage

    path, close = sys.argv[1], sys.argv[2] == "close"
    store = Storage.embedded(path)
    store.add_run(RunRecord(run_id="r1", location_id="loc", status=RunStatus.SUCCESS,
                            created_at=time.time()))
    store.store_events([RunEvent.now("r1", EventKind.RUN_STARTED),
                        RunEvent.now("r1", EventKind.ASSET_MATERIALIZATION, asset_key="a"),
                        RunEvent.now("r1", EventKind.RUN_SUCCESS)], location_id="loc")
    if close:
        store.close()
    """
)

# Opens the store and holds it until its stdin closes.
_HOLDER = textwrap.dedent(
    """
    import sys
    from rivers.storage import Storage

    store = Storage.embedded(sys.argv[1]).open()
    print("ready", flush=True)
    sys.stdin.read()
    store.close()
    """
)


def _python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
    )


class TestEmbeddedStorage(StorageConformance):
    @pytest.fixture
    def storage(self, tmp_path: Path) -> Iterator[Storage]:
        store = Storage.embedded(tmp_path / "store").open()
        yield store
        store.close()

    def reopen(self, storage: Storage) -> Storage:
        assert storage.path is not None
        return Storage.embedded(storage.path)


def test_history_survives_the_writing_process(tmp_path: Path) -> None:
    """A run and events written by one process are read by the next one."""
    done = _python(_WRITER, str(tmp_path), "close")
    assert done.returncode == 0, done.stderr
    with Storage.embedded(tmp_path) as store:
        run = store.get_run("r1")
        assert run is not None
        assert run.status is RunStatus.SUCCESS
        kinds = [e.kind for e in store.get_run_events("r1")]
        assert kinds == [
            EventKind.RUN_STARTED,
            EventKind.ASSET_MATERIALIZATION,
            EventKind.RUN_SUCCESS,
        ]
        assert [e.seq for e in store.get_events_after(0)] == [1, 2, 3]
        record = store.get_asset_record("loc", "a")
        assert record is not None
        assert record.event_seq == 2


def test_exit_without_close_is_clean(tmp_path: Path) -> None:
    """A process that leaves its store open exits 0 (closed at exit) and its data persists."""
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(tmp_path / f"s{i}"), "leave-open"],
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
    with Storage.embedded(tmp_path / "s0") as store:
        assert store.last_event_seq() == 3


def test_store_locked_by_a_live_process_is_refused(tmp_path: Path) -> None:
    """Opening a store another live process owns fails, pointing to Storage.connect."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(StorageError, match=r"Storage\.connect"):
            Storage.embedded(tmp_path).open()
    finally:
        holder.communicate(timeout=60)
    assert holder.returncode == 0
    with Storage.embedded(tmp_path) as store:  # released once the owner exits
        assert store.schema_version() >= 1


def test_handles_on_one_path_share_the_engine(tmp_path: Path) -> None:
    """Two handles on one path in one process share one engine; the last close releases it."""
    first = Storage.embedded(tmp_path).open()
    second = Storage.embedded(tmp_path).open()
    first.kv_set("k", "v")
    first.close()
    assert second.kv_get("k") == "v"
    second.close()
    assert not second.is_open
