"""Dynamic partition keys: named sets of keys added and removed at run time."""

from __future__ import annotations

from collections.abc import Iterable

from rivers.errors import StorageError
from rivers.storage._base import StorageBase

__all__ = ["DynamicPartitionStore"]

_ADD = """
BEGIN;
LET $existing = (SELECT VALUE key FROM dynamic_partition WHERE name = $name AND key IN $keys);
LET $new = $keys.filter(|$k| $k NOT IN $existing);
LET $end = (UPSERT counter:dynamic_partition SET n = (n ?? 0) + array::len($new) RETURN AFTER)[0].n;
LET $base = $end - array::len($new);
INSERT INTO dynamic_partition $new.map(|$k, $i| {
    id: [$name, $k], name: $name, key: $k, seq: $base + $i + 1
}) RETURN NONE;
COMMIT;
RETURN $new;
"""


def _check_keys(name: str, keys: Iterable[str]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for key in keys:
        if not isinstance(key, str) or not key or "|" in key or key != key.strip():
            raise StorageError(
                f"dynamic partition {name!r}: invalid key {key!r} (a non-empty string without "
                "'|' or surrounding spaces, e.g. 'customer-42')"
            )
        if key not in seen:
            seen.add(key)
            out.append(key)
    return out


class DynamicPartitionStore(StorageBase):
    """Keys of dynamic partitions definitions (``rs.PartitionsDefinition.dynamic(name)``)."""

    def add_dynamic_partitions(self, name: str, keys: Iterable[str]) -> list[str]:
        """Add ``keys`` to the dynamic partitions ``name``; returns the keys that were new.

        Existing keys are left alone, so adding is idempotent; new keys keep their order.
        """
        new = _check_keys(name, keys)
        if not new:
            return []
        result = self._q(_ADD, {"name": name, "keys": new})
        return list(result[-1])

    def delete_dynamic_partitions(self, name: str, keys: Iterable[str]) -> None:
        """Remove ``keys`` from the dynamic partitions ``name`` (absent keys are ignored)."""
        self._q(
            "DELETE dynamic_partition WHERE name = $name AND key IN $keys;",
            {"name": name, "keys": list(keys)},
        )

    def get_dynamic_partitions(self, name: str) -> list[str]:
        """The keys of ``name`` in the order they were added."""
        (rows,) = self._q(
            "SELECT key, seq FROM dynamic_partition WHERE name = $name ORDER BY seq;",
            {"name": name},
        )
        return [r["key"] for r in rows]

    def has_dynamic_partition(self, name: str, key: str) -> bool:
        """Whether ``key`` is one of the keys of ``name``."""
        (value,) = self._q(
            "RETURN record::exists(type::record('dynamic_partition', [$name, $key]));",
            {"name": name, "key": key},
        )
        return bool(value)

    def count_dynamic_partitions(self, name: str) -> int:
        """How many keys ``name`` has."""
        (rows,) = self._q(
            "SELECT count() AS n FROM dynamic_partition WHERE name = $name GROUP ALL;",
            {"name": name},
        )
        return int(rows[0]["n"]) if rows else 0
