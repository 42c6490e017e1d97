"""What the browser tests share: a real ``rivers dev`` subprocess, screenshots, waiting."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
MODULE = "tests.fixtures.code_locations.ui_demo"
# Flags this machine's closed network needs (see the workplace's machine notes).
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``predicate`` until it returns something truthy (connection errors retried)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (OSError, urllib.error.URLError) as exc:
            last = exc
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} ({last})")


class Dev:
    """A ``rivers dev`` subprocess on fixed ports; ``http`` is the UI's base URL."""

    def __init__(self, workdir: Path, module: str = MODULE) -> None:
        self.workdir = workdir
        self.module = module
        self.port = free_port()
        self.grpc_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / "dev.log"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def grpc(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def get(self, path: str) -> Any:
        """GET a JSON endpoint of the UI."""
        with urllib.request.urlopen(self.http + path, timeout=10) as response:  # noqa: S310 (loopback URL built here)
            return json.load(response)

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """POST JSON to the UI; returns the decoded answer (raises on an error status)."""
        request = urllib.request.Request(  # noqa: S310 (loopback URL built here)
            self.http + path,
            data=json.dumps(body or {}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return json.load(response)

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "rivers",
            "dev",
            self.module,
            "--port",
            str(self.port),
            "--grpc-port",
            str(self.grpc_port),
            "--no-reload",
        ]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                command,
                cwd=self.workdir,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        def ready() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"rivers dev exited:\n{self.log.read_text()[-4000:]}")
            locations = self.get("/api/locations")
            return bool(locations) and all(loc["status"] == "available" for loc in locations)

        try:
            wait_until(ready, 60, "rivers dev to serve the UI")
        except BaseException:
            self.stop()  # never leave the stack running behind a failed start
            raise

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def restart(self) -> None:
        self.stop()
        self.start()


def shot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as ``test-artifacts/screenshots/NAME.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
