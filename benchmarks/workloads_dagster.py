"""Dagster side of the benchmarks: run by the ``.dagster-venv`` python; never imports rivers.

``python benchmarks/workloads_dagster.py WORKLOAD N`` prints one JSON record (see ``harness``).

What counts as done (Dagster defers much of its work, so each stage forces it explicitly):

- define: build the ``@asset`` definitions and ``Definitions``, then ``resolve_asset_graph()``
  and ``toposorted_asset_keys`` (dependency resolution and the cycle check are lazy).
- plan: resolve ``define_asset_job("all", AssetSelection.all())`` against the asset graph and
  build its ``ExecutionPlan`` with ``dagster._core.execution.api.create_execution_plan`` (Dagster
  has no public API for planning without running). The repeat does the same again.
- materialize: ``dagster.materialize(assets, instance=DagsterInstance.local_temp(tmp))``.
- partitions: ``MultiPartitionsDefinition`` of ``DailyPartitionsDefinition`` x
  ``StaticPartitionsDefinition``; ``get_num_partitions()`` and ``get_partition_keys()`` under a
  fixed effective time (``partition_specs.NOW``). Four dimensions are attempted and rejected.
- mapping: ``TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)
  .get_upstream_mapped_partitions_result_for_partitions`` on a subset of 1,000 days.
- backfill: what the asset backfill daemon computes before it submits runs:
  ``AssetBackfillData.from_partitions_by_assets`` (the target subset) and the first
  ``execute_asset_backfill_iteration_inner`` (private APIs; its run requests).
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import statistics
import sys
import tempfile
import time
from typing import Any

import partition_specs as spec
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


def daily(start: dt.date, end: dt.date) -> Any:
    """Daily partitions from ``start`` to ``end`` (exclusive)."""
    import dagster as dg

    return dg.DailyPartitionsDefinition(start_date=start.isoformat(), end_date=end.isoformat())


def multi_2d(n: int) -> Any:
    import dagster as dg

    return dg.MultiPartitionsDefinition(
        {
            "date": daily(spec.START, spec.DAILY_END),
            "item": dg.StaticPartitionsDefinition(spec.items(n)),
        }
    )


def partitions_count(rec: Recorder, n: int) -> None:
    with rec.setup("count"):
        from dagster._core.definitions.partitions.context import partition_loading_context

        defn = multi_2d(n)
    # get_num_partitions() takes no time argument; the context supplies the effective time
    with rec.time("count"), partition_loading_context(effective_dt=spec.NOW):
        count = defn.get_num_partitions()
    rec.info["partitions"] = count


def partitions_enumerate(rec: Recorder, n: int) -> None:
    with rec.setup("enumerate"):
        defn = multi_2d(n)
    with rec.memory("enumerate_mem"), rec.time("enumerate"):
        keys = defn.get_partition_keys(current_time=spec.NOW)  # already a list
    rec.info.update(partitions=len(keys), first=str(keys[0]), last=str(keys[-1]))


def partitions_count_4d(rec: Recorder, n: int) -> None:
    with rec.setup("count"):
        import dagster as dg
        from dagster._core.definitions.partitions.context import partition_loading_context

        hour = "%Y-%m-%d-%H:%M"
        dims = {
            "hour": dg.HourlyPartitionsDefinition(
                start_date=spec.HOURLY_START.strftime(hour),
                end_date=spec.HOURLY_END.strftime(hour),
            ),
            "region": dg.StaticPartitionsDefinition(spec.REGIONS),
            "tier": dg.StaticPartitionsDefinition(spec.TIERS),
            "tenant": dg.DynamicPartitionsDefinition(name=spec.DYNAMIC_NAME),
        }
        instance = dg.DagsterInstance.ephemeral()
        instance.add_dynamic_partitions(spec.DYNAMIC_NAME, spec.TENANTS)
        try:
            defn = dg.MultiPartitionsDefinition(dims)
        except dg.DagsterInvalidInvocationError as exc:  # only 2 dimensions are supported
            rec.na["count"] = f"n/a: at most 2 dimensions\n{type(exc).__name__}: {exc}"
            return
    with (
        rec.time("count"),
        partition_loading_context(effective_dt=spec.NOW, dynamic_partitions_store=instance),
    ):
        count = defn.get_num_partitions()
    rec.info["partitions"] = count


def mapping(rec: Recorder, n: int) -> None:
    with rec.setup("mapping"):
        import dagster as dg
        from dagster._core.definitions.partitions.context import partition_loading_context

        upstream_def = daily(spec.START, spec.MAPPING_DEF_END)
        downstream_def = daily(spec.START, spec.MAPPING_DEF_END)
        with partition_loading_context(effective_dt=spec.NOW):  # the input, untimed
            keys = spec.day_keys(spec.MAPPING_FIRST, n)
            subset = downstream_def.subset_with_partition_keys(keys)
        time_window = dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)

    def upstream_keys() -> list[str]:
        result = time_window.get_upstream_mapped_partitions_result_for_partitions(
            subset, downstream_def, upstream_def, current_time=spec.NOW
        )
        return list(result.partitions_subset.get_partition_keys())

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
        import dagster as dg
        from dagster._core.asset_graph_view.asset_graph_view import AssetGraphView
        from dagster._core.definitions.partitions.context import partition_loading_context
        from dagster._core.definitions.selector import (
            PartitionRangeSelector,
            PartitionsByAssetSelector,
            PartitionsSelector,
        )
        from dagster._core.definitions.temporal_context import TemporalContext
        from dagster._core.execution.asset_backfill import (
            AssetBackfillData,
            execute_asset_backfill_iteration_inner,
        )
        from dagster._core.test_utils import mock_workspace_from_repos

        last = spec.backfill_end(n) - spec.DAY
        partitions_def = daily(spec.START, spec.backfill_end(n))

        def make(name: str, ups: list[str]) -> dg.AssetsDefinition:
            def fn(**kwargs: int) -> int:
                return 1 + sum(kwargs.values())

            return dg.asset(
                name=name,
                ins={u: dg.AssetIn(u) for u in ups},
                partitions_def=partitions_def,
                backfill_policy=dg.BackfillPolicy.multi_run(),  # max_partitions_per_run=1
            )(fn)

        shape = shapes.build("chain", spec.BACKFILL_ASSETS)
        defs = dg.Definitions(assets=[make(name, ups) for name, ups in shape])
        # the daemon works on the workspace (remote) asset graph; Dagster's own test helper
        # builds one from in-process definitions
        graph = mock_workspace_from_repos([defs.get_repository_def()]).asset_graph
        instance = dg.DagsterInstance.ephemeral()
        logger = logging.getLogger("bench.dagster.backfill")
        logger.propagate = False
        logger.addHandler(logging.NullHandler())
        now = spec.NOW.timestamp()
        selection = PartitionsSelector(
            ranges=[PartitionRangeSelector(start=spec.START.isoformat(), end=last.isoformat())]
        )
    with rec.time("backfill"):
        with partition_loading_context(effective_dt=spec.NOW, dynamic_partitions_store=instance):
            data = AssetBackfillData.from_partitions_by_assets(
                graph,
                instance,
                now,
                [
                    PartitionsByAssetSelector(asset_key=key, partitions=selection)
                    for key in graph.get_all_asset_keys()
                ],
            )
        view = AssetGraphView(
            temporal_context=TemporalContext(effective_dt=spec.NOW, last_event_id=None),
            instance=instance,
            asset_graph=graph,
        )
        result = execute_asset_backfill_iteration_inner("bench", data, view, now, logger, None)
        runs = [(len(r.asset_selection or ()), r.partition_key_range) for r in result.run_requests]
    days = [
        (dt.date.fromisoformat(r.end) - dt.date.fromisoformat(r.start)).days + 1 if r else 0
        for _, r in runs
    ]
    rec.info.update(runs=len(runs), partitions_per_run=sorted(set(days)))
    rec.info["assets_per_run"] = sorted({assets for assets, _ in runs})
    rec.info["target"] = data.target_subset.num_partitions_and_non_partitioned_assets


WORKLOADS = {
    "import": import_,
    "layered": define_and_plan("layered", plan=True),
    "chain": define_and_plan("chain", plan=True),
    "wide": define_and_plan("wide", plan=False),
    "materialize_fs": materialize,
    "partitions_count": partitions_count,
    "partitions_enumerate": partitions_enumerate,
    "partitions_count_4d": partitions_count_4d,
    "mapping": mapping,
    "backfill": backfill,
}

if __name__ == "__main__":
    main(WORKLOADS)
