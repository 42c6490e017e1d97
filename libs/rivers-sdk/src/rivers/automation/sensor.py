"""``rs.Sensor``: user code the location's daemon evaluates every ``minimum_interval``.

A sensor function takes an optional ``context: rs.SensorContext`` and returns (or yields)
``rs.SensorResult``, ``rs.RunRequest`` / ``rs.BackfillRequest`` (one or several),
``rs.SkipReason`` or ``None``. It may be ``async``. It runs in the code server (the only place
user code runs); the daemon queues what it asks for and stores the cursor.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from rivers.automation.requests import (
    AddDynamicPartitionsRequest,
    BackfillRequest,
    DeleteDynamicPartitionsRequest,
    RunRequest,
    SensorResult,
    SkipReason,
)
from rivers.automation.target import normalize_target
from rivers.errors import DefinitionError

if TYPE_CHECKING:
    from rivers.definitions.snapshot import SensorSnap
    from rivers.storage import Storage

__all__ = ["Sensor", "SensorContext", "normalize_sensor_output"]

DefaultStatus = Literal["RUNNING", "STOPPED"]


class SensorContext:
    """What a sensor evaluation gets.

    Attributes:
        sensor_name: the sensor's name.
        cursor: the cursor the previous tick stored (``None`` at first).
        last_tick_time: POSIX seconds of the previous evaluation, if any.
        log: a logger whose lines go to the code server's logs.
        storage: the location's store (read materializations, runs, partitions), when the
            code server provides it.
    """

    def __init__(
        self,
        sensor_name: str,
        *,
        cursor: str | None = None,
        last_tick_time: float | None = None,
        storage: Storage | None = None,
    ) -> None:
        self.sensor_name = sensor_name
        self.cursor = cursor
        self.last_tick_time = last_tick_time
        self.storage = storage
        self.log = logging.getLogger(f"rivers.sensor.{sensor_name}")
        self._cursor_updated = False

    def update_cursor(self, cursor: str | None) -> None:
        """Store ``cursor`` for the next tick (a ``SensorResult(cursor=...)`` wins over it)."""
        self.cursor = cursor
        self._cursor_updated = True


class Sensor:
    """A sensor: ``@rs.Sensor(target=..., minimum_interval=30)`` on a function.

    Args:
        fn: the sensor function (the bare ``@rs.Sensor`` form).
        target: default selection (or ``rs.Job``) of the runs it requests.
        minimum_interval: seconds between two evaluations, at least.
        name: default the function's name.
        description: shown in the UI; default the docstring.
        default_status: ``"STOPPED"`` (as in Dagster) until switched on in the UI or API;
            ``"RUNNING"`` starts it with the location.

    Example:
        >>> @rs.Sensor(target="orders", minimum_interval=60)
        ... def new_files(context: rs.SensorContext) -> rs.SensorResult:
        ...     seen = int(context.cursor or 0)
        ...     return rs.SensorResult(run_requests=[rs.RunRequest(run_key=str(seen + 1))],
        ...                            cursor=str(seen + 1))
    """

    def __init__(
        self,
        fn: Callable[..., Any] | None = None,
        /,
        *,
        target: object = None,
        minimum_interval: float = 30.0,
        name: str | None = None,
        description: str | None = None,
        default_status: DefaultStatus = "STOPPED",
    ) -> None:
        if fn is not None and not callable(fn):
            raise DefinitionError(f"rs.Sensor takes a function, not {fn!r}")
        label = name or getattr(fn, "__name__", None) or "sensor"
        if minimum_interval <= 0:
            raise DefinitionError(f"sensor {label!r}: minimum_interval must be positive")
        if default_status not in ("RUNNING", "STOPPED"):
            raise DefinitionError(
                f"sensor {label!r}: default_status must be 'RUNNING' or 'STOPPED'"
            )
        self.fn = fn
        self.target = target
        self.selection, self.job_name = normalize_target(f"sensor {label!r}", target)
        self.minimum_interval = float(minimum_interval)
        self._name = name
        self.description = description
        self.default_status: DefaultStatus = default_status
        if fn is not None:
            self._check_signature(fn)

    def __call__(self, fn: Callable[..., Any]) -> Sensor:
        """The with-arguments form: ``@rs.Sensor(...)`` applied to the function."""
        if self.fn is not None:
            raise DefinitionError(
                f"sensor {self.name!r} is not callable; the daemon evaluates it "
                "(use sensor.evaluate(context) in tests)"
            )
        return Sensor(
            fn,
            target=self.target,
            minimum_interval=self.minimum_interval,
            name=self._name,
            description=self.description,
            default_status=self.default_status,
        )

    @property
    def name(self) -> str:
        """The sensor's name (default its function's)."""
        return self._name or getattr(self.fn, "__name__", None) or "sensor"

    @property
    def is_async(self) -> bool:
        """Whether the function is a coroutine function (evaluated on the event loop)."""
        return inspect.iscoroutinefunction(self.fn) or inspect.isasyncgenfunction(self.fn)

    def _check_signature(self, fn: Callable[..., Any]) -> None:
        params = list(inspect.signature(fn).parameters.values())
        required = [
            p
            for p in params
            if p.default is inspect.Parameter.empty
            and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        ]
        if len(required) > 1:
            raise DefinitionError(
                f"sensor {self.name!r} takes at most one parameter (context: rs.SensorContext), "
                f"not {[p.name for p in required]}"
            )

    def _args(self, context: SensorContext) -> tuple[Any, ...]:
        assert self.fn is not None
        return (context,) if inspect.signature(self.fn).parameters else ()

    def evaluate(self, context: SensorContext) -> SensorResult:
        """Run a sync sensor once (what the code server does; also handy in unit tests).

        Raises:
            DefinitionError: the sensor has no function, or is async (use ``evaluate_async``),
                or returned something that is not a sensor result.
            Exception: whatever the user's function raised, unchanged.
        """
        if self.fn is None:
            raise DefinitionError(f"sensor {self.name!r} has no function")
        if self.is_async:
            raise DefinitionError(f"sensor {self.name!r} is async: use evaluate_async")
        return normalize_sensor_output(self.name, self.fn(*self._args(context)), context)

    async def evaluate_async(self, context: SensorContext) -> SensorResult:
        """Run the sensor once on the running event loop (sync sensors run inline)."""
        if self.fn is None:
            raise DefinitionError(f"sensor {self.name!r} has no function")
        if inspect.isasyncgenfunction(self.fn):
            items = [item async for item in self.fn(*self._args(context))]
            return normalize_sensor_output(self.name, items, context)
        out = self.fn(*self._args(context))
        if inspect.isawaitable(out):
            out = await out
        return normalize_sensor_output(self.name, out, context)

    def snap(self) -> SensorSnap:
        """The sensor as the definitions snapshot records it."""
        from rivers.definitions.snapshot import SensorSnap

        return SensorSnap(
            name=self.name,
            selection=self.selection,
            job_name=self.job_name,
            description=self.description or inspect.getdoc(self.fn) or None,
            minimum_interval=self.minimum_interval,
            default_status=self.default_status,
            is_async=self.is_async,
        )

    def __repr__(self) -> str:
        return f"Sensor({self.name!r}, minimum_interval={self.minimum_interval:g})"


_REQUEST = (RunRequest, BackfillRequest)
_DYNAMIC = (AddDynamicPartitionsRequest, DeleteDynamicPartitionsRequest)


def normalize_sensor_output(name: str, out: object, context: SensorContext) -> SensorResult:
    """Turn what a sensor (or schedule) function returned into a ``SensorResult``.

    Raises:
        DefinitionError: a value that is none of the accepted forms, naming the sensor.
    """
    if isinstance(out, Iterable) and not isinstance(out, str | bytes | BaseModel):
        out = list(out)  # run a generator to its end first: it may update the cursor
    cursor = context.cursor if context._cursor_updated else None
    if out is None:
        return SensorResult(cursor=cursor)
    if isinstance(out, SensorResult):
        return (
            out
            if out.cursor is not None or cursor is None
            else out.model_copy(update={"cursor": cursor})
        )
    if isinstance(out, SkipReason):
        return SensorResult(skip_reason=out.message, cursor=cursor)
    if isinstance(out, _REQUEST):
        return SensorResult(run_requests=(out,), cursor=cursor)
    if isinstance(out, Iterable) and not isinstance(out, str | bytes):
        requests: list[RunRequest | BackfillRequest] = []
        dynamic: list[AddDynamicPartitionsRequest | DeleteDynamicPartitionsRequest] = []
        skip: str | None = None
        for item in out:
            if isinstance(item, _REQUEST):
                requests.append(item)
            elif isinstance(item, _DYNAMIC):
                dynamic.append(item)
            elif isinstance(item, SkipReason):
                skip = item.message
            else:
                raise DefinitionError(
                    f"{name}: yielded {item!r}; expected rs.RunRequest, rs.BackfillRequest, "
                    "rs.SkipReason or a dynamic partitions request"
                )
        return SensorResult(
            run_requests=tuple(requests),
            dynamic_partitions_requests=tuple(dynamic),
            skip_reason=skip,
            cursor=cursor,
        )
    raise DefinitionError(
        f"{name}: returned {out!r}; expected rs.SensorResult, rs.RunRequest(s), "
        "rs.BackfillRequest, rs.SkipReason or None"
    )
