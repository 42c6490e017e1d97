"""Fixtures: the gateway stack of tests/gateway, for clients to talk to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gateway.harness import LoopThread, Stack


@pytest.fixture(scope="session")
def loop() -> Iterator[LoopThread]:
    """The event loop the in-process services of the session run on."""
    thread = LoopThread()
    yield thread
    thread.close()


@pytest.fixture
def stack(loop: LoopThread, tmp_path: Path) -> Iterator[Stack]:
    """A store, a planner and a gateway for one test (stopped and deleted after it)."""
    stack = Stack(loop, tmp_path)
    try:
        stack.start_planner()
        stack.start_gateway()
        yield stack
    finally:
        stack.close()
