"""Storage lifecycle: which engine, opening it lazily, applying the schema, closing."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self

from rivers.errors import StorageError
from rivers.storage.schema import MIGRATIONS, SCHEMA_VERSION

if TYPE_CHECKING:
    from rivers.storage._connection import Connection

__all__ = ["StorageBase", "StorageKind"]

StorageKind = Literal["memory", "embedded", "remote"]


class StorageBase:
    """Opens the engine on first use and applies the schema; shared by the typed stores."""

    def __init__(
        self,
        kind: StorageKind,
        *,
        path: Path | None = None,
        url: str | None = None,
        username: str = "root",
        password: str = "root",  # noqa: S107 - the local default, as SurrealDB's own docs use
        namespace: str = "rivers",
        database: str = "rivers",
    ) -> None:
        self.kind: StorageKind = kind
        self.path = path
        self.url = url
        self._credentials = (username, password)
        self.namespace = namespace
        self.database = database
        self._conn: Connection | None = None
        self._open_lock = threading.Lock()

    # --- lifecycle -----------------------------------------------------------------------

    def open(self) -> Self:
        """Open the engine and bring the schema up to date (idempotent)."""
        self._connection()
        return self

    def _connection(self) -> Connection:
        conn = self._conn
        if conn is not None and not conn.closed:
            return conn
        with self._open_lock:
            if self._conn is None or self._conn.closed:
                fresh = self._connect()
                try:
                    self._migrate(fresh)
                except BaseException:
                    fresh.close()
                    raise
                # Published only once migrated: other threads take the fast path above.
                self._conn = fresh
            return self._conn

    def _connect(self) -> Connection:
        # Imported here: the SurrealDB SDK and tenacity load only when a store is opened.
        from rivers.storage._connection import open_embedded, open_remote

        if self.kind == "memory":
            return open_embedded(Path(tempfile.mkdtemp(prefix="rivers-memory-")), ephemeral=True)
        if self.kind == "embedded":
            assert self.path is not None
            return open_embedded(self.path)
        assert self.url is not None
        username, password = self._credentials
        return open_remote(
            self.url,
            username=username,
            password=password,
            namespace=self.namespace,
            database=self.database,
        )

    @staticmethod
    def _migrate(conn: Connection) -> None:
        (version,) = conn.query("RETURN meta:schema.version;")
        current = int(version or 0)
        if current > SCHEMA_VERSION:
            raise StorageError(
                f"storage {conn.description} has schema version {current}, newer than this "
                f"rivers understands ({SCHEMA_VERSION}); upgrade rivers"
            )
        for target in range(current + 1, SCHEMA_VERSION + 1):
            # One transaction per migration: a store is never left half-migrated.
            conn.query(
                f"BEGIN;\n{MIGRATIONS[target - 1]}\nUPSERT meta:schema SET version = $v;\nCOMMIT;",
                {"v": target},
            )

    def close(self) -> None:
        """Close the engine (an ephemeral memory store is deleted). Safe to call twice."""
        with self._open_lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def is_open(self) -> bool:
        """Whether the engine is currently open."""
        return self._conn is not None and not self._conn.closed

    def _q(self, sql: str, variables: dict[str, Any] | None = None) -> list[Any]:
        return self._connection().query(sql, variables)

    def schema_version(self) -> int:
        """The schema version the store is at."""
        (version,) = self._q("RETURN meta:schema.version;")
        return int(version or 0)

    def engine_version(self) -> str:
        """The SurrealDB engine version string, e.g. ``surrealdb-3.2.4``."""
        return self._connection().version()

    def __repr__(self) -> str:
        if self.kind == "memory":
            return "Storage.memory()"
        if self.kind == "embedded":
            return f"Storage.embedded({str(self.path)!r})"
        return f"Storage.connect({self.url!r})"
