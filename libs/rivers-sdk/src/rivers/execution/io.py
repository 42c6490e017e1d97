"""IO handlers: how asset values are stored and loaded.

A handler has two methods, ``handle_output`` (store what an asset returned) and ``load_input``
(load an upstream value for a downstream asset). The built-ins keep values in memory or pickle
them to one file per asset (and partition).
"""

from __future__ import annotations

import os
import pickle
import tempfile
import threading
from pathlib import Path
from typing import Any

from rivers.definitions.metadata import MetadataValue

__all__ = [
    "FilesystemIOHandler",
    "IOHandler",
    "InMemoryIOHandler",
    "InputContext",
    "OutputContext",
]


class OutputContext:
    """What ``handle_output`` knows about the value it stores."""

    __slots__ = ("asset_key", "metadata", "partition_key", "run_id", "step_key")

    def __init__(
        self,
        *,
        asset_key: str,
        run_id: str,
        step_key: str,
        partition_key: str | None = None,
        metadata: dict[str, MetadataValue] | None = None,
    ) -> None:
        self.asset_key = asset_key
        self.run_id = run_id
        self.step_key = step_key
        self.partition_key = partition_key
        self.metadata = metadata or {}

    def __repr__(self) -> str:
        return f"OutputContext(asset_key={self.asset_key!r}, partition_key={self.partition_key!r})"


class InputContext:
    """What ``load_input`` knows: which upstream asset to load, and for whom."""

    __slots__ = ("asset_key", "downstream_key", "metadata", "partition_key", "run_id")

    def __init__(
        self,
        *,
        asset_key: str,
        downstream_key: str,
        run_id: str,
        partition_key: str | None = None,
        metadata: dict[str, MetadataValue] | None = None,
    ) -> None:
        self.asset_key = asset_key
        self.downstream_key = downstream_key
        self.run_id = run_id
        self.partition_key = partition_key
        self.metadata = metadata or {}

    def __repr__(self) -> str:
        return f"InputContext(asset_key={self.asset_key!r}, downstream_key={self.downstream_key!r})"


class IOHandler:
    """Base class of IO handlers; subclass it and implement both methods.

    A handler whose values live in the memory of the run process sets ``process_local =
    True``: steps running in worker processes then reach it through the run process instead
    of a copy of their own.

    Example:
        >>> class Upper(rs.IOHandler):
        ...     def handle_output(self, context, obj): store(context.asset_key, obj)
        ...     def load_input(self, context, type_hint=None): return fetch(context.asset_key)
    """

    process_local: bool = False

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        """Store ``obj``, the value asset ``context.asset_key`` produced."""
        raise NotImplementedError(f"{type(self).__name__} does not implement handle_output()")

    def load_input(self, context: InputContext, type_hint: Any = None) -> Any:
        """Load the stored value of ``context.asset_key``.

        Raises:
            LookupError: nothing is stored for that asset (and partition).
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement load_input()")

    @staticmethod
    def in_memory() -> InMemoryIOHandler:
        """Values kept in this process's memory (the default with ``Storage.memory()``)."""
        return InMemoryIOHandler()

    @staticmethod
    def filesystem(base_dir: str | os.PathLike[str]) -> FilesystemIOHandler:
        """Values pickled to ``base_dir/<key path>.pkl`` (one file per partition)."""
        return FilesystemIOHandler(base_dir)


class InMemoryIOHandler(IOHandler):
    """Keeps values in a dict keyed by asset key and partition; thread-safe.

    The dict lives in the run process; worker processes store and load through it.
    """

    process_local = True

    def __init__(self) -> None:
        self._values: dict[tuple[str, str | None], Any] = {}
        self._lock = threading.Lock()

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        """Keep ``obj`` in memory."""
        with self._lock:
            self._values[(context.asset_key, context.partition_key)] = obj

    def load_input(self, context: InputContext, type_hint: Any = None) -> Any:
        """Return the kept value."""
        with self._lock:
            try:
                return self._values[(context.asset_key, context.partition_key)]
            except KeyError:
                raise LookupError(
                    f"no value in memory for asset {context.asset_key!r}"
                    + (f" partition {context.partition_key!r}" if context.partition_key else "")
                ) from None

    def __repr__(self) -> str:
        return "IOHandler.in_memory()"


class FilesystemIOHandler(IOHandler):
    """Pickles each value to its own file; writes are atomic (temp file + rename)."""

    def __init__(self, base_dir: str | os.PathLike[str]) -> None:
        self.base_dir = Path(base_dir)

    def path_for(self, asset_key: str, partition_key: str | None) -> Path:
        """The file holding one asset (partition)."""
        base = self.base_dir.joinpath(*asset_key.split("/"))
        if partition_key is None:
            return base.with_name(base.name + ".pkl")
        safe = partition_key.replace("/", "_").replace(os.sep, "_")
        return base / f"{safe}.pkl"

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        """Pickle ``obj`` next to its siblings, atomically."""
        path = self.path_for(context.asset_key, context.partition_key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load_input(self, context: InputContext, type_hint: Any = None) -> Any:
        """Unpickle the stored value."""
        path = self.path_for(context.asset_key, context.partition_key)
        try:
            with path.open("rb") as fh:
                return pickle.load(fh)  # noqa: S301 - our own files, written by handle_output
        except FileNotFoundError:
            raise LookupError(
                f"no stored value for asset {context.asset_key!r} at {path}"
            ) from None

    def __repr__(self) -> str:
        return f"IOHandler.filesystem({str(self.base_dir)!r})"
