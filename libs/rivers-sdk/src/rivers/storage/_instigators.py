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
        return self._upsert(
            location_id,
            name,
            type,
            instigator_changes(
                cursor=cursor, last_tick_time=last_tick_time, last_tick_status=last_tick_status
            ),
        )

    def _upsert(
        self, location_id: str, name: str, type: InstigatorType, changes: dict[str, Any]
    ) -> InstigatorState:
        statement, variables = upsert_statement(location_id, name, type, changes)
        (rows,) = self._q(f"{statement} RETURN {_FIELDS};", variables)
        return InstigatorState.model_validate(rows[0])


def instigator_changes(
    *,
    cursor: str | _Unset | None = UNSET,
    last_tick_time: float | _Unset | None = UNSET,
    last_tick_status: TickStatus | _Unset | None = UNSET,
) -> dict[str, Any]:
    """The stored values of the fields given (``UNSET`` ones are left out, ``None`` clears)."""
    changes: dict[str, Any] = {}
    if not isinstance(cursor, _Unset):
        changes["cursor"] = cursor
    if not isinstance(last_tick_time, _Unset):
        changes["last_tick_time"] = None if last_tick_time is None else float(last_tick_time)
    if not isinstance(last_tick_status, _Unset):
        changes["last_tick_status"] = (
            None if last_tick_status is None else str(TickStatus(last_tick_status))
        )
    return changes


def upsert_statement(
    location_id: str,
    name: str,
    type: InstigatorType,
    changes: dict[str, Any],
    *,
    expected_cursor: str | _Unset | None = UNSET,
) -> tuple[str, dict[str, Any]]:
    """An ``UPSERT`` of one instigator row setting ``changes`` (no ``RETURN``, no ``;``).

    With ``expected_cursor``, a ``cursor`` change applies only while the stored cursor is
    still that one. Its variables are ``$loc``, ``$name``, ``$type``, ``$now``, one per
    changed field and ``$expected_cursor``.
    """
    sets = ["location_id = $loc", "name = $name", "type = $type", "updated_at = $now"]
    variables: dict[str, Any] = {
        "loc": location_id,
        "name": name,
        "type": str(InstigatorType(type)),
        "now": time.time(),
    }
    for field, value in sorted(changes.items()):
        new = "NONE" if value is None else f"${field}"  # a JSON null is not NONE for option<>
        if value is not None:
            variables[field] = value
        if field == "cursor" and not isinstance(expected_cursor, _Unset):
            if expected_cursor is None:
                guard = "cursor == NONE"
            else:
                guard = "cursor == $expected_cursor"
                variables["expected_cursor"] = expected_cursor
            new = f"IF {guard} THEN {new} ELSE cursor END"
        sets.append(f"{field} = {new}")
    return (
        f"UPSERT type::record('instigator', [$loc, $name]) SET {', '.join(sets)}",
        variables,
    )
