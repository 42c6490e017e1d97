"""``rivers serve`` hosts the location's daemon, found through the ``rivers.services`` entry point.

The real daemon (``services/daemon``) does not register its entry point yet, so these tests
install a stand-in daemon as a real distribution (a ``.dist-info`` with ``entry_points.txt``
on ``PYTHONPATH``) that records the settings it got and whether the code server still
answered when it was stopped.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from rivers_codeserver import daemon as daemon_module
from tests.codeserver.support import BASIC, PASSWORD, Store

ROOT = Path(__file__).resolve().parents[2]

FAKE_DAEMON = '''
"""A stand-in for rivers_daemon: start(settings) -> handle with async stop()."""

import asyncio
import json
import os

import grpc
from pydantic_settings import BaseSettings, SettingsConfigDict

from rivers._proto.rivers.v1 import codelocation_pb2 as pb
from rivers._proto.rivers.v1 import codelocation_pb2_grpc as pb_grpc


class FakeDaemonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RIVERS_", extra="ignore")

    location_name: str
    location_identity: str
    codeserver_address: str
    storage_url: str
    storage_password: str
    log_format: str
    evaluation_timeout: float


def _record(**fields):
    with open(os.environ["FAKE_DAEMON_LOG"], "a") as out:
        out.write(json.dumps(fields) + "\\n")


class FakeDaemon:
    def __init__(self, channel):
        self.channel = channel

    async def stop(self):
        stub = pb_grpc.CodeLocationStub(self.channel)
        reply = await stub.GetServerId(pb.GetServerIdRequest(), timeout=5)
        _record(event="stopped", server_id=reply.server_id)
        await self.channel.close()


async def start(settings: FakeDaemonSettings) -> FakeDaemon:
    channel = grpc.aio.insecure_channel(settings.codeserver_address)
    reply = await pb_grpc.CodeLocationStub(channel).GetServerId(
        pb.GetServerIdRequest(), timeout=5
    )
    _record(event="started", server_id=reply.server_id, settings=settings.model_dump())
    return FakeDaemon(channel)
'''


@pytest.fixture
def fake_daemon(tmp_path: Path) -> Path:
    """A directory holding the stand-in daemon installed as a distribution."""
    site = tmp_path / "site"
    info = site / "fake_rivers_daemon-0.1.dist-info"
    info.mkdir(parents=True)
    (site / "fake_rivers_daemon.py").write_text(FAKE_DAEMON)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: fake-rivers-daemon\nVersion: 0.1\n"
    )
    (info / "entry_points.txt").write_text("[rivers.services]\ndaemon = fake_rivers_daemon:start\n")
    return site


def _serve(store: Store, site: Path, log: Path, *flags: str, **env: str) -> subprocess.Popen[str]:
    path = os.pathsep.join([str(site), str(ROOT), os.environ.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "rivers_codeserver", "serve", "-m", BASIC]
    return subprocess.Popen(
        [*command, "--grpc-port", "0", "--storage", store.url, *flags],
        cwd=ROOT,
        env={
            **os.environ,
            "PYTHONPATH": path,
            "RIVERS_STORAGE_PASSWORD": PASSWORD,
            "RIVERS_EVALUATION_TIMEOUT": "7",
            "FAKE_DAEMON_LOG": str(log),
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _until_ready_then_stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """The ready line, then SIGTERM; returns (ready line, stderr) once the process exited."""
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline()
        assert "rivers serve: basic" in ready, ready
        time.sleep(0.3)  # the signal handlers are installed right after the ready line
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    return ready, err


def _events(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


@pytest.mark.slow
def test_serve_starts_the_daemon_and_stops_it_first(
    store: Store, fake_daemon: Path, tmp_path: Path
) -> None:
    """The daemon gets the server's settings and address; on SIGTERM it stops while gRPC serves."""
    log = tmp_path / "daemon.jsonl"
    ready, _ = _until_ready_then_stop(_serve(store, fake_daemon, log))
    assert "(no daemon)" not in ready
    started, stopped = _events(log)
    assert started["event"] == "started" and stopped["event"] == "stopped"
    assert stopped["server_id"] == started["server_id"]  # the code server still answered
    settings = started["settings"]
    location = store.storage.get_location(settings["location_identity"])
    assert location is not None and location.name == "basic"
    assert settings["location_name"] == "basic"
    assert settings["codeserver_address"] == location.endpoint
    assert settings["storage_url"] == store.url
    assert settings["storage_password"] == PASSWORD
    assert (settings["log_format"], settings["evaluation_timeout"]) == ("json", 7.0)


@pytest.mark.slow
def test_no_daemon_flag_and_env(store: Store, fake_daemon: Path, tmp_path: Path) -> None:
    """--no-daemon (or RIVERS_NO_DAEMON=1) serves without starting the installed daemon."""
    log = tmp_path / "daemon.jsonl"
    ready, _ = _until_ready_then_stop(_serve(store, fake_daemon, log, "--no-daemon"))
    assert "(no daemon)" in ready
    ready, _ = _until_ready_then_stop(_serve(store, fake_daemon, log, RIVERS_NO_DAEMON="1"))
    assert "(no daemon)" in ready
    assert _events(log) == []


def test_missing_daemon_entry_point_serves_without_it(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Without the rivers.services:daemon entry point: a warning, and no daemon."""
    monkeypatch.setattr(daemon_module, "entry_points", lambda **_: [])
    started = asyncio.run(
        daemon_module.start_daemon(
            store.settings(BASIC),
            location_name="basic",
            location_identity="00000000-0000-0000-0000-000000000000",
            codeserver_address="127.0.0.1:1",
        )
    )
    assert started is None
    (warning,) = [
        r.msg
        for r in caplog.records
        if isinstance(r.msg, dict) and r.msg.get("event") == "codeserver.no_daemon"
    ]
    assert "rivers-daemon" in warning["reason"]
