"""Key-value state (sensor cursors, settings, small bookkeeping)."""

from __future__ import annotations

import time
from typing import Any

from rivers.storage._base import StorageBase

__all__ = ["KVStore"]


class KVStore(StorageBase):
    """A small string-keyed store of JSON-like values."""

    def kv_set(self, key: str, value: Any) -> None:
        """Set ``key`` to ``value`` (any JSON-like value; ``None`` deletes)."""
        if value is None:
            self.kv_delete(key)
            return
        self._q(
            "UPSERT type::record('kv', $key) SET key = $key, data = $value, updated_at = $now "
            "RETURN NONE;",
            {"key": key, "value": value, "now": time.time()},
        )

    def kv_get(self, key: str, default: Any = None) -> Any:
        """The value of ``key``, or ``default``."""
        (value,) = self._q("RETURN type::record('kv', $key).data;", {"key": key})
        return default if value is None else value

    def kv_delete(self, key: str) -> None:
        """Remove ``key`` (no error if absent)."""
        self._q("DELETE type::record('kv', $key);", {"key": key})

    def kv_list(self, prefix: str = "") -> dict[str, Any]:
        """Every key starting with ``prefix``, with its value."""
        (rows,) = self._q(
            "SELECT key, data FROM kv WHERE string::starts_with(key, $prefix) ORDER BY key;",
            {"prefix": prefix},
        )
        return {r["key"]: r["data"] for r in rows}
