"""rivers side of the benchmarks: run by the repo's ``.venv`` python, one workload per process.

``python benchmarks/workloads_rivers.py WORKLOAD N`` prints one JSON record (see ``harness``).
``rivers`` is imported inside the workloads so that ``import`` can time it from a cold process.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from typing import Any

import shapes
from harness import WORK, Recorder, main

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


WORKLOADS = {
    "import": import_,
    "layered": define_and_plan("layered", plan=True),
    "chain": define_and_plan("chain", plan=True),
    "wide": define_and_plan("wide", plan=False),
    "materialize_fs": materialize("fs"),
    "materialize_mem": materialize("mem"),
}

if __name__ == "__main__":
    main(WORKLOADS)
