"""``rs.CodeRepository``: one code location's definitions, storage and defaults."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rivers._gc import gc_paused
from rivers.definitions.asset import Asset
from rivers.definitions.job import Job
from rivers.definitions.keys import key_name
from rivers.definitions.resolve import ResolvedInput, flatten_assets, resolve
from rivers.definitions.snapshot import DefinitionsSnapshot
from rivers.errors import DefinitionError
from rivers.execution.executor import Executor
from rivers.execution.io import IOHandler
from rivers.storage import Storage

if TYPE_CHECKING:
    from rivers.execution.eventlog import EventListener
    from rivers.execution.result import MaterializeResult

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
    ) -> None:
        if executor is not None and not isinstance(executor, Executor):
            raise DefinitionError(f"executor must be an rs.Executor, not {executor!r}")
        if io_handler is not None and not isinstance(io_handler, IOHandler):
            raise DefinitionError(f"io_handler must be an rs.IOHandler, not {io_handler!r}")
        if storage is not None and not isinstance(storage, Storage):
            raise DefinitionError(f"storage must be an rs.Storage, not {storage!r}")
        self.name = name
        self.executor = executor or Executor.in_process()
        self._io_handler = io_handler
        self._io_handler_given = io_handler is not None
        self._storage = storage
        self._identity = identity
        self._location_id: str | None = None
        self._lock = threading.Lock()
        self._jobs = self._check_jobs(jobs)
        with gc_paused():
            resolution = resolve(
                flatten_assets(assets),
                location=name,
                jobs=[j.snap() for j in self._jobs.values()],
            )
        self.assets: Mapping[str, Asset] = resolution.assets
        self.resolved_inputs: Mapping[str, tuple[ResolvedInput, ...]] = resolution.inputs
        self.snapshot: DefinitionsSnapshot = resolution.snapshot
        for job in self._jobs.values():
            job._bind(self)

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
        _listeners: Sequence[EventListener] = (),
    ) -> MaterializeResult:
        """Materialize ``selection`` (default: everything) now, in this process.

        Args:
            selection: keys, assets, ``"group:name"``, ``"+key"``/``"key*"`` forms.
            config: per-asset run config, ``{"asset": {"field": value}}``.
            tags: string tags stored on the run.
            executor: overrides the repository's executor for this run.

        Raises:
            SelectionError: the selection names nothing.
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
        )

    def __repr__(self) -> str:
        return f"CodeRepository(name={self.name!r}, assets={len(self.assets)})"
