"""What a running step sees: ``AssetExecutionContext`` and ``SelfDependency``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from rivers.definitions.metadata import MetadataValue, normalize_metadata

__all__ = ["AssetExecutionContext", "SelfDependency"]

ConfigT = TypeVar("ConfigT")
T = TypeVar("T")


class AssetExecutionContext(Generic[ConfigT]):
    """The context passed to a parameter annotated ``rs.AssetExecutionContext[ConfigT]``.

    ``ConfigT`` is a ``pydantic.BaseModel`` or ``pydantic_settings.BaseSettings`` subclass read
    from the annotation; run config for the asset is validated against it before the run
    starts and the instance is available as ``context.config``.

    ``context.log`` is the logger ``rivers.asset.<key>``: what the step logs through it (and
    through any ``rivers.*`` logger, and what it prints) is recorded in the run's event log as
    ``LOG`` events of the step, with level, message and ``extra`` fields as metadata
    (``rivers logs RUN_ID``).
    """

    __slots__ = (
        "_added_metadata",
        "_failed_partitions",
        "asset_key",
        "config",
        "log",
        "output_selection",
        "partition",
        "retry_number",
        "run_id",
        "step_key",
        "storage",
    )

    def __init__(
        self,
        *,
        run_id: str,
        asset_key: str,
        step_key: str,
        config: ConfigT,
        output_selection: frozenset[str],
        partition: Any = None,
        retry_number: int = 0,
        storage: Any = None,
    ) -> None:
        self.run_id = run_id
        self.asset_key = asset_key
        self.step_key = step_key
        self.config = config
        self.output_selection = output_selection
        self.partition = partition
        self.retry_number = retry_number
        self.storage = storage
        self.log: logging.Logger = logging.getLogger(f"rivers.asset.{asset_key.replace('/', '.')}")
        self._added_metadata: dict[str | None, dict[str, MetadataValue]] = {}
        self._failed_partitions: dict[str, str] = {}

    def add_output_metadata(self, metadata: dict[str, Any], output_name: str | None = None) -> None:
        """Attach metadata to the materialization this step records (per output if named)."""
        self._added_metadata.setdefault(output_name, {}).update(normalize_metadata(metadata))

    def mark_partition_failed(self, key: str, reason: str) -> None:
        """Record that one partition of this step failed, keeping the others as successes.

        Meant for single-run backfill steps, which receive every key in
        ``context.partition.keys``: the failed keys are not stored and count as failed in
        the backfill's ``failed_partitions``.

        Raises:
            RuntimeError: the asset is not partitioned.
            ValueError: ``key`` is not one of this step's partitions.
        """
        if self.partition is None:
            raise RuntimeError(
                f"asset {self.asset_key!r} is not partitioned; raise an exception to fail it"
            )
        if key not in self.partition.keys:
            raise ValueError(f"partition {key!r} is not one of this step's partitions")
        self._failed_partitions[key] = str(reason)

    def add_dynamic_partitions(self, name: str, keys: list[str]) -> list[str]:
        """Add keys to the dynamic partitions ``name`` from inside a run; returns the new ones."""
        if self.storage is None:
            raise RuntimeError("this context has no storage")
        added: list[str] = self.storage.add_dynamic_partitions(name, keys)
        return added

    def added_metadata(self, output_name: str | None) -> dict[str, MetadataValue]:
        """Metadata added through :meth:`add_output_metadata` for one output."""
        merged = dict(self._added_metadata.get(None, {}))
        if output_name is not None:
            merged.update(self._added_metadata.get(output_name, {}))
        return merged

    @property
    def failed_partitions(self) -> dict[str, str]:
        """Partitions marked failed in this step, with their reasons."""
        return dict(self._failed_partitions)

    def __repr__(self) -> str:
        return f"AssetExecutionContext(asset_key={self.asset_key!r}, run_id={self.run_id!r})"


class SelfDependency(Generic[T]):
    """An asset's own previous value, read through its IO handler; not a graph edge.

    Annotate a parameter as ``rs.SelfDependency[T]``; ``get_inner()`` returns the value of the
    latest materialization, or ``None`` the first time the asset runs. ``T`` is passed to the IO
    handler's ``load_input`` as the type hint.
    """

    __slots__ = ("_loaded", "_loader", "_value")

    def __init__(self, loader: Callable[[], T | None]) -> None:
        self._loader = loader
        self._loaded = False
        self._value: T | None = None

    def get_inner(self) -> T | None:
        """The previous value, loaded on first call; ``None`` if there is none yet."""
        if not self._loaded:
            self._value = self._loader()
            self._loaded = True
        return self._value

    def __repr__(self) -> str:
        return f"SelfDependency(loaded={self._loaded})"
