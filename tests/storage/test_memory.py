"""The conformance suite on Storage.memory(): a throw-away store in a temporary directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rivers.storage import Storage
from tests.storage.conformance import StorageConformance


class TestMemoryStorage(StorageConformance):
    @pytest.fixture
    def storage(self) -> Iterator[Storage]:
        store = Storage.memory().open()
        yield store
        store.close()


def test_memory_store_is_deleted_on_close() -> None:
    """Closing a memory store removes its temporary directory."""
    store = Storage.memory().open()
    directory = Path(store._connection().description.removeprefix("embedded:"))
    assert directory.is_dir()
    store.close()
    assert not directory.exists()


def test_memory_stores_are_independent() -> None:
    """Two memory stores share nothing."""
    with Storage.memory() as a, Storage.memory() as b:
        a.kv_set("k", 1)
        assert b.kv_get("k") is None
