"""Pools enforced by the executor core: within a run, across runs in two processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import rivers as rs
from rivers.storage.host import start_in_thread
from tests.fixtures.code_locations import pooled

ROOT = Path(__file__).resolve().parents[2]


def _max_overlap(log: Path) -> int:
    events = []
    for line in log.read_text().splitlines():
        kind, _, _, stamp = line.split()
        events.append((float(stamp), 1 if kind == "start" else -1))
    running = peak = 0
    for _, delta in sorted(events, key=lambda e: (e[0], e[1])):
        running += delta
        peak = max(peak, running)
    return peak


def test_a_run_never_exceeds_a_pool_limit(tmp_path, monkeypatch):
    """Four steps in a 2-slot pool on a 4-worker executor run at most two at a time."""
    log = tmp_path / "pool.log"
    monkeypatch.setenv("RIVERS_TEST_POOL_LOG", str(log))
    repo = rs.CodeRepository(
        name="pooled-inline",
        assets=list(pooled.repo.assets.values()),
        executor=pooled.repo.executor,
        pool_limits={"warehouse": 2},
    )
    try:
        result = repo.materialize()
        assert result.success, [f.message for f in result.failures]
        assert _max_overlap(log) == 2
        waits = [e for e in result.events if e.kind is rs.EventKind.LOG and "pool" in e.message]
        assert waits  # two steps had to wait for slots, and said so
        (info,) = repo.storage.get_all_pool_infos()
        assert (info.name, info.limit) == ("warehouse", 2)
        assert repo.storage.get_pool_slot_holders("warehouse") == []
    finally:
        repo.storage.close()


def test_two_processes_share_the_pool_limit(tmp_path):
    """Two `rivers materialize` processes on one store never hold more than 2 slots together."""
    log = tmp_path / "pool.log"
    host = start_in_thread(tmp_path / "store", port=0)
    try:
        env = {**os.environ, "RIVERS_TEST_POOL_LOG": str(log)}
        command = [
            sys.executable,
            "-m",
            "rivers",
            "materialize",
            "-m",
            "tests.fixtures.code_locations.pooled",
            "--storage",
            host.url,
        ]
        procs = [
            subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [p.communicate(timeout=120) for p in procs]
        for proc, (out, err) in zip(procs, outputs, strict=True):
            assert proc.returncode == 0, out + err
        assert len(log.read_text().splitlines()) == 16
        assert _max_overlap(log) <= 2
        with rs.Storage.connect(host.url) as storage:
            assert storage.get_pool_info("warehouse").slots_in_use == 0
    finally:
        host.stop()
