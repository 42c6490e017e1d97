"""Code server fixtures: a real store served on loopback, servers on an event loop thread."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rivers_codeserver.server import start
from tests.codeserver.support import BASIC, LoopThread, Running, Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh store served over ws:// (run workers are other processes)."""
    served = Store(tmp_path / "store")
    yield served
    served.close()


@pytest.fixture
def loop() -> Iterator[LoopThread]:
    """The event loop code servers run on."""
    thread = LoopThread()
    yield thread
    thread.close()


@pytest.fixture
def serve(
    store: Store, loop: LoopThread, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Callable[..., Running]]:
    """Start code servers in-process on port 0; all are stopped at teardown."""
    monkeypatch.chdir(tmp_path)  # run workers keep their IO files under tmp_path/.rivers
    started: list[Running] = []

    def make(module: str = BASIC, **values: Any) -> Running:
        server = loop.run(start(store.settings(module, **values), storage=store.storage))
        running = Running(loop, server)
        started.append(running)
        return running

    yield make
    for running in reversed(started):
        running.stop()
