"""Fixtures: an in-process planner on port 0, over a memory store holding fixture snapshots."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import rivers as rs
from tests.planner.harness import LoopThread, Planner, Snapshots, start_planner


@pytest.fixture(scope="session")
def loop() -> Iterator[LoopThread]:
    """The event loop every in-process planner of the session runs on."""
    thread = LoopThread()
    yield thread
    thread.close()


@pytest.fixture(scope="session")
def storage() -> Iterator[rs.Storage]:
    """One memory store for the session, holding the fixture snapshots."""
    store = rs.Storage.memory()
    yield store
    store.close()


@pytest.fixture(scope="session")
def snapshots(storage: rs.Storage) -> Snapshots:
    """The fixture code locations' snapshots, stored."""
    return Snapshots(storage)


@pytest.fixture(scope="module")
def planner(loop: LoopThread, storage: rs.Storage, snapshots: Snapshots) -> Iterator[Planner]:
    """A planner for the module's tests (port 0, HTTP metrics on port 0)."""
    started = start_planner(loop, storage)
    yield started
    started.stop()
