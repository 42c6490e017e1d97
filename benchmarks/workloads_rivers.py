"""rivers side of the benchmarks: run by the repo's ``.venv`` python, one workload per process.

``python benchmarks/workloads_rivers.py WORKLOAD N`` prints one JSON record (see ``harness``).
``rivers`` is imported inside the workloads so that ``import`` can time it from a cold process.
The services and daemon workloads live in ``workloads_rivers_services``.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from typing import Any

import executor_specs as ex
import partition_specs as spec
import shapes
from harness import WORK, Recorder, main, pure_compute
from workloads_rivers_services import (
    daemon_automation,
    daemon_backfill,
    daemon_schedule,
    daemon_sensors,
    dev_cold_start,
    dev_runs,
)

HEAVY_MODULES = ("grpc", "surrealdb", "opentelemetry.sdk")


def make_assets(shape: shapes.Shape) -> list[Any]:
    import rivers as rs

    def make(name: str, ups: list[str]) -> rs.Asset:
        def fn(**kwargs: int) -> int:
            return 1 + sum(kwargs.values())

        fn.__name__ = name
        return rs.Asset(name=name, deps=[rs.AssetDef.input(u) for u in ups])(fn)

    return [make(name, ups) for name, ups in shape]


def import_(rec: Recorder, n: int) -> None:
    start = time.perf_counter()
    import rivers  # noqa: F401

    rec.metrics["import"] = time.perf_counter() - start
    rec.info["heavy_loaded"] = [m for m in HEAVY_MODULES if m in sys.modules]


def define_and_plan(kind: str, *, plan: bool) -> Any:
    def workload(rec: Recorder, n: int) -> None:
        import rivers as rs
        from rivers.planning import build_plan
        from rivers.planning.plan import clear_plan_cache

        with rec.time("define"):
            repo = rs.CodeRepository(assets=make_assets(shapes.build(kind, n)))
        rec.info["assets"] = len(repo.assets)
        if not plan:
            return
        clear_plan_cache()
        with rec.time("plan_cold"):
            built = build_plan(repo.snapshot)
        rec.info["steps"] = len(built.steps)
        with rec.time("plan_repeat"):
            build_plan(repo.snapshot)

    return workload


def materialize(io: str) -> Any:
    def workload(rec: Recorder, n: int) -> None:
        import rivers as rs

        WORK.mkdir(exist_ok=True)
        tmp = tempfile.mkdtemp(prefix="rivers-", dir=WORK)
        try:
            shape = shapes.build("layered", n)
            fs = io == "fs"
            handler = rs.IOHandler.filesystem(f"{tmp}/io") if fs else rs.IOHandler.in_memory()
            repo = rs.CodeRepository(
                assets=make_assets(shape),
                storage=rs.Storage.embedded(f"{tmp}/storage"),
                io_handler=handler,
            )
            repo.storage.open()
            repo.location_id()
            with rec.time("materialize"):
                result = repo.materialize()
            if not result.success:
                raise RuntimeError(f"run failed: {result.failures[:1]}")
            rec.info["materialized"] = len(result.materializations)
            rec.info["value"] = result.output_for(shape[-1][0])
            repo.storage.close()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    return workload


def multi_2d(n: int) -> Any:
    import rivers as rs

    return rs.PartitionsDefinition.multi(
        {
            "date": rs.PartitionsDefinition.daily(spec.START, end=spec.DAILY_END),
            "item": rs.PartitionsDefinition.static_(spec.items(n)),
        }
    )


def partitions_count(rec: Recorder, n: int) -> None:
    with rec.setup("count"):
        defn = multi_2d(n)
    with rec.time("count"):
        count = defn.count(now=spec.NOW)
    rec.info["partitions"] = count


def partitions_enumerate(rec: Recorder, n: int) -> None:
    with rec.setup("enumerate"):
        defn = multi_2d(n)
    with rec.memory("enumerate_mem"), rec.time("enumerate"):
        keys = list(defn.get_partition_keys(now=spec.NOW))
    rec.info.update(partitions=len(keys), first=str(keys[0]), last=str(keys[-1]))


def partitions_count_4d(rec: Recorder, n: int) -> None:
    with rec.setup("count"):
        import rivers as rs

        storage = rs.Storage.memory()
        storage.add_dynamic_partitions(spec.DYNAMIC_NAME, spec.TENANTS)  # opens the store
        defn = rs.PartitionsDefinition.multi(
            {
                "hour": rs.PartitionsDefinition.hourly(spec.HOURLY_START, end=spec.HOURLY_END),
                "region": rs.PartitionsDefinition.static_(spec.REGIONS),
                "tier": rs.PartitionsDefinition.static_(spec.TIERS),
                "tenant": rs.PartitionsDefinition.dynamic(spec.DYNAMIC_NAME),
            }
        )
    try:
        with rec.time("count"):
            count = defn.count(storage, now=spec.NOW)
        rec.info["partitions"] = count
    finally:
        storage.close()


def mapping(rec: Recorder, n: int) -> None:
    with rec.setup("mapping"):
        import rivers as rs

        upstream_def = rs.PartitionsDefinition.daily(spec.START, end=spec.MAPPING_DEF_END)
        downstream_def = rs.PartitionsDefinition.daily(spec.START, end=spec.MAPPING_DEF_END)
        keys = spec.day_keys(spec.MAPPING_FIRST, n)
        # the input in its native form (lazy keys), untimed, as Dagster gets its subset
        downstream = downstream_def.resolve(
            rs.PartitionKeyRange.single(keys[0], keys[-1]), now=spec.NOW
        )
        time_window = rs.PartitionMapping.time_window(offset=-1)

    def upstream_keys() -> list[str]:
        return list(time_window.upstream_keys(downstream, upstream_def, now=spec.NOW))

    with rec.time("mapping"):
        keys = upstream_keys()
    rec.info.update(partitions=len(keys), first=keys[0], last=keys[-1])
    repeats = []
    for _ in range(5):
        start = time.perf_counter()
        upstream_keys()
        repeats.append(time.perf_counter() - start)
    rec.metrics["mapping_repeat"] = statistics.median(repeats)


def backfill(rec: Recorder, n: int) -> None:
    with rec.setup("backfill"):
        import rivers as rs
        from rivers.planning import plan_backfill

        partitions_def = rs.PartitionsDefinition.daily(spec.START, end=spec.backfill_end(n))

        def make(name: str, ups: list[str]) -> rs.Asset:
            def fn(**kwargs: int) -> int:
                return 1 + sum(kwargs.values())

            fn.__name__ = name
            deps = [rs.AssetDef.input(u) for u in ups]
            return rs.Asset(name=name, deps=deps, partitions_def=partitions_def)(fn)

        shape = shapes.build("chain", spec.BACKFILL_ASSETS)
        repo = rs.CodeRepository(assets=[make(name, ups) for name, ups in shape])
        repo.storage.open()
        first, last = spec.START.isoformat(), (spec.backfill_end(n) - spec.DAY).isoformat()
    try:
        with rec.time("backfill"):
            plan = plan_backfill(
                repo.snapshot,
                selection=None,
                partitions=rs.PartitionKeyRange.single(first, last),
                strategy=rs.BackfillStrategy.multi_run(),
                storage=repo.storage,
                now=spec.NOW,
            )
            runs = [(len(run), run[0]) for run in plan.runs]  # each run's size and first key
        rec.info.update(runs=len(runs), partitions_per_run=sorted({size for size, _ in runs}))
        rec.info["assets_per_run"] = [len(plan.plan.steps)]
    finally:
        repo.storage.close()


# --- executors -----------------------------------------------------------------------------


def fs_repo(assets: list[Any], tmp: str) -> Any:
    """Embedded storage and filesystem IO under ``tmp``, storage opened before timing."""
    import rivers as rs

    repo = rs.CodeRepository(
        assets=assets,
        storage=rs.Storage.embedded(f"{tmp}/storage"),
        io_handler=rs.IOHandler.filesystem(f"{tmp}/io"),
    )
    repo.storage.open()
    repo.location_id()
    return repo


def checked(result: Any) -> Any:
    if not result.success:
        raise RuntimeError(f"run failed: {result.failures[:1]}")
    return result


def succeeded_steps(result: Any) -> int:
    import rivers as rs

    return sum(1 for event in result.events if event.kind == rs.EventKind.STEP_SUCCESS)


def executor_parallel(rec: Recorder, n: int) -> None:
    WORK.mkdir(exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="rivers-", dir=WORK)
    try:
        with rec.setup("parallel"):
            import rivers as rs

            shape = shapes.build("wide", n)
            repo = fs_repo(make_assets(shape), tmp)
            executor = rs.Executor.parallel(max_workers=ex.WORKERS)
        with rec.time("parallel_wall"):
            result = checked(repo.materialize(executor=executor))
        compute = pure_compute(n)
        rec.metrics["parallel"] = rec.metrics["parallel_wall"] - compute
        rec.info["compute"] = compute
        rec.info["steps"] = succeeded_steps(result)
        rec.info["events"] = len(result.events)
        rec.expect("value", sum(result.output_for(name) for name, _ in shape), n)
        repo.storage.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def map_assets() -> list[Any]:
    """``numbers`` (range(5,000)) and the graph asset ``doubled``: map, collect, sum."""
    import rivers as rs

    @rs.Task
    def double(x: int) -> int:
        return x * 2

    @rs.Task
    def total(xs: list[int]) -> int:
        return sum(xs)

    @rs.Asset
    def numbers() -> list[int]:
        return list(range(ex.MAP_ITEMS))

    @rs.Asset.from_graph()
    def doubled() -> Any:
        return total(numbers().map(double).collect())

    return [numbers, doubled]


def executor_map(parallel: bool) -> Any:
    def workload(rec: Recorder, n: int) -> None:
        WORK.mkdir(exist_ok=True)
        tmp = tempfile.mkdtemp(prefix="rivers-", dir=WORK)
        try:
            with rec.setup("map"):
                import rivers as rs

                assert n == ex.MAP_ITEMS, f"the assets are built for {ex.MAP_ITEMS} items"
                repo = fs_repo(map_assets(), tmp)
                parallel_executor = rs.Executor.parallel(max_workers=ex.WORKERS)
                executor = parallel_executor if parallel else rs.Executor.in_process()
            with rec.time("map"):
                result = checked(repo.materialize(executor=executor))
            rec.info["events"] = len(result.events)
            rec.expect("value", result.output_for("doubled"), ex.MAP_TOTAL)
            repo.storage.close()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    return workload


def executor_async(rec: Recorder, n: int) -> None:
    WORK.mkdir(exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="rivers-", dir=WORK)
    try:
        with rec.setup("async"):
            import rivers as rs

            def make(name: str) -> rs.Asset:
                async def fn() -> int:
                    await asyncio.sleep(ex.ASYNC_SLEEP)
                    return 1

                fn.__name__ = name
                return rs.Asset(name=name)(fn)

            shape = shapes.build("wide", n)
            repo = fs_repo([make(name) for name, _ in shape], tmp)
            executor = rs.Executor.parallel(
                max_workers=ex.WORKERS, max_async_concurrent=ex.ASYNC_ASSETS
            )
        with rec.time("async"):
            result = checked(repo.materialize(executor=executor))
        rec.info["steps"] = succeeded_steps(result)
        rec.info["events"] = len(result.events)
        rec.expect("value", sum(result.output_for(name) for name, _ in shape), n)
        repo.storage.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


WORKLOADS = {
    "import": import_,
    "layered": define_and_plan("layered", plan=True),
    "chain": define_and_plan("chain", plan=True),
    "wide": define_and_plan("wide", plan=False),
    "materialize_fs": materialize("fs"),
    "materialize_mem": materialize("mem"),
    "partitions_count": partitions_count,
    "partitions_enumerate": partitions_enumerate,
    "partitions_count_4d": partitions_count_4d,
    "mapping": mapping,
    "backfill": backfill,
    "executor_parallel": executor_parallel,
    "executor_map": executor_map(parallel=False),
    "executor_map_parallel": executor_map(parallel=True),
    "executor_async": executor_async,
    "dev_cold_start": dev_cold_start,
    "dev_runs": dev_runs,
    "daemon_backfill": daemon_backfill,
    "daemon_automation": daemon_automation,
    "daemon_sensors": daemon_sensors(mixed=False),
    "daemon_sensors_mixed": daemon_sensors(mixed=True),
    "daemon_schedule": daemon_schedule,
}

if __name__ == "__main__":
    main(WORKLOADS)
