"""Instigator state: whether a schedule or sensor runs, its cursor and its last tick.

One row per (location, name), keyed by both, written with ``UPSERT`` so the first write
creates it. A row without ``status`` follows the default from code.
"""

from __future__ import annotations

import time
from typing import Any, Final

from rivers.storage._base import StorageBase
from rivers.storage.records import InstigatorState, InstigatorType, TickStatus

__all__ = ["UNSET", "InstigatorStore"]


class _Unset:
    """The default of :meth:`InstigatorStore.update_instigator` fields: leave it alone."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset()

_FIELDS = "location_id, name, type, status, cursor, last_tick_time, last_tick_status, updated_at"


class InstigatorStore(StorageBase):
    """Typed access to schedules' and sensors' stored state."""

    def get_instigator_state(self, location_id: str, name: str) -> InstigatorState | None:
        """The stored state of one instigator, or ``None`` (never started, stopped or ticked)."""
        (rows,) = self._q(
            f"SELECT {_FIELDS} FROM type::record('instigator', [$loc, $name]);",
            {"loc": location_id, "name": name},
        )
        return InstigatorState.model_validate(rows[0]) if rows else None

    def get_instigator_states(self, location_id: str | None = None) -> list[InstigatorState]:
        """Stored states of a location's instigators (or every location's), by name."""
        where = " WHERE location_id = $loc" if location_id is not None else ""
        (rows,) = self._q(
            f"SELECT {_FIELDS} FROM instigator{where} ORDER BY location_id, name;",
            {"loc": location_id},
        )
        return [InstigatorState.model_validate(r) for r in rows]

    def set_instigator_status(
        self, location_id: str, name: str, type: InstigatorType, running: bool
    ) -> InstigatorState:
        """Start or stop an instigator (overriding its default from code); returns its state."""
        return self._upsert(
            location_id, name, type, {"status": "RUNNING" if running else "STOPPED"}
        )

    def update_instigator(
        self,
        location_id: str,
        name: str,
        type: InstigatorType,
        *,
        cursor: str | _Unset | None = UNSET,
        last_tick_time: float | _Unset | None = UNSET,
        last_tick_status: TickStatus | _Unset | None = UNSET,
    ) -> InstigatorState:
        """Record an instigator's cursor and last tick (created if new); returns its state.

        Only the fields given change (``None`` clears one); its status is never touched.
        """
        changes: dict[str, Any] = {}
        if not isinstance(cursor, _Unset):
            changes["cursor"] = cursor
        if not isinstance(last_tick_time, _Unset):
            changes["last_tick_time"] = None if last_tick_time is None else float(last_tick_time)
        if not isinstance(last_tick_status, _Unset):
            changes["last_tick_status"] = (
                None if last_tick_status is None else str(TickStatus(last_tick_status))
            )
        return self._upsert(location_id, name, type, changes)

    def _upsert(
        self, location_id: str, name: str, type: InstigatorType, changes: dict[str, Any]
    ) -> InstigatorState:
        sets = ["location_id = $loc", "name = $name", "type = $type", "updated_at = $now"]
        variables: dict[str, Any] = {
            "loc": location_id,
            "name": name,
            "type": str(InstigatorType(type)),
            "now": time.time(),
        }
        for field, value in sorted(changes.items()):
            if value is None:
                sets.append(f"{field} = NONE")  # a JSON null is not NONE for option<> fields
            else:
                sets.append(f"{field} = ${field}")
                variables[field] = value
        (rows,) = self._q(
            f"UPSERT type::record('instigator', [$loc, $name]) SET {', '.join(sets)} "
            f"RETURN {_FIELDS};",
            variables,
        )
        return InstigatorState.model_validate(rows[0])
