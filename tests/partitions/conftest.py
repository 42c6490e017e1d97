"""Fixtures of the partition tests: a real in-memory store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import rivers as rs


@pytest.fixture
def storage() -> Iterator[rs.Storage]:
    """A real in-memory store, closed after the test."""
    store = rs.Storage.memory()
    try:
        yield store
    finally:
        store.close()
