"""rivers' services and daemon workloads (imported by ``workloads_rivers``, run by its ``main``).

The services workloads start ``rivers dev MODULE`` (``service_specs``: a generated 100-asset
module, a fresh ``--dir`` per process) and talk to it over HTTP (``/healthz``, ``/api/assets``)
and the public gRPC API (``rivers.client.RiversClient``). The daemon workloads drive the
daemon's loops on a store directly, or a whole ``rivers dev`` stack (``daemon_specs``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import daemon_specs as dmn
import service_specs as svc
import shapes
from harness import WORK, Recorder

# --- services: rivers dev ---------------------------------------------------------------------


def listed_assets(payload: Any) -> int:
    """How many assets a ``GET /api/assets`` answer lists (a list, or ``{"assets": [...]}``)."""
    if isinstance(payload, dict):
        payload = payload.get("assets", [])
    return len(payload) if isinstance(payload, list) else 0


class RiversDev:
    """``rivers dev`` on a generated module, in a temp dir (its store under ``--dir``).

    The module is the services rows' 100 assets unless ``source`` is given; ``env`` is added
    to the stack's environment (``RIVERS_*`` settings).
    """

    def __init__(self, source: str | None = None, env: dict[str, str] | None = None) -> None:
        WORK.mkdir(exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix="rivers-dev-", dir=WORK))
        code = self.tmp / "code"
        if source is None:
            svc.write_module("rivers", code)
        else:
            code.mkdir(parents=True)
            (code / f"{svc.MODULE}.py").write_text(source)
        self.port, self.grpc_port = svc.free_port(), svc.free_port()
        rivers = Path(sys.executable).parent / "rivers"
        self.cmd = [str(rivers), "dev", svc.MODULE, "--port", str(self.port)]
        self.cmd += ["--grpc-port", str(self.grpc_port), "--dir", str(self.tmp / ".rivers")]
        self.cwd = code  # the module is imported from the working directory
        # the module is found in run and evaluation workers through PYTHONPATH
        self.env = {**os.environ, **(env or {}), "PYTHONPATH": str(code)}
        self.log = self.tmp / "rivers-dev.log"
        self.proc: Any = None

    def start(self) -> None:
        """Start ``rivers dev`` (returns at once)."""
        self.proc = svc.start(self.cmd, cwd=self.cwd, env=self.env, log=self.log)

    def ready(self, n: int) -> bool:
        """Whether ``/healthz`` answers 200 and ``/api/assets`` lists ``n`` assets."""
        base = f"http://127.0.0.1:{self.port}"
        return svc.http_ok(f"{base}/healthz") and (
            listed_assets(svc.http_json(f"{base}/api/assets")) == n
        )

    def wait_ready(self, n: int) -> None:
        """Block until :meth:`ready`."""
        svc.wait_ready(self.proc, lambda: self.ready(n), self.log, f"/healthz and {n} assets")

    def stop(self) -> None:
        """Stop the process tree (idempotent); its store stays for :meth:`ticks`."""
        if self.proc is not None:
            svc.stop(self.proc)
            self.proc = None

    def ticks(self) -> list[Any]:
        """Every tick the stopped stack recorded (``storage.get_ticks``), newest first."""
        import rivers as rs

        storage = rs.Storage.embedded(self.tmp / ".rivers" / "storage")
        storage.open()
        try:
            return storage.get_ticks(limit=10**7)
        finally:
            storage.close()

    def close(self) -> None:
        """Stop the process tree and remove the temp dir."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


def dev_cold_start(rec: Recorder, n: int) -> None:
    with rec.setup("cold_start"):
        dev = RiversDev()
    try:
        start = time.perf_counter()
        with rec.setup("cold_start"):
            dev.start()
            dev.wait_ready(n)
        rec.metrics["cold_start"] = time.perf_counter() - start
        rss, processes = svc.tree_rss(dev.proc.pid)
        rec.metrics["rss"] = rss
        rec.info.update(assets=n, processes=processes)
    finally:
        dev.close()


def watch(client: Any, run_id: str) -> tuple[svc.Events, float]:
    """The run's events from ``watch_run``, until the run ends.

    Returns ``(kind, event timestamp, receive time)`` per event, both ``time.time()`` seconds,
    and when the stream was requested.
    """
    events = []
    opened = time.time()
    for event in client.watch_run(run_id):
        events.append((str(event.kind), event.timestamp, time.time()))
    if not events or events[-1][0] != "RUN_SUCCESS":
        raise RuntimeError(f"run {run_id} did not succeed: {[kind for kind, _, _ in events]}")
    return events, opened


def dev_runs(rec: Recorder, n: int) -> None:
    with rec.setup("launch_to_step"):
        from rivers.client import RiversClient

        dev = RiversDev()
    try:
        with rec.setup("launch_to_step"):
            dev.start()
            dev.wait_ready(n)
        with RiversClient(f"127.0.0.1:{dev.grpc_port}") as client:

            def launch_to_step() -> float:
                launched = time.time()
                run = client.launch_run([svc.RUN_ASSET])
                events, _ = watch(client, run.run_id)
                starts = [stamp for kind, stamp, _ in events if kind == "STEP_STARTED"]
                if not starts:
                    raise RuntimeError(f"no step started: {[kind for kind, _, _ in events]}")
                return starts[0] - launched

            svc.launch_latencies(rec, launch_to_step)
            svc.watch_latencies(
                rec, lambda: watch(client, client.launch_run(svc.watch_selection()).run_id)
            )
    finally:
        dev.close()


# --- daemon --------------------------------------------------------------------------------


class FixedSnapshot:
    """The definitions the code server would serve (the daemon's snapshot source, no gRPC)."""

    def __init__(self, snapshot: Any) -> None:
        self.snapshot = snapshot

    async def current(self) -> Any:
        """The snapshot."""
        return self.snapshot


def daemon_backfill(rec: Recorder, n: int) -> None:
    """A REQUESTED backfill of ``n`` daily partitions: one loop tick plans and queues its runs."""
    with rec.setup("enqueue"):
        import rivers as rs
        from rivers.storage.records import BackfillRecord, BackfillState
        from rivers_daemon.backfills import BackfillLoop

        partitions_def = rs.PartitionsDefinition.daily(dmn.BACKFILL_START, end=dmn.BACKFILL_END)

        def make(name: str, ups: list[str]) -> rs.Asset:
            def fn(**kwargs: int) -> int:
                return 1 + sum(kwargs.values())

            fn.__name__ = name
            deps = [rs.AssetDef.input(u) for u in ups]
            return rs.Asset(name=name, deps=deps, partitions_def=partitions_def)(fn)

        WORK.mkdir(exist_ok=True)
        tmp = tempfile.mkdtemp(prefix="rivers-", dir=WORK)
        shape = shapes.build("chain", dmn.BACKFILL_ASSETS)
        repo = rs.CodeRepository(
            assets=[make(name, ups) for name, ups in shape],
            storage=rs.Storage.embedded(f"{tmp}/storage"),
        )
        storage = repo.storage
        storage.open()
        location_id = repo.location_id()
        storage.add_backfill(
            BackfillRecord(
                backfill_id="bench",
                location_id=location_id,
                status=BackfillState.REQUESTED,
                created_at=time.time(),
                asset_selection=tuple(name for name, _ in shape),
                partitions={"all": True},
                strategy=rs.BackfillStrategy.multi_run().model_dump(mode="json"),
                requested=n,
                runs_total=n,
            )
        )
        # no run queue takes runs here, so the loop must not stop at its default throttle
        loop = BackfillLoop(
            storage,
            location_id,
            FixedSnapshot(repo.snapshot),
            chunk_size=dmn.BACKFILL_CHUNK,
            max_queued=None,
        )
    try:
        with rec.time("enqueue"):
            asyncio.run(loop.tick())
        rec.expect("runs", len(storage.get_backfill_run_statuses("bench")), n)
        rec.info["chunks"] = -(-n // dmn.BACKFILL_CHUNK)
    finally:
        storage.close()
        shutil.rmtree(tmp, ignore_errors=True)


def automation_assets(n: int) -> list[Any]:
    """``n`` daily-partitioned eager assets in the layered shape."""
    import rivers as rs

    partitions_def = rs.PartitionsDefinition.daily(dmn.AUTOMATION_START, end=dmn.AUTOMATION_END)
    eager = rs.AutomationCondition.eager()

    def make(name: str, ups: list[str]) -> rs.Asset:
        def fn(**kwargs: int) -> int:
            return 1 + sum(kwargs.values())

        fn.__name__ = name
        deps = [rs.AssetDef.input(u) for u in ups]
        return rs.Asset(
            name=name, deps=deps, partitions_def=partitions_def, automation_condition=eager
        )(fn)

    return [make(name, ups) for name, ups in shapes.build("layered", n)]


def seeded_automation_store(n: int) -> Path:
    """A store where every partition of every asset was materialized once (cached in .work/).

    Asset records are inserted directly, as 365,000 materializations leave them: writing that
    many run events through ``store_events`` takes minutes per process.
    """
    import rivers as rs

    path = WORK / f"daemon-automation-v{dmn.SEED_VERSION}-{n}"
    done = path / "seeded"
    if done.exists():
        return path
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    repo = rs.CodeRepository(
        name="automation-bench",
        assets=automation_assets(n),
        storage=rs.Storage.embedded(path / "storage"),
    )
    storage = repo.storage
    location_id = repo.location_id()
    keys = list(repo.snapshot.assets[0].partitions_def.get_partition_keys())  # type: ignore[union-attr]
    stamp = dmn.AUTOMATION_NOW - 86_400
    seq, rows = 0, []
    for name, _ in shapes.build("layered", n):
        for key in keys:
            seq += 1
            rows.append(
                {
                    "id": [location_id, name, key],
                    "location_id": location_id,
                    "asset_key": name,
                    "partition_key": key,
                    "run_id": "seed",
                    "event_seq": seq,
                    "timestamp": stamp,
                }
            )
            if len(rows) == 20_000:
                storage._q("INSERT INTO asset_record $rows RETURN NONE;", {"rows": rows})
                rows = []
    if rows:
        storage._q("INSERT INTO asset_record $rows RETURN NONE;", {"rows": rows})
    storage._q("UPSERT counter:run_event SET n = $n RETURN NONE;", {"n": seq})
    storage.close()
    done.write_text(f"{seq} asset records\n")
    return path


def daemon_automation(rec: Recorder, n: int) -> None:
    """Automation ticks over ``n`` eager assets x 365 daily partitions, all materialized."""
    with rec.setup("tick_first"):
        import rivers as rs
        from rivers.execution.events import EventKind, RunEvent
        from rivers_daemon.automation import AutomationLoop

        WORK.mkdir(exist_ok=True)
        seed = seeded_automation_store(n)
        tmp = tempfile.mkdtemp(prefix="rivers-", dir=WORK)
        shutil.copytree(seed / "storage", f"{tmp}/storage")
        repo = rs.CodeRepository(
            name="automation-bench",
            assets=automation_assets(n),
            storage=rs.Storage.embedded(f"{tmp}/storage"),
        )
        storage = repo.storage
        storage.open()
        location_id = repo.location_id()
        clock = [dmn.AUTOMATION_NOW]
        loop = AutomationLoop(
            storage, location_id, FixedSnapshot(repo.snapshot), clock=lambda: clock[0]
        )
        shape = shapes.build("layered", n)
        roots = [name for name, ups in shape if not ups]
        last_key = (dmn.AUTOMATION_END - dt.timedelta(days=1)).isoformat()
    try:
        with rec.time("tick_first"):
            first = asyncio.run(loop.tick())
        rec.info["first_requested"] = first.requested if first else None
        updates = [
            RunEvent.now(
                "update", EventKind.ASSET_MATERIALIZATION, asset_key=name, partition_key=last_key
            )
            for name in roots
        ]
        storage.store_events(updates, location_id=location_id)
        clock[0] += 30
        with rec.time("tick"):
            tick = asyncio.run(loop.tick())
        assert tick is not None
        # eager: the roots' children, and theirs, since a dep that will be requested counts
        below = set(roots)
        for name, ups in shape:
            if set(ups) & below:
                below.add(name)
        rec.expect("requested", tick.requested, len(below) - len(roots))
        rec.info["runs"] = len(tick.run_ids)
        clock[0] += 30
        with rec.time("tick_idle"):
            idle = asyncio.run(loop.tick())
        rec.info["idle_requested"] = idle.requested if idle else None
    finally:
        storage.close()
        shutil.rmtree(tmp, ignore_errors=True)


def daemon_sensors(mixed: bool) -> Any:
    """``rivers dev`` with ``dmn.SENSORS`` sensors ticking every second, one of them hanging.

    After ``SENSOR_WARMUP`` s (the start-up burst) and ``SENSOR_WINDOW`` s more the stack is
    stopped and its store opened to read every tick (``storage.get_ticks``; ``ListTicks``
    per sensor takes about 0.5 s a call while 200 sensors tick); a tick's ``timestamp`` is
    when the daemon began it. Metrics over every healthy sensor's intervals between consecutive
    ticks in the window: ``sensor_max`` (also counting, per sensor, the time from its last
    tick to the window's end, so a sensor that stopped ticking shows) and ``sensor_p95``.
    """

    def workload(rec: Recorder, n: int) -> None:
        with rec.setup("sensor_max"):
            dev = RiversDev(dmn.sensors_module(mixed), dmn.SENSOR_ENV)
            names = [*dmn.sensor_names(), dmn.HANG]
        try:
            with rec.setup("sensor_max"):
                dev.start()
                dev.wait_ready(1)
            opened = time.time() + dmn.SENSOR_WARMUP
            closed = opened + dmn.SENSOR_WINDOW
            time.sleep(closed - time.time() + 1.0)  # and let the ticks in flight be recorded
            with rec.setup("sensor_max"):
                dev.stop()
                ticks: dict[str, list[Any]] = {name: [] for name in names}
                for tick in dev.ticks():
                    ticks.setdefault(tick.instigator, []).append(tick)
        finally:
            dev.close()
        gaps, worst, statuses = [], (0.0, ""), {}
        for name in dmn.sensor_names():
            stamps = sorted(t.timestamp for t in ticks[name] if t.timestamp <= closed)
            inside = [t for t in stamps if t >= opened]
            before = [t for t in stamps if t < opened][-1:]
            own = [b - a for a, b in itertools.pairwise(before + inside)]
            gaps += own
            tail = closed - stamps[-1] if stamps else closed - opened
            longest = max([*own, tail])
            worst = max(worst, (longest, name))
            for tick in ticks[name]:
                if opened <= tick.timestamp <= closed:
                    status = str(tick.status) + (f":{tick.error.error_type}" if tick.error else "")
                    statuses[status] = statuses.get(status, 0) + 1
        if not gaps:
            raise RuntimeError(f"no sensor ticked twice in the window; statuses {statuses}")
        rec.metrics["sensor_max"] = worst[0]
        rec.metrics["sensor_p95"] = svc.percentile(gaps, 95)
        rec.info["sensor_p99"] = round(svc.percentile(gaps, 99), 3)
        rec.info["sensor_p50"] = round(statistics.median(gaps), 3)
        rec.info["sensor_worst"] = worst[1]
        rec.info["sensor_intervals"] = len(gaps)
        rec.info["sensor_over_1.5s"] = sum(1 for g in gaps if g > 1.5)
        rec.info["healthy_statuses"] = statuses
        hung = [t for t in ticks[dmn.HANG] if opened <= t.timestamp <= closed]
        rec.info["hang_ticks"] = sorted(
            {f"{t.status}:{t.error.error_type if t.error else ''}" for t in hung}
        )
        rec.info["hang_tick_count"] = len(hung)

    return workload


def daemon_schedule(rec: Recorder, n: int) -> None:
    """``rivers dev`` with a RUNNING schedule every 2 s: scheduled time -> first step started.

    The first ``SCHEDULE_TICKS`` ticks scheduled after the stack is up are read back
    (``ListTicks``); each queued one run, whose events (``WatchRun``, from the start) give its
    first ``STEP_STARTED`` timestamp. Metrics ``schedule_p50``, ``schedule_p95``,
    ``schedule_max`` (seconds after the tick's ``scheduled_time``); ``info`` breaks the median
    and the slowest tick down by the first event of each kind.
    """
    with rec.setup("schedule_p50"):
        from rivers.client import RiversClient

        dev = RiversDev(dmn.schedule_module())
    try:
        with rec.setup("schedule_p50"):
            dev.start()
            dev.wait_ready(1)
        up = time.time()
        delays: list[float] = []
        stages: dict[str, list[float]] = {}
        slowest: dict[str, float] = {}
        with rec.setup("schedule_p50"), RiversClient(f"127.0.0.1:{dev.grpc_port}") as client:
            deadline = time.monotonic() + dmn.SCHEDULE_TIMEOUT
            while True:
                ticks = [
                    t
                    for t in client.list_ticks(instigator="every", limit=1000)
                    if t.scheduled_time is not None and t.scheduled_time > up
                ]
                if len(ticks) >= dmn.SCHEDULE_TICKS:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{len(ticks)} ticks after {dmn.SCHEDULE_TIMEOUT:g} s")
                time.sleep(0.5)
            ticks = sorted(ticks, key=lambda t: t.scheduled_time)[: dmn.SCHEDULE_TICKS]
            for tick in ticks:
                if str(tick.status) != "SUCCESS" or len(tick.run_ids) != 1:
                    why = tick.error.message if tick.error else tick.skip_reason
                    raise RuntimeError(f"tick {tick.status} with runs {tick.run_ids}: {why}")
                due = tick.scheduled_time
                events, _ = watch(client, tick.run_ids[0])
                firsts: dict[str, float] = {"TICK_BEGUN": tick.timestamp}
                for kind, stamp, _ in events:
                    firsts.setdefault(kind, stamp)
                if "STEP_STARTED" not in firsts:
                    raise RuntimeError(f"no step started: {[kind for kind, _, _ in events]}")
                delays.append(firsts["STEP_STARTED"] - due)
                if delays[-1] == max(delays):
                    slowest = {kind: round(stamp - due, 3) for kind, stamp in firsts.items()}
                for kind, stamp in firsts.items():
                    stages.setdefault(kind, []).append(stamp - due)
    finally:
        dev.close()
    rec.metrics["schedule_p50"] = statistics.median(delays)
    rec.metrics["schedule_p95"] = svc.percentile(delays, 95)
    rec.metrics["schedule_max"] = max(delays)
    rec.info["schedule_samples"] = [round(d, 3) for d in delays]
    rec.info["schedule_stages_p50"] = {
        kind: round(statistics.median(v), 3)
        for kind, v in sorted(stages.items(), key=lambda kv: statistics.median(kv[1]))
    }
    rec.info["schedule_slowest_stages"] = dict(sorted(slowest.items(), key=lambda kv: kv[1]))
