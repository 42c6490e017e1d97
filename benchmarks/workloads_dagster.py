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
- services: ``dagster dev -f FILE`` on a generated 100-asset file (``service_specs``), a fresh
  ``DAGSTER_HOME`` per process; ready when its GraphQL endpoint lists the 100 asset nodes. Runs
  are launched with the ``launchRun`` mutation (the asset job, one asset selected) and their
  events read from the ``pipelineRunLogs`` subscription (graphql-ws over WebSocket), the
  stream the Dagster UI itself watches.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import executor_specs as ex
import partition_specs as spec
import service_specs as svc
import shapes
from harness import WORK, Recorder, main, pure_compute

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


# --- executors -----------------------------------------------------------------------------
# The multiprocess executor rebuilds the job in every step process, so the jobs come from
# argument-free functions at module scope (``dg.reconstructable`` needs exactly that).


def parallel_defs() -> Any:
    """200 independent assets returning 1; job ``parallel``: multiprocess, 2 steps at a time."""
    import dagster as dg

    job = dg.define_asset_job(
        "parallel",
        selection=dg.AssetSelection.all(),
        executor_def=dg.multiprocess_executor.configured({"max_concurrent": ex.WORKERS}),
    )
    return dg.Definitions(assets=make_assets(shapes.build("wide", ex.PARALLEL_ASSETS)), jobs=[job])


def parallel_job() -> Any:
    return parallel_defs().resolve_job_def("parallel")


def make_async_assets() -> list[Any]:
    import dagster as dg

    def make(name: str) -> dg.AssetsDefinition:
        async def fn() -> int:
            await asyncio.sleep(ex.ASYNC_SLEEP)
            return 1

        return dg.asset(name=name)(fn)

    return [make(name) for name, _ in shapes.build("wide", ex.ASYNC_ASSETS)]


def async_defs() -> Any:
    """The async assets, and job ``async_assets`` with Dagster's default executor.

    That is the multiprocess executor with as many concurrent steps as CPUs. Not a table row
    (workload ``executor_async_multiprocess``): in process is Dagster's faster option here.
    """
    import dagster as dg

    job = dg.define_asset_job("async_assets", selection=dg.AssetSelection.all())
    return dg.Definitions(assets=make_async_assets(), jobs=[job])


def async_job() -> Any:
    return async_defs().resolve_job_def("async_assets")


def map_job() -> Any:
    """An op yielding 5,000 ``DynamicOutput`` s, ``.map(double)``, ``.collect()`` into a sum."""
    import dagster as dg

    @dg.op(out=dg.DynamicOut(int))
    def numbers():  # a generator of DynamicOutput; Dagster reads the type from DynamicOut
        for i in range(ex.MAP_ITEMS):
            yield dg.DynamicOutput(i, mapping_key=str(i))

    @dg.op
    def double(x: int) -> int:
        return x * 2

    @dg.op
    def total(xs: list[int]) -> int:
        return sum(xs)

    @dg.job
    def map_collect() -> None:
        total(numbers().map(double).collect())

    return map_collect


def local_instance(tmp: str) -> Any:
    """A sqlite-backed instance under ``tmp``, its storage opened before timing."""
    import dagster as dg

    instance = dg.DagsterInstance.local_temp(tmp)
    instance.get_runs(limit=1)
    return instance


def checked(result: Any) -> Any:
    """``result``, or an error if the run failed (execute_job does not raise by default)."""
    if not result.success:
        failed = [event.step_key for event in result.get_step_failure_events()]
        raise RuntimeError(f"run failed; failed steps: {failed[:3]}")
    return result


def load_sum(defs: Any, instance: Any, n: int) -> int:
    """The sum of the stored values of assets ``a0`` ... ``a{n-1}`` (the default IO manager)."""
    with defs.get_asset_value_loader(instance=instance) as loader:
        return sum(loader.load_asset_value(name) for name, _ in shapes.build("wide", n))


def executor_parallel(rec: Recorder, n: int) -> None:
    import dagster as dg

    WORK.mkdir(exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="dagster-", dir=WORK)
    try:
        with rec.setup("parallel"):
            assert n == ex.PARALLEL_ASSETS, f"the job is built for {ex.PARALLEL_ASSETS} assets"
            job = dg.reconstructable(parallel_job)
            instance = local_instance(tmp)
        with rec.time("parallel_wall"):
            result = checked(dg.execute_job(job, instance=instance))
        compute = pure_compute(n)
        rec.metrics["parallel"] = rec.metrics["parallel_wall"] - compute
        rec.info["compute"] = compute
        rec.info["steps"] = len(result.get_step_success_events())
        rec.info["events"] = len(instance.all_logs(result.run_id))
        rec.expect("value", load_sum(parallel_defs(), instance, n), n)
        instance.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def executor_map(rec: Recorder, n: int) -> None:
    WORK.mkdir(exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="dagster-", dir=WORK)
    try:
        with rec.setup("map"):
            assert n == ex.MAP_ITEMS, f"the job is built for {ex.MAP_ITEMS} items"
            job = map_job()
            instance = local_instance(tmp)
        with rec.time("map"):
            result = checked(job.execute_in_process(instance=instance))
        rec.info["steps"] = len(result.get_step_success_events())
        rec.info["events"] = len(instance.all_logs(result.run_id))
        rec.expect("value", result.output_for_node("total"), ex.MAP_TOTAL)
        instance.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def executor_async(mode: str) -> Any:
    """In process (``materialize``, Dagster's fastest here) or multiprocess (``execute_job``)."""

    def workload(rec: Recorder, n: int) -> None:
        import dagster as dg

        WORK.mkdir(exist_ok=True)
        tmp = tempfile.mkdtemp(prefix="dagster-", dir=WORK)
        try:
            with rec.setup("async"):
                assert n == ex.ASYNC_ASSETS, f"the job is built for {ex.ASYNC_ASSETS} assets"
                instance = local_instance(tmp)
                if mode == "in_process":
                    assets = make_async_assets()
                else:
                    job = dg.reconstructable(async_job)
            with rec.time("async"):
                if mode == "in_process":
                    result = checked(dg.materialize(assets, instance=instance))
                else:
                    result = checked(dg.execute_job(job, instance=instance))
            rec.info["steps"] = len(result.get_step_success_events())
            rec.info["events"] = len(instance.all_logs(result.run_id))
            rec.expect("value", load_sum(async_defs(), instance, n), n)
            instance.dispose()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    return workload


# --- services: dagster dev --------------------------------------------------------------------

ASSET_NODES = "{ assetNodes { assetKey { path } } }"
LOCATIONS = """{ repositoriesOrError { __typename
  ... on RepositoryConnection { nodes { name location { name } } } } }"""
LAUNCH = """mutation Launch($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on Error { message } } }"""
RUN_LOGS = """subscription Logs($runId: ID!) { pipelineRunLogs(runId: $runId) { __typename
  ... on PipelineRunLogsSubscriptionSuccess { messages { __typename
    ... on MessageEvent { timestamp } } }
  ... on PipelineRunLogsSubscriptionFailure { message } } }"""
RUN_DONE = {"RunSuccessEvent", "RunFailureEvent", "RunCanceledEvent"}


class DagsterDev:
    """``dagster dev`` on the generated module, in a temp dir with its own ``DAGSTER_HOME``."""

    def __init__(self) -> None:
        WORK.mkdir(exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix="dagster-dev-", dir=WORK))
        code = self.tmp / "code"
        self.file = svc.write_module("dagster", code)
        home = self.tmp / "home"
        home.mkdir()
        self.env = {**os.environ, "DAGSTER_HOME": str(home)}
        self.port = svc.free_port()
        dagster = Path(sys.executable).parent / "dagster"
        self.cmd = [str(dagster), "dev", "-f", str(self.file), "-h", "127.0.0.1"]
        self.cmd += ["-p", str(self.port)]
        self.cwd = code
        self.log = self.tmp / "dagster-dev.log"
        self.proc: Any = None

    @property
    def graphql(self) -> str:
        """The GraphQL endpoint."""
        return f"http://127.0.0.1:{self.port}/graphql"

    def start(self) -> None:
        """Start ``dagster dev`` (returns at once)."""
        self.proc = svc.start(self.cmd, cwd=self.cwd, env=self.env, log=self.log)

    def query(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        """POST a GraphQL query; its ``data``, or raise on GraphQL errors."""
        answer = svc.http_json(self.graphql, {"query": query, "variables": variables or {}})
        if answer.get("errors"):
            raise RuntimeError(f"GraphQL error: {answer['errors'][0].get('message')}")
        return answer["data"]

    def asset_count(self) -> int:
        """How many asset nodes the webserver lists now."""
        return len(self.query(ASSET_NODES)["assetNodes"])

    def wait_ready(self, n: int) -> None:
        """Block until the webserver lists ``n`` asset nodes."""
        svc.wait_ready(self.proc, lambda: self.asset_count() == n, self.log, f"{n} asset nodes")

    def close(self) -> None:
        """Stop the process tree and remove the temp dir."""
        try:
            if self.proc is not None:
                svc.stop(self.proc)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # runs -------------------------------------------------------------------------------

    def selector(self) -> dict[str, Any]:
        """The asset job of the one repository, as a ``launchRun`` selector."""
        nodes = self.query(LOCATIONS)["repositoriesOrError"]["nodes"]
        assert len(nodes) == 1, f"expected one repository, got {nodes}"
        return {
            "repositoryLocationName": nodes[0]["location"]["name"],
            "repositoryName": nodes[0]["name"],
            "jobName": "__ASSET_JOB",
        }

    def launch(self, selector: dict[str, Any], assets: list[str]) -> str:
        """Launch (queue) a run of ``assets``; its run id."""
        params = {"selector": {**selector, "assetSelection": [{"path": [a]} for a in assets]}}
        result = self.query(LAUNCH, {"params": params})["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            raise RuntimeError(f"launchRun: {result['__typename']}: {result.get('message')}")
        return str(result["run"]["runId"])

    def watch(self, run_id: str) -> tuple[svc.Events, float]:
        """The run's events from the ``pipelineRunLogs`` subscription, until the run ends.

        Returns ``(type, event timestamp, receive time)`` per event, both ``time.time()``
        seconds, and when the subscription was requested.
        """
        from websockets.sync.client import connect

        events = []
        url = f"ws://127.0.0.1:{self.port}/graphql"
        with connect(url, subprotocols=["graphql-ws"], open_timeout=10) as ws:  # type: ignore[list-item]
            ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            start = {"query": RUN_LOGS, "variables": {"runId": run_id}}
            ws.send(json.dumps({"id": "1", "type": "start", "payload": start}))
            opened = time.time()
            deadline = time.monotonic() + svc.RUN_TIMEOUT
            while time.monotonic() < deadline:
                message = json.loads(ws.recv(timeout=svc.RUN_TIMEOUT))
                received = time.time()
                if message["type"] in ("connection_error", "error"):
                    raise RuntimeError(f"subscription: {message.get('payload')}")
                if message["type"] != "data":
                    continue
                payload = message["payload"]
                if payload.get("errors"):
                    raise RuntimeError(f"subscription: {payload['errors'][0].get('message')}")
                logs = payload["data"]["pipelineRunLogs"]
                if logs["__typename"] != "PipelineRunLogsSubscriptionSuccess":
                    raise RuntimeError(f"subscription: {logs.get('message')}")
                for event in logs["messages"]:
                    events.append((event["__typename"], float(event["timestamp"]) / 1e3, received))
                    if event["__typename"] == "RunSuccessEvent":
                        return events, opened
                    if event["__typename"] in RUN_DONE:
                        raise RuntimeError(f"run {run_id} ended with {event['__typename']}")
        raise RuntimeError(f"run {run_id} did not end within {svc.RUN_TIMEOUT:g} s")


def dev_cold_start(rec: Recorder, n: int) -> None:
    with rec.setup("cold_start"):
        dev = DagsterDev()
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


def dev_runs(rec: Recorder, n: int) -> None:
    with rec.setup("launch_to_step"):
        dev = DagsterDev()
    try:
        with rec.setup("launch_to_step"):
            dev.start()
            dev.wait_ready(n)
            selector = dev.selector()

        def launch_to_step() -> float:
            launched = time.time()
            events, _ = dev.watch(dev.launch(selector, [svc.RUN_ASSET]))
            starts = [stamp for kind, stamp, _ in events if kind == "ExecutionStepStartEvent"]
            if not starts:
                raise RuntimeError(f"no step started: {[kind for kind, _, _ in events]}")
            return starts[0] - launched

        svc.launch_latencies(rec, launch_to_step)
        svc.watch_latencies(rec, lambda: dev.watch(dev.launch(selector, svc.watch_selection())))
    finally:
        dev.close()


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
    "executor_parallel": executor_parallel,
    "executor_map": executor_map,
    "executor_async": executor_async("in_process"),
    "executor_async_multiprocess": executor_async("multiprocess"),
    "dev_cold_start": dev_cold_start,
    "dev_runs": dev_runs,
}

if __name__ == "__main__":
    main(WORKLOADS)
