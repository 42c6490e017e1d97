"""Dagster side of the benchmarks: run by the ``.dagster-venv`` python; never imports rivers.

``python benchmarks/workloads_dagster.py WORKLOAD N`` prints one JSON record (see ``harness``).

What counts as done (Dagster defers much of its work, so each stage forces it explicitly):

- define: build the ``@asset`` definitions and ``Definitions``, then ``resolve_asset_graph()``
  and ``toposorted_asset_keys`` (dependency resolution and the cycle check are lazy).
- plan: resolve ``define_asset_job("all", AssetSelection.all())`` against the asset graph and
  build its ``ExecutionPlan`` with ``dagster._core.execution.api.create_execution_plan`` (Dagster
  has no public API for planning without running). The repeat does the same again.
- materialize: ``dagster.materialize(assets, instance=DagsterInstance.local_temp(tmp))``.
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
    import dagster as dg

    def make(name: str, ups: list[str]) -> dg.AssetsDefinition:
        def fn(**kwargs: int) -> int:
            return 1 + sum(kwargs.values())

        return dg.asset(name=name, ins={u: dg.AssetIn(u) for u in ups})(fn)

    return [make(name, ups) for name, ups in shape]


def import_(rec: Recorder, n: int) -> None:
    start = time.perf_counter()
    import dagster  # noqa: F401

    rec.metrics["import"] = time.perf_counter() - start
    rec.info["heavy_loaded"] = [m for m in HEAVY_MODULES if m in sys.modules]


def define_and_plan(kind: str, *, plan: bool) -> Any:
    def workload(rec: Recorder, n: int) -> None:
        import dagster as dg
        from dagster._core.execution.api import create_execution_plan

        with rec.time("define"):
            defs = dg.Definitions(assets=make_assets(shapes.build(kind, n)))
            graph = defs.resolve_asset_graph()
            keys = graph.toposorted_asset_keys
        rec.info["assets"] = len(keys)
        if not plan:
            return
        for stage in ("plan_cold", "plan_repeat"):
            with rec.time(stage):
                job = dg.define_asset_job("all", selection=dg.AssetSelection.all())
                built = create_execution_plan(job.resolve(asset_graph=graph))
        rec.info["steps"] = len(built.step_keys_to_execute)

    return workload


def materialize(rec: Recorder, n: int) -> None:
    import dagster as dg

    WORK.mkdir(exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="dagster-", dir=WORK)
    try:
        shape = shapes.build("layered", n)
        assets = make_assets(shape)
        instance = dg.DagsterInstance.local_temp(tmp)
        instance.get_runs(limit=1)  # open the sqlite storage before timing, as rivers does
        with rec.time("materialize"):
            result = dg.materialize(assets, instance=instance)
        if not result.success:
            raise RuntimeError("run failed")
        rec.info["materialized"] = len(result.get_asset_materialization_events())
        rec.info["value"] = result.output_for_node(shape[-1][0])
        instance.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


WORKLOADS = {
    "import": import_,
    "layered": define_and_plan("layered", plan=True),
    "chain": define_and_plan("chain", plan=True),
    "wide": define_and_plan("wide", plan=False),
    "materialize_fs": materialize,
}

if __name__ == "__main__":
    main(WORKLOADS)
