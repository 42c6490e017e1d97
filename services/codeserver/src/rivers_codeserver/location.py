"""The code location: loading (and reloading) user code, registering it in storage.

A code server registers its location under an immutable identity, stores the definitions
snapshot it serves, and heartbeats ``endpoint``/``snapshot_id``/``server_id`` so the other
services know where to reach it and what it serves. The server id changes on every start and
reload, so a client can tell it now talks to a different incarnation.
"""

from __future__ import annotations

import importlib
import sys
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from rivers.cli.loader import LoadError, load_repository
from rivers.definitions.repository import CodeRepository
from rivers.definitions.snapshot import DefinitionsSnapshot
from rivers.storage import RunRecord, Storage
from rivers.telemetry import get_logger

__all__ = [
    "LoadedCode",
    "Location",
    "current_stamps",
    "describe_load_error",
    "files_changed",
    "load_code",
    "reload_code",
]

log = get_logger("rivers.codeserver.location")

FileStamps = Mapping[str, tuple[int, int]]


@dataclass(frozen=True, slots=True)
class LoadedCode:
    """One load of the user's module: its repository, snapshot and source files."""

    module: str
    attribute: str | None
    repository: CodeRepository
    snapshot: DefinitionsSnapshot
    files: FileStamps
    import_root: Path | None

    @property
    def snapshot_id(self) -> str:
        """The content id of the definitions snapshot."""
        return self.snapshot.snapshot_id


def _top_package(module: str) -> str:
    return module.split(".", 1)[0]


def _import_root(module: str) -> Path | None:
    # The sys.path entry the module was found under, so run workers (other processes, maybe
    # with another working directory) import the very same module.
    loaded = sys.modules.get(module)
    file = getattr(loaded, "__file__", None)
    if not file:
        return None
    path = Path(file).resolve()
    if path.name == "__init__.py":
        path = path.parent
    depth = module.count(".")
    return path.parents[depth] if depth < len(path.parents) else None


def _package_modules(module: str, root: Path | None) -> dict[str, ModuleType]:
    """The loaded modules of the module's top-level package that live under ``root``."""
    top = _top_package(module)
    found: dict[str, ModuleType] = {}
    for name, mod in list(sys.modules.items()):
        if name != top and not name.startswith(top + "."):
            continue
        file = getattr(mod, "__file__", None)
        if name != module and (not file or root is None or root not in Path(file).parents):
            continue
        found[name] = mod
    return found


def _stamps(paths: Iterable[str]) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for path in paths:
        try:
            stat = Path(path).stat()
        except OSError:
            out[path] = (-1, -1)  # deleted: a change as well
            continue
        out[path] = (stat.st_mtime_ns, stat.st_size)
    return out


def _source_files(module: str, root: Path | None) -> dict[str, tuple[int, int]]:
    files = {
        str(Path(file).resolve())
        for mod in _package_modules(module, root).values()
        if (file := getattr(mod, "__file__", None)) and file.endswith(".py")
    }
    return _stamps(sorted(files))


def files_changed(files: FileStamps) -> bool:
    """Whether any of the files differs from its recorded stamp (mtime and size)."""
    return current_stamps(files) != dict(files)


def load_code(module: str, attribute: str | None) -> LoadedCode:
    """Import the module and build its repository and snapshot.

    Raises:
        LoadError: the import failed or the module defines no usable repository.
    """
    repository = load_repository(module, attribute)
    root = _import_root(module)
    return LoadedCode(
        module=module,
        attribute=attribute,
        repository=repository,
        snapshot=repository.snapshot,
        files=_source_files(module, root),
        import_root=root,
    )


def reload_code(current: LoadedCode) -> LoadedCode:
    """Import the module afresh, with every loaded module of its package.

    On failure ``sys.modules`` is left as it was, so the previous definitions keep serving
    and a later reload starts from them.

    Raises:
        LoadError: the new code does not import or defines no usable repository.
    """
    saved = _package_modules(current.module, current.import_root)
    for name in saved:
        del sys.modules[name]
    importlib.invalidate_caches()
    try:
        return load_code(current.module, current.attribute)
    except BaseException:
        for name in _package_modules(current.module, current.import_root):
            sys.modules.pop(name, None)
        sys.modules.update(saved)
        raise


def current_stamps(files: FileStamps) -> dict[str, tuple[int, int]]:
    """The stamps the files have now (a failed reload is retried only when they change)."""
    return _stamps(files)


class Location:
    """The location's row in storage: identity, snapshot, heartbeat and stale runs.

    Args:
        storage: the shared store.
        name: the location's display name.
        identity: its immutable identity, if a deployment stamped one (else found by name).
        heartbeat_interval: seconds between heartbeats; a run whose worker has not
            heartbeated for three of them is failed when the location (re)loads.
    """

    def __init__(
        self, storage: Storage, *, name: str, identity: str | None, heartbeat_interval: float
    ) -> None:
        self.storage = storage
        self.name = name
        self.heartbeat_interval = heartbeat_interval
        self.identity = storage.ensure_location(name, identity).identity
        self.server_id = ""
        self.snapshot_id = ""
        # Heartbeats (a background thread) and registrations write the same row: one at a
        # time, so a heartbeat never stores an incarnation id a registration just replaced.
        self._writing = threading.Lock()
        self.endpoint: str | None = None

    def register(
        self,
        code: LoadedCode,
        endpoint: str,
        *,
        keep_alive: Callable[[], None] = lambda: None,
    ) -> list[RunRecord]:
        """Store the snapshot, fail stale runs, and heartbeat as a new incarnation.

        ``keep_alive`` heartbeats the runs this server executes, so that a run whose worker
        beats more slowly than the location is not mistaken for a stale one. Returns the runs
        that were failed.
        """
        self.snapshot_id = self.storage.store_snapshot(self.identity, code.snapshot)
        # The repository's pool limits are known (UI, `rivers pools`) before any run starts.
        self.storage.ensure_pool_limits(code.repository.pool_limits)
        keep_alive()
        stale = self.storage.fail_stale_runs(
            older_than=3 * self.heartbeat_interval, location_id=self.identity
        )
        for run in stale:
            log.warning("codeserver.stale_run_failed", run_id=run.run_id, location=self.name)
        # Stored first, then served: whoever sees the new id (GetServerId) finds it stored.
        server_id = uuid.uuid4().hex
        with self._writing:
            self.storage.heartbeat_location(
                self.identity, endpoint=endpoint, snapshot_id=self.snapshot_id, server_id=server_id
            )
            self.server_id = server_id
            self.endpoint = endpoint
        log.info(
            "codeserver.registered",
            location=self.name,
            identity=self.identity,
            endpoint=endpoint,
            server_id=self.server_id,
            snapshot_id=self.snapshot_id,
            assets=len(code.snapshot.assets),
        )
        return stale

    def heartbeat(self) -> None:
        """Record that the server is alive, where, and which snapshot it serves."""
        with self._writing:
            self.storage.heartbeat_location(
                self.identity,
                endpoint=self.endpoint,
                snapshot_id=self.snapshot_id,
                server_id=self.server_id,
            )


def describe_load_error(module: str, error: LoadError) -> str:
    """A one-line account of why the module did not load, naming the module and the spot."""
    text = str(error).strip()
    first = text.splitlines()[0] if text else repr(error)
    first = first.replace(f"importing {module!r} raised ", "its import raised ", 1)
    where = ""
    for line in reversed(text.splitlines()):
        stripped = line.strip()
        if stripped.startswith('File "') and "<frozen " not in stripped:
            where = stripped.split(", in ")[0]
            break
    message = f"cannot load code location {module!r}: {first}"
    if where:
        message += f" ({where})"
    return message
