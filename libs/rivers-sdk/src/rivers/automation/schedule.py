"""``rs.Schedule``: run a target on a cron, evaluated by the location's daemon.

A schedule with a fixed (or no) partition and static run config is evaluated from the
definitions snapshot alone. One with a function, or a callable ``partition`` / ``run_config``,
runs that user code in the code server for each tick (``EvaluateSchedule``).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rivers.automation.requests import RunRequest, SensorResult
from rivers.automation.sensor import SensorContext, normalize_sensor_output
from rivers.automation.target import normalize_target
from rivers.definitions.metadata import normalize_tags
from rivers.errors import DefinitionError
from rivers.partitions import PartitionError
from rivers.partitions.cron import parse_cron

if TYPE_CHECKING:
    from rivers.definitions.snapshot import ScheduleSnap
    from rivers.storage import Storage

__all__ = ["Schedule", "ScheduleContext"]

DefaultStatus = Literal["RUNNING", "STOPPED"]


class ScheduleContext:
    """What a schedule's function (or callable partition / run config) gets for one tick.

    Attributes:
        schedule_name: the schedule's name.
        scheduled_time: the cron time of the tick, in the schedule's time zone.
        log: a logger whose lines go to the code server's logs.
        storage: the location's store, when the code server provides it.
    """

    def __init__(
        self, schedule_name: str, scheduled_time: datetime, *, storage: Storage | None = None
    ) -> None:
        self.schedule_name = schedule_name
        self.scheduled_time = scheduled_time
        self.storage = storage
        self.log = logging.getLogger(f"rivers.schedule.{schedule_name}")


class Schedule:
    """A schedule: ``rs.Schedule(name=, cron=, target=, timezone=)``.

    Args:
        fn: optional function of the tick (``context: rs.ScheduleContext``) returning
            ``rs.RunRequest`` (one or several), ``rs.SkipReason``, a run config dict, or
            ``None`` (skip); usable as ``@rs.Schedule(cron=..., target=...)``.
        name: the schedule's name (default the function's).
        cron: 5 fields, or 6 with leading seconds (``"*/30 * * * * *"``), or ``@daily`` ...
        target: what its runs materialize: a selection or an ``rs.Job``.
        timezone: the IANA zone the cron is read in. Around DST changes a daily time that does
            not exist runs at the next existing time, one that exists twice runs at its second
            occurrence, and hourly (or faster) crons keep one run per real interval.
        partition: for partitioned targets, the partition key, or a callable of the
            context returning it; default the latest partition complete at the tick.
        run_config: run config of each run, or a callable of the context returning it.
        tags: tags of each run.
        description: shown in the UI.
        default_status: ``"STOPPED"`` (as in Dagster) until switched on; ``"RUNNING"`` to
            start with the location.
        max_catchup_ticks: after downtime, how many of the missed ticks (the newest) still
            run; 0 runs none of them (only ticks from now on).

    Example:
        >>> nightly = rs.Schedule(name="nightly", cron="0 2 * * *", target="group:sales",
        ...                       timezone="Europe/Amsterdam")
    """

    def __init__(
        self,
        fn: Callable[..., Any] | None = None,
        /,
        *,
        cron: str,
        name: str | None = None,
        target: object = None,
        timezone: str = "UTC",
        partition: str | Callable[[ScheduleContext], str | None] | None = None,
        run_config: Mapping[str, Any]
        | Callable[[ScheduleContext], Mapping[str, Any]]
        | None = None,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
        default_status: DefaultStatus = "STOPPED",
        max_catchup_ticks: int = 5,
    ) -> None:
        label = name or getattr(fn, "__name__", None)
        owner = f"schedule {label!r}" if label else "schedule"
        if fn is not None and not callable(fn):
            raise DefinitionError(f"{owner}: takes a function, not {fn!r}")
        if not isinstance(cron, str) or not cron.strip():
            raise DefinitionError(f"{owner}: cron must be a cron expression string")
        try:
            parse_cron(cron)
        except PartitionError as exc:
            raise DefinitionError(f"{owner}: invalid cron {cron!r}: {exc}") from None
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise DefinitionError(f"{owner}: unknown time zone {timezone!r}") from None
        if default_status not in ("RUNNING", "STOPPED"):
            raise DefinitionError(f"{owner}: default_status must be 'RUNNING' or 'STOPPED'")
        if not isinstance(max_catchup_ticks, int) or max_catchup_ticks < 0:
            raise DefinitionError(f"{owner}: max_catchup_ticks must be an int >= 0")
        if partition is not None and not (isinstance(partition, str) or callable(partition)):
            raise DefinitionError(f"{owner}: partition must be a key or a callable")
        if run_config is not None and not (isinstance(run_config, Mapping) or callable(run_config)):
            raise DefinitionError(f"{owner}: run_config must be a mapping or a callable")
        try:
            self.tags = normalize_tags(tags)
        except TypeError as exc:
            raise DefinitionError(f"{owner}: {exc}") from None
        self.fn = fn
        self.cron = cron.strip()
        self._name = name
        self.target = target
        self.selection, self.job_name = normalize_target(owner, target)
        self.timezone = timezone
        self.partition = partition
        self.run_config = run_config
        self.description = description
        self.default_status: DefaultStatus = default_status
        self.max_catchup_ticks = max_catchup_ticks

    def __call__(self, fn: Callable[..., Any]) -> Schedule:
        """The decorator form: ``@rs.Schedule(cron=..., target=...)`` on a function."""
        if self.fn is not None:
            raise DefinitionError(f"schedule {self.name!r} is not callable")
        return Schedule(
            fn,
            cron=self.cron,
            name=self._name,
            target=self.target,
            timezone=self.timezone,
            partition=self.partition,
            run_config=self.run_config,
            tags=self.tags,
            description=self.description,
            default_status=self.default_status,
            max_catchup_ticks=self.max_catchup_ticks,
        )

    @property
    def name(self) -> str:
        """The schedule's name (default its function's)."""
        return self._name or getattr(self.fn, "__name__", None) or "schedule"

    def check_complete(self) -> None:
        """Raise if the schedule cannot run as it stands (checked by ``CodeRepository``).

        ``@rs.Schedule(cron=..., target=...)`` before it is applied to a function has neither a
        function nor, possibly, a name; only a finished schedule is accepted.

        Raises:
            DefinitionError: no function and no name, or no function and no target.
        """
        if self.fn is None and self._name is None:
            raise DefinitionError("a schedule without a function needs a name=")
        if self.fn is None and self.target is None:
            raise DefinitionError(
                f"schedule {self.name!r}: needs a target= (or a function returning requests)"
            )

    @property
    def has_function(self) -> bool:
        """Whether a tick runs user code (a function, or a callable partition or config)."""
        return self.fn is not None or callable(self.partition) or callable(self.run_config)

    def evaluate(self, context: ScheduleContext) -> SensorResult:
        """The run requests (or skip reason) of one tick; user code runs here.

        Raises:
            DefinitionError: the function returned something that is not a request.
            Exception: whatever the user's code raised, unchanged.
        """
        if self.fn is not None:
            args = (context,) if inspect.signature(self.fn).parameters else ()
            out = self.fn(*args)
            if isinstance(out, Mapping):
                out = RunRequest(run_config=dict(out))
            probe = SensorContext(self.name)
            result = normalize_sensor_output(f"schedule {self.name!r}", out, probe)
            if not result.run_requests and result.skip_reason is None:
                result = result.model_copy(update={"skip_reason": "the schedule returned nothing"})
            return result
        partition = self.partition(context) if callable(self.partition) else self.partition
        config = self.run_config(context) if callable(self.run_config) else self.run_config
        request = RunRequest(
            partition=partition, run_config=dict(config) if config is not None else None
        )
        return SensorResult(run_requests=(request,))

    def snap(self) -> ScheduleSnap:
        """The schedule as the definitions snapshot records it."""
        from rivers.definitions.snapshot import ScheduleSnap

        return ScheduleSnap(
            name=self.name,
            cron=self.cron,
            timezone=self.timezone,
            selection=self.selection,
            job_name=self.job_name,
            description=self.description or (inspect.getdoc(self.fn) if self.fn else None),
            tags=self.tags,
            run_config=dict(self.run_config) if isinstance(self.run_config, Mapping) else None,
            partition_key=self.partition if isinstance(self.partition, str) else None,
            default_status=self.default_status,
            has_function=self.has_function,
            max_catchup_ticks=self.max_catchup_ticks,
        )

    def __repr__(self) -> str:
        return f"Schedule({self.name!r}, cron={self.cron!r}, timezone={self.timezone!r})"
