"""Ticks: one record per evaluation of a schedule, sensor or automation, kept for a while."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from pydantic import TypeAdapter

from rivers.errors import StorageError
from rivers.storage._base import StorageBase
from rivers.storage._instigators import UNSET, _Unset, instigator_changes, upsert_statement
from rivers.storage.records import TickRecord, TickStatus

__all__ = ["TickStore"]

_FIELDS = "* OMIT id"
_PURGE_CHUNK = 10_000
_PURGE = """
BEGIN;
LET $ids = (SELECT VALUE id FROM tick WHERE timestamp < $cutoff LIMIT $chunk);
DELETE $ids RETURN NONE;
COMMIT;
RETURN array::len($ids);
"""
# Fields a tick keeps from its creation: changing them would make it another tick.
_IDENTITY = frozenset({"tick_id", "location_id", "instigator", "type"})


@functools.cache
def _adapter(field: str) -> TypeAdapter[Any]:
    annotation: Any = TickRecord.model_fields[field].annotation
    return TypeAdapter(annotation)


def _changes(fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A ``SET`` clause and its variables for ``fields``, each validated as TickRecord does.

    ``None`` clears an optional field (``SET f = NONE``: a JSON null is not NONE).
    """
    clauses: list[str] = []
    variables: dict[str, Any] = {}
    for i, (name, value) in enumerate(sorted(fields.items())):
        if name not in TickRecord.model_fields or name in _IDENTITY:
            raise StorageError(f"update_tick: cannot set {name!r}")
        checked = _adapter(name).validate_python(value)
        if checked is None:
            clauses.append(f"{name} = NONE")
        else:
            clauses.append(f"{name} = $v{i}")
            variables[f"v{i}"] = _adapter(name).dump_python(checked, mode="json")
    return ", ".join(clauses), variables


class TickStore(StorageBase):
    """Typed access to ticks."""

    def add_tick(self, tick: TickRecord) -> None:
        """Store a new tick.

        Raises:
            StorageError: a tick with that id exists already.
        """
        self._q(
            "CREATE type::record('tick', $id) CONTENT $data RETURN NONE;",
            {"id": tick.tick_id, "data": tick.model_dump(mode="json", exclude_none=True)},
        )

    def record_tick(
        self,
        tick: TickRecord,
        *,
        cursor: str | _Unset | None = UNSET,
        last_tick_time: float | _Unset | None = UNSET,
        last_tick_status: TickStatus | _Unset | None = UNSET,
        expected_cursor: str | _Unset | None = UNSET,
    ) -> None:
        """Store ``tick`` as it is now and move its instigator, in one transaction.

        The tick is written whole (``UPSERT``): it replaces a stored ``STARTED`` tick of the
        same id, or is created. When any instigator field is given, the instigator
        (``tick.location_id``, ``tick.instigator``, ``tick.type``) changes as
        :meth:`update_instigator` would change it; otherwise only the tick is written.

        Args:
            tick: the tick, with its outcome.
            cursor: the instigator's new cursor (``None`` clears it).
            last_tick_time: its new last tick time.
            last_tick_status: its new last tick status.
            expected_cursor: the cursor the tick started from: ``cursor`` is stored only if
                the stored cursor is still that one, so a change made meanwhile (a reset)
                wins. The other fields move regardless.
        """
        data = {"id": tick.tick_id, "data": tick.model_dump(mode="json", exclude_none=True)}
        changes = instigator_changes(
            cursor=cursor, last_tick_time=last_tick_time, last_tick_status=last_tick_status
        )
        if not changes:
            self._q("UPSERT type::record('tick', $id) CONTENT $data RETURN NONE;", data)
            return
        statement, variables = upsert_statement(
            tick.location_id, tick.instigator, tick.type, changes, expected_cursor=expected_cursor
        )
        self._q(
            "BEGIN;\n"
            "UPSERT type::record('tick', $id) CONTENT $data RETURN NONE;\n"
            f"{statement} RETURN NONE;\n"
            "COMMIT;",
            {**variables, **data},
        )

    def update_tick(self, tick_id: str, **fields: Any) -> TickRecord:
        """Change fields of a tick (e.g. ``status``, ``run_ids``, ``error``); returns it.

        Fields not named are left alone; ``None`` clears an optional field.

        Raises:
            StorageError: no such tick, or a field that cannot be set.
        """
        if not fields:
            tick = self.get_tick(tick_id)
            if tick is None:
                raise StorageError(f"no tick {tick_id!r}")
            return tick
        clause, variables = _changes(fields)
        (rows,) = self._q(
            f"UPDATE type::record('tick', $id) SET {clause} RETURN AFTER;",
            {"id": tick_id, **variables},
        )
        if not rows:
            raise StorageError(f"no tick {tick_id!r}")
        return TickRecord.model_validate(rows[0])

    def get_tick(self, tick_id: str) -> TickRecord | None:
        """The stored tick, or ``None``."""
        (rows,) = self._q(f"SELECT {_FIELDS} FROM type::record('tick', $id);", {"id": tick_id})
        return TickRecord.model_validate(rows[0]) if rows else None

    def get_ticks(
        self,
        *,
        location_id: str | None = None,
        instigator: str | None = None,
        statuses: Iterable[TickStatus] | None = None,
        limit: int = 100,
        before: float | None = None,
    ) -> list[TickRecord]:
        """Ticks, newest first; page with ``before`` set to the last tick's ``timestamp``."""
        where: list[str] = []
        variables: dict[str, Any] = {"limit": int(limit)}
        if location_id is not None:
            where.append("location_id = $loc")
            variables["loc"] = location_id
        if instigator is not None:
            where.append("instigator = $name")
            variables["name"] = instigator
        if statuses is not None:
            where.append("status IN $statuses")
            variables["statuses"] = [str(s) for s in statuses]
        if before is not None:
            where.append("timestamp < $before")
            variables["before"] = before
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        (rows,) = self._q(
            f"SELECT {_FIELDS} FROM tick{clause} ORDER BY timestamp DESC LIMIT $limit;",
            variables,
        )
        return [TickRecord.model_validate(r) for r in rows]

    def purge_ticks(self, older_than: float) -> int:
        """Delete ticks whose ``timestamp`` is before ``older_than`` (a Unix time).

        For a retention of ``days``, pass ``time.time() - days * 86400``. Deletes in chunks of
        ``10,000`` (one transaction each), so a large backlog never makes one huge transaction.

        Returns:
            How many ticks were deleted.
        """
        total = 0
        while True:
            result = self._q(_PURGE, {"cutoff": float(older_than), "chunk": _PURGE_CHUNK})
            deleted = int(result[-1] or 0)
            total += deleted
            if deleted < _PURGE_CHUNK:
                return total
