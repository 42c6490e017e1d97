"""``rs.CodeRepository``: one code location's definitions, storage and defaults."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rivers._gc import gc_paused
from rivers.automation.schedule import Schedule
from rivers.automation.sensor import Sensor
from rivers.definitions.asset import Asset
from rivers.definitions.job import Job
from rivers.definitions.keys import key_name
from rivers.definitions.resolve import ResolvedInput, flatten_assets, resolve
from rivers.definitions.snapshot import DefinitionsSnapshot
from rivers.errors import DefinitionError, SelectionError
from rivers.execution.executor import Executor
from rivers.execution.io import IOHandler
from rivers.planning.graph import AssetGraph
from rivers.planning.selection import resolve_selection
from rivers.storage import Storage

if TYPE_CHECKING:
    from rivers.execution.backfill import BackfillStatus
    from rivers.execution.eventlog import EventListener
    from rivers.execution.result import MaterializeResult
    from rivers.execution.status import PartitionStatus
    from rivers.partitions import BackfillStrategy

__all__ = ["CodeRepository"]


class CodeRepository:
    """The assets and jobs of one code location, with its executor, IO handler and storage.

    Everything is resolved and validated when the repository is built: duplicate keys,
    dependencies on unknown assets, parameters matching no asset and cycles raise
    :class:`rivers.errors.DefinitionError` naming the asset.

    Args:
        assets: asset definitions (lists of them are flattened).
        jobs: named selections, runnable with ``job.execute()``.
        name: the code location's name (default ``"default"``).
        executor: the default executor (``rs.Executor.in_process()``).
        io_handler: the default IO handler. Defaults to in-memory with ``Storage.memory()``
            and to ``IOHandler.filesystem(".rivers/io")`` (next to an embedded store) otherwise.
        storage: where runs and events are kept (default ``rs.Storage.memory()``).
        identity: the location's immutable identity, if stamped by a deployment.
        pool_limits: slot limits of concurrency pools (``{"warehouse": 4}``); a limit set
            with ``rivers pools set`` takes precedence.
        schedules: ``rs.Schedule`` objects, evaluated by the location's daemon.
        sensors: ``rs.Sensor`` objects, evaluated by the location's daemon.
    """

    def __init__(
        self,
        assets: Iterable[Asset | Sequence[Asset]] = (),
        jobs: Sequence[Job] = (),
        *,
        name: str = "default",
        executor: Executor | None = None,
        io_handler: IOHandler | None = None,
        storage: Storage | None = None,
        identity: str | None = None,
        pool_limits: Mapping[str, int] | None = None,
        schedules: Sequence[Schedule] = (),
        sensors: Sequence[Sensor] = (),
    ) -> None:
        if executor is not None and not isinstance(executor, Executor):
            raise DefinitionError(f"executor must be an rs.Executor, not {executor!r}")
        if io_handler is not None and not isinstance(io_handler, IOHandler):
            raise DefinitionError(f"io_handler must be an rs.IOHandler, not {io_handler!r}")
        if storage is not None and not isinstance(storage, Storage):
            raise DefinitionError(f"storage must be an rs.Storage, not {storage!r}")
        self.name = name
        self.executor = executor or Executor.in_process()
        self.pool_limits = self._check_pool_limits(pool_limits)
        self._io_handler = io_handler
        self._io_handler_given = io_handler is not None
        self._storage = storage
        self._identity = identity
        self._location_id: str | None = None
        self._lock = threading.Lock()
        self._jobs = self._check_jobs(jobs)
        self.schedules, self.sensors = self._check_automation(schedules, sensors)
        with gc_paused():
            resolution = resolve(
                flatten_assets(assets),
                location=name,
                jobs=[j.snap() for j in self._jobs.values()],
            )
        self.assets: Mapping[str, Asset] = resolution.assets
        self.resolved_inputs: Mapping[str, tuple[ResolvedInput, ...]] = resolution.inputs
        snapshot = resolution.snapshot
        if self.schedules or self.sensors:
            snapshot = snapshot.model_copy(
                update={
                    "schedules": tuple(s.snap() for s in self.schedules.values()),
                    "sensors": tuple(s.snap() for s in self.sensors.values()),
                }
            )
            self._check_targets(snapshot)
        self.snapshot: DefinitionsSnapshot = snapshot
        for job in self._jobs.values():
            job._bind(self)

    @staticmethod
    def _check_pool_limits(limits: Mapping[str, int] | None) -> dict[str, int]:
        out: dict[str, int] = {}
        for pool, limit in (limits or {}).items():
            if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
                raise DefinitionError(f"pool_limits[{pool!r}] must be an int >= 0, not {limit!r}")
            out[str(pool)] = limit
        return out

    @staticmethod
    def _check_jobs(jobs: Sequence[Job]) -> dict[str, Job]:
        out: dict[str, Job] = {}
        for job in jobs:
            if not isinstance(job, Job):
                raise DefinitionError(f"jobs= takes rs.Job objects, got {job!r}")
            if job.name in out:
                raise DefinitionError(f"duplicate job name {job.name!r}")
            out[job.name] = job
        return out

    @staticmethod
    def _check_automation(
        schedules: Sequence[Schedule], sensors: Sequence[Sensor]
    ) -> tuple[dict[str, Schedule], dict[str, Sensor]]:
        by_name: dict[str, Schedule | Sensor] = {}
        for item, kind, cls in [(s, "schedules", Schedule) for s in schedules] + [
            (s, "sensors", Sensor) for s in sensors
        ]:
            if not isinstance(item, cls):
                raise DefinitionError(f"{kind}= takes rs.{cls.__name__} objects, got {item!r}")
            if isinstance(item, Sensor) and item.fn is None:
                raise DefinitionError(f"sensor {item.name!r} has no function")
            if isinstance(item, Schedule):
                item.check_complete()
            if item.name in by_name:
                raise DefinitionError(
                    f"duplicate schedule/sensor name {item.name!r} (names are unique per location)"
                )
            by_name[item.name] = item
        return (
            {n: s for n, s in by_name.items() if isinstance(s, Schedule)},
            {n: s for n, s in by_name.items() if isinstance(s, Sensor)},
        )

    def _check_targets(self, snapshot: DefinitionsSnapshot) -> None:
        graph = AssetGraph.of(snapshot)
        for kind, item in [("schedule", s) for s in snapshot.schedules] + [
            ("sensor", s) for s in snapshot.sensors
        ]:
            if item.job_name is not None and item.job_name not in self._jobs:
                raise DefinitionError(
                    f"{kind} {item.name!r}: target job {item.job_name!r} is not in the "
                    f"repository; jobs: {sorted(self._jobs)}"
                )
            if item.selection and item.job_name is None:
                try:
                    resolve_selection(graph, item.selection)
                except SelectionError as exc:
                    raise DefinitionError(f"{kind} {item.name!r}: target: {exc}") from None

    # --- parts -----------------------------------------------------------------------------

    @property
    def storage(self) -> Storage:
        """The repository's storage (an ephemeral memory store unless one was given)."""
        with self._lock:
            if self._storage is None:
                self._storage = Storage.memory()
            return self._storage

    def use_default_storage(self, storage: Storage) -> Storage:
        """Use ``storage`` unless the repository was given one; returns the storage in use.

        Commands call this so a module that configures its own storage keeps it, while a
        module that does not gets the command's (``.rivers/storage`` by default).
        """
        with self._lock:
            if self._storage is None:
                self._storage = storage
                if not self._io_handler_given:
                    self._io_handler = None  # re-derive the default for this storage
            return self._storage

    @property
    def io_handler(self) -> IOHandler:
        """The default IO handler of the repository's assets."""
        with self._lock:
            if self._io_handler is None:
                self._io_handler = self._default_io_handler()
            return self._io_handler

    def _default_io_handler(self) -> IOHandler:
        storage = self._storage
        if storage is None or storage.kind == "memory":
            return IOHandler.in_memory()
        if storage.kind == "embedded" and storage.path is not None:
            return IOHandler.filesystem(Path(storage.path).parent / "io")
        return IOHandler.filesystem(Path(".rivers") / "io")

    def location_id(self) -> str:
        """The location's identity in storage (registered on first use)."""
        if self._location_id is None:
            record = self.storage.ensure_location(self.name, self._identity)
            self._location_id = record.identity
        return self._location_id

    def asset(self, key: str) -> Asset:
        """The asset with key (or unique name) ``key``.

        Raises:
            KeyError: no such asset.
        """
        found = self.assets.get(key)
        if found is not None:
            return found
        named = [a for k, a in self.assets.items() if key_name(k) == key]
        if len(named) == 1:
            return named[0]
        raise KeyError(f"no asset {key!r} in repository {self.name!r}")

    @property
    def jobs(self) -> Mapping[str, Job]:
        """The repository's jobs by name."""
        return dict(self._jobs)

    def get_job(self, name: str) -> Job:
        """The job called ``name``.

        Raises:
            KeyError: no such job.
        """
        try:
            return self._jobs[name]
        except KeyError:
            raise KeyError(f"no job {name!r}; jobs: {sorted(self._jobs)}") from None

    # --- running ---------------------------------------------------------------------------

    def materialize(
        self,
        selection: str | Iterable[Any] | None = None,
        *,
        config: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        executor: Executor | None = None,
        partition: Any = None,
        _listeners: Sequence[EventListener] = (),
    ) -> MaterializeResult:
        """Materialize ``selection`` (default: everything) now, in this process.

        Args:
            selection: keys, assets, ``"group:name"``, ``"+key"``/``"key*"`` forms.
            config: per-asset run config, ``{"asset": {"field": value}}``.
            tags: string tags stored on the run.
            executor: overrides the repository's executor for this run.
            partition: for partitioned assets: a key, ``rs.PartitionKey``,
                ``rs.PartitionKeyRange`` or list of keys, run as one run.

        Raises:
            SelectionError: the selection names nothing.
            PartitionError: a partitioned selection without (valid) partitions.
            RunConfigError: the config does not validate (nothing is run).
        """
        from rivers.execution.run import execute_inline

        return execute_inline(
            self,
            selection=selection,
            config=config,
            tags=tags,
            executor=executor,
            listeners=_listeners,
            partition=partition,
        )

    def backfill(
        self,
        assets: str | Iterable[Any] | None = None,
        partition_range: Any = None,
        strategy: BackfillStrategy | None = None,
        *,
        config: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        on_progress: Callable[[BackfillStatus], None] | None = None,
    ) -> BackfillStatus:
        """Backfill partitions of assets now, run after run; the backfill is stored.

        Args:
            assets: the assets (selection forms as in ``materialize``), sharing one
                partitions definition.
            partition_range: ``rs.PartitionKeyRange``, ``rs.PartitionKey``, a key, a list
                of keys, or ``None`` for every partition.
            strategy: ``rs.BackfillStrategy``; default: the assets' own, else one run per
                partition.
            config: run config for every run.
            tags: tags on the backfill and each of its runs.
            on_progress: called with the status after each run.

        Raises:
            PartitionError: the assets or partitions cannot be backfilled together.
            RunConfigError: invalid run config (nothing is run).
        """
        from rivers.execution.backfill import run_backfill

        return run_backfill(
            self,
            assets,
            partition_range,
            strategy,
            tags=tags,
            config=config,
            on_progress=on_progress,
        )

    def get_backfill(self, backfill_id: str) -> BackfillStatus:
        """The status of a stored backfill.

        Raises:
            KeyError: no such backfill.
        """
        from rivers.execution.backfill import BackfillStatus

        record = self.storage.get_backfill(backfill_id)
        if record is None:
            raise KeyError(f"no backfill {backfill_id!r}")
        return BackfillStatus(record)

    def rerun_backfill_failures(
        self,
        backfill_id: str,
        *,
        config: Mapping[str, Any] | None = None,
        on_progress: Callable[[BackfillStatus], None] | None = None,
    ) -> BackfillStatus:
        """Backfill again only the partitions that failed in ``backfill_id``.

        The new backfill has the same assets, strategy and tags, and records its parent.

        Raises:
            KeyError: no such backfill.
            PartitionError: it has no failed partitions.
        """
        from rivers.execution.backfill import run_backfill
        from rivers.partitions import BackfillStrategy, PartitionError

        previous = self.get_backfill(backfill_id).record
        if not previous.failed_partitions:
            raise PartitionError(f"backfill {backfill_id!r} has no failed partitions")
        return run_backfill(
            self,
            list(previous.asset_selection),
            sorted(previous.failed_partitions),
            BackfillStrategy.model_validate(previous.strategy),
            tags=previous.tags,
            config=config,
            on_progress=on_progress,
            parent_backfill_id=backfill_id,
        )

    def partition_status(self, asset: str | Asset) -> PartitionStatus:
        """Materialized / failed / missing partitions of a partitioned asset.

        Raises:
            KeyError: no such asset.
            PartitionError: the asset is not partitioned.
        """
        from rivers.execution.status import partition_status
        from rivers.partitions import PartitionError

        found = self.asset(asset if isinstance(asset, str) else asset.key)
        if found.partitions_def is None:
            raise PartitionError(f"asset {found.key!r} is not partitioned")
        return partition_status(self.storage, self.location_id(), found.key, found.partitions_def)

    def __repr__(self) -> str:
        return f"CodeRepository(name={self.name!r}, assets={len(self.assets)})"
