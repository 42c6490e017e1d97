"""Pool limits hold across processes sharing one store, and a killed process's slots come back.

A storage host (a background thread, port 0) serves a temporary store; worker processes run a
small script that uses a PoolGate against ``Storage.connect(host.url)``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rivers.execution.pools import PoolGate
from rivers.storage import Storage
from rivers.storage.host import HostThread, start_in_thread

# `loop URL POOL NAME ROUNDS OUT`: two tasks each acquire one slot ROUNDS times, hold it a few
# ms, and write down when they held it and how many holders storage showed meanwhile.
# `hold URL POOL SLOTS`: take SLOTS slots under a 1 s lease, say "held", and hang.
_WORKER = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from rivers.execution.pools import PoolGate
    from rivers.storage import Storage

    async def loop(storage, gate, pool, name, rounds, spans):
        for i in range(rounds):
            claim = await gate.acquire([pool], 1, run_id=name, step_key=f"s{i}")
            start = time.monotonic_ns()
            holders = len(await asyncio.to_thread(storage.get_pool_slot_holders, pool))
            await asyncio.sleep(0.003)
            spans.append({"start": start, "end": time.monotonic_ns(), "holders": holders,
                          "waited": claim.waited})
            await gate.arelease(claim)

    async def main(mode, url, pool, *rest):
        storage = Storage.connect(url).open()
        gate = PoolGate(storage, lease_duration=1.0 if mode == "hold" else 60.0,
                        poll_interval=0.01).start()
        try:
            if mode == "hold":
                await gate.acquire([pool], int(rest[0]), run_id="doomed", step_key="s")
                print("held", gate.owner, flush=True)
                await asyncio.sleep(3600)
            name, rounds, out = rest[0], int(rest[1]), rest[2]
            spans = []
            await asyncio.gather(*(loop(storage, gate, pool, f"{name}.{t}", rounds, spans)
                                   for t in range(2)))
            with open(out, "w") as f:
                json.dump(spans, f)
        finally:
            gate.close()
            storage.close()

    asyncio.run(main(*sys.argv[1:]))
    """
)


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostThread]:
    with start_in_thread(tmp_path_factory.mktemp("pools-host")) as running:
        yield running


@pytest.fixture
def storage(host: HostThread) -> Iterator[Storage]:
    store = Storage.connect(host.url).open()
    yield store
    store.close()


@pytest.fixture
def worker(tmp_path: Path) -> Path:
    script = tmp_path / "pool_worker.py"
    script.write_text(_WORKER)
    return script


def _start(script: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _peak_overlap(spans: list[dict[str, int]]) -> int:
    # Ends sort before starts at the same instant: touching spans do not overlap.
    edges = sorted([(s["start"], 1) for s in spans] + [(s["end"], -1) for s in spans])
    peak = current = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak


def test_two_processes_never_exceed_the_limit(
    host: HostThread, storage: Storage, worker: Path, tmp_path: Path
) -> None:
    """Two processes x two tasks on a pool of limit 2: never more than 2 holders, both progress."""
    storage.ensure_pool_limits({"shared": 2})
    rounds = 25
    outs = [tmp_path / f"p{i}.json" for i in range(2)]
    procs = [
        _start(worker, "loop", host.url, "shared", f"p{i}", str(rounds), str(out))
        for i, out in enumerate(outs)
    ]
    for proc in procs:
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr
    spans = [json.loads(out.read_text()) for out in outs]
    assert [len(s) for s in spans] == [2 * rounds, 2 * rounds]
    every = spans[0] + spans[1]
    assert max(s["holders"] for s in every) <= 2
    assert _peak_overlap(every) <= 2
    assert _peak_overlap(every) == 2, "four tasks on two slots should have filled the pool"
    assert any(s["waited"] > 0.001 for s in every), "four tasks on two slots should have waited"
    info = storage.get_pool_info("shared")
    assert (info.slots_in_use, info.holders, info.waiters) == (0, 0, 0)


def test_a_killed_process_slots_come_back_after_its_lease(
    host: HostThread, storage: Storage, worker: Path
) -> None:
    """A SIGKILLed holder's slots return once its 1 s lease lapses, with no one releasing them."""
    storage.ensure_pool_limits({"crashy": 2})
    proc = _start(worker, "hold", host.url, "crashy", "2")
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("held"), proc.stderr.read() if proc.stderr else line
        time.sleep(1.5)  # longer than the lease: the worker's heartbeat keeps it
        (holder,) = storage.get_pool_slot_holders("crashy")
        assert holder.owner == line.split()[1]
        assert storage.reclaim_expired_pool_slots() == 0
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        killed_at = time.monotonic()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        if proc.stderr is not None:
            proc.stderr.close()
    probe = {"run_id": "r", "step_key": "probe", "owner": "probe", "lease_duration": 60.0}
    assert not storage.claim_pool_slots("probe", ["crashy"], 1, **probe)

    with PoolGate(storage, poll_interval=0.02) as gate:
        claim = asyncio.run(gate.acquire(["crashy"], 2, run_id="r", step_key="after"))
        came_back = time.monotonic() - killed_at
        assert [h.claim_id for h in storage.get_pool_slot_holders("crashy")] == [claim.claim_id]
        gate.release(claim)
    # The last renewal was at most a third of the lease before the kill.
    assert 0.5 < came_back < 2.5
    assert storage.get_pool_info("crashy").slots_in_use == 0
