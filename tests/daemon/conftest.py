"""Daemon fixtures: a real store on loopback, a real code server, daemons on an event loop."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rivers_codeserver.server import start as start_codeserver
from rivers_daemon.server import Daemon
from rivers_daemon.server import start as start_daemon
from tests.codeserver.support import LoopThread, Running, Store
from tests.daemon.support import AUTOMATION, daemon_settings


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh store served over ws:// (run workers are other processes)."""
    served = Store(tmp_path / "store")
    yield served
    served.close()


@pytest.fixture
def loop() -> Iterator[LoopThread]:
    """The event loop code servers and daemons run on."""
    thread = LoopThread()
    yield thread
    thread.close()


@pytest.fixture
def codeserver(
    store: Store, loop: LoopThread, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Running]:
    """The automation_basic location's code server (no daemon of its own), on port 0."""
    monkeypatch.chdir(tmp_path)  # run workers keep their IO files under tmp_path/.rivers
    server = loop.run(
        start_codeserver(store.settings(AUTOMATION, evaluation_workers=2), storage=store.storage)
    )
    running = Running(loop, server)
    yield running
    running.stop()


@pytest.fixture
def daemons(store: Store, loop: LoopThread) -> Iterator[Callable[..., Daemon]]:
    """Start daemons (each with its own store connection); all are stopped at teardown."""
    started: list[Daemon] = []

    def make(location_id: str, codeserver: str | None, **values: Any) -> Daemon:
        settings = daemon_settings(store, location_id, codeserver, **values)
        daemon = loop.run(start_daemon(settings))
        started.append(daemon)
        return daemon

    yield make
    for daemon in reversed(started):
        loop.run(daemon.stop())
