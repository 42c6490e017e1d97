"""``rs.AutomationCondition``: when the daemon should request an asset (partition) by itself.

A condition is a frozen tree of plain data: leaves describe facts about an asset partition or
its dependencies (``missing()``, ``newly_updated()``, ``any_deps_updated()`` ...), inner nodes
combine them (``&``, ``|``, ``~``, ``.since(...)``, ``.newly_true()``). The tree travels in
the definitions snapshot (``AssetSnap.automation_condition``); the location's daemon evaluates
it every tick over *sets* of partition keys (``rivers.automation.evaluation``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from rivers.errors import DefinitionError
from rivers.partitions.cron import parse_cron
from rivers.partitions.errors import PartitionError

if TYPE_CHECKING:
    from rivers._proto.rivers.v1 import definitions_pb2

__all__ = [
    "AndCondition",
    "AnyCondition",
    "AutomationCondition",
    "CronCondition",
    "LeafCondition",
    "NewlyTrueCondition",
    "NotCondition",
    "OrCondition",
    "SinceCondition",
    "TimeWindowCondition",
]

_FROZEN = ConfigDict(frozen=True, extra="forbid")

LeafKind = Literal[
    "missing",
    "in_progress",
    "execution_failed",
    "newly_updated",
    "newly_requested",
    "initial_evaluation",
    "any_deps_updated",
    "any_deps_missing",
    "any_deps_in_progress",
]


def cron_problem(cron: object, timezone: object) -> str | None:
    """Why ``cron`` / ``timezone`` cannot be used by a cron condition (``None``: they can)."""
    if not isinstance(cron, str) or not cron.strip():
        return f"cron must be a cron expression string, not {cron!r}"
    try:
        parse_cron(cron)
    except PartitionError as exc:
        return f"invalid cron {cron!r}: {exc}"
    if not isinstance(timezone, str):
        return f"timezone must be an IANA zone name, not {timezone!r}"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {timezone!r}"
    return None


class AutomationCondition(BaseModel):
    """A condition under which the daemon requests an asset partition, built from parts.

    Build one with the static methods and combine them: ``a & b`` (both), ``a | b`` (either),
    ``~a`` (not), ``a.since(b)`` (``a`` became true more recently than ``b``),
    ``a.newly_true()`` (false on the previous tick, true now). Start from one of the composites:
    ``eager()``, ``on_cron(cron)`` or ``on_missing()``.

    Every node may carry a ``label``, shown in evaluation details.

    Example:
        >>> @rs.Asset(automation_condition=rs.AutomationCondition.on_cron("0 6 * * *"))
        ... def report(orders): ...
    """

    model_config = _FROZEN

    label: str | None = None

    # -- structure -----------------------------------------------------------------------------

    def operands(self) -> tuple[AnyCondition, ...]:
        """The operands of a combinator (``()`` for a leaf)."""
        return ()

    @property
    def node_kind(self) -> str:
        """The node's ``kind`` (``"and"``, ``"missing"`` ...)."""
        return str(getattr(self, "kind", ""))

    def with_label(self, label: str) -> AutomationCondition:
        """This condition with a name shown in evaluation details."""
        if not isinstance(label, str) or not label:
            raise DefinitionError(f"an automation condition label is a non-empty string: {label!r}")
        return self.model_copy(update={"label": label})

    def __str__(self) -> str:
        if self.label:
            return self.label
        return self._describe()

    def _describe(self) -> str:
        return f"{self.node_kind}()"

    # -- operators -----------------------------------------------------------------------------

    def __and__(self, other: object) -> AutomationCondition:
        other = _check_operand(other, "&")
        return AndCondition(children=(*_flatten(self, "and"), *_flatten(other, "and")))

    def __or__(self, other: object) -> AutomationCondition:
        other = _check_operand(other, "|")
        return OrCondition(children=(*_flatten(self, "or"), *_flatten(other, "or")))

    def __invert__(self) -> AutomationCondition:
        return NotCondition(children=(_as_any(self),))

    def since(self, reset: AutomationCondition) -> AutomationCondition:
        """True once this condition has been true, until ``reset`` becomes true.

        On a tick where both are true, ``reset`` wins.
        """
        reset = _check_operand(reset, "since")
        return SinceCondition(children=(_as_any(self), _as_any(reset)))

    def since_last_handled(self) -> AutomationCondition:
        """True once this condition has been true, until the partition is requested or updated.

        The first evaluation also counts as handled, so what was already true when the
        condition was first evaluated does not trigger a request.
        """
        handled = (
            AutomationCondition.newly_requested()
            | AutomationCondition.newly_updated()
            | AutomationCondition.initial_evaluation()
        ).with_label("handled")
        return self.since(handled)

    def newly_true(self) -> AutomationCondition:
        """True for partitions where this condition was false on the previous tick."""
        return NewlyTrueCondition(children=(_as_any(self),))

    # -- leaves --------------------------------------------------------------------------------

    @staticmethod
    def missing() -> AutomationCondition:
        """The partition has never been materialized."""
        return LeafCondition(kind="missing")

    @staticmethod
    def newly_missing() -> AutomationCondition:
        """The partition became missing since the previous tick (e.g. a new time window)."""
        return AutomationCondition.missing().newly_true().with_label("newly_missing")

    @staticmethod
    def in_progress() -> AutomationCondition:
        """The partition is targeted by a queued or running run."""
        return LeafCondition(kind="in_progress")

    @staticmethod
    def execution_failed() -> AutomationCondition:
        """The latest attempt to materialize the partition failed."""
        return LeafCondition(kind="execution_failed")

    @staticmethod
    def newly_updated() -> AutomationCondition:
        """The partition was materialized since the previous tick."""
        return LeafCondition(kind="newly_updated")

    @staticmethod
    def newly_requested() -> AutomationCondition:
        """The partition was requested by this condition on the previous tick."""
        return LeafCondition(kind="newly_requested")

    @staticmethod
    def initial_evaluation() -> AutomationCondition:
        """This is the first evaluation of the asset's condition (or of a changed condition)."""
        return LeafCondition(kind="initial_evaluation")

    @staticmethod
    def any_deps_updated() -> AutomationCondition:
        """A mapped upstream partition was updated since the previous tick (or is requested now).

        A dependency requested on the same tick counts, so dependents join its run.
        """
        return LeafCondition(kind="any_deps_updated")

    @staticmethod
    def any_deps_missing() -> AutomationCondition:
        """A mapped upstream partition is missing and not requested on this tick."""
        return LeafCondition(kind="any_deps_missing")

    @staticmethod
    def any_deps_in_progress() -> AutomationCondition:
        """A mapped upstream partition is targeted by a queued or running run."""
        return LeafCondition(kind="any_deps_in_progress")

    @staticmethod
    def in_latest_time_window(lookback: timedelta | float | None = None) -> AutomationCondition:
        """The partition's time window is the latest complete one.

        Always true when the asset is not partitioned by time.

        Args:
            lookback: also accept windows ending within this span (a ``timedelta`` or
                seconds) before the end of the latest window.
        """
        if lookback is None:
            return TimeWindowCondition()
        seconds = lookback.total_seconds() if isinstance(lookback, timedelta) else lookback
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
            raise DefinitionError(
                f"in_latest_time_window(lookback=...) takes a positive timedelta or number of "
                f"seconds, not {lookback!r}"
            )
        return TimeWindowCondition(lookback_seconds=float(seconds))

    @staticmethod
    def cron_tick_passed(cron: str, timezone: str = "UTC") -> AutomationCondition:
        """A tick of ``cron`` (read in ``timezone``) passed since the previous evaluation.

        Raises:
            DefinitionError: the cron expression or the time zone is invalid.
        """
        return _cron("cron_tick_passed", cron, timezone)

    @staticmethod
    def all_deps_updated_since_cron(cron: str, timezone: str = "UTC") -> AutomationCondition:
        """Every dependency has a mapped partition updated since the latest tick of ``cron``.

        A dependency requested on the same tick counts as updated.

        Raises:
            DefinitionError: the cron expression or the time zone is invalid.
        """
        return _cron("all_deps_updated_since_cron", cron, timezone)

    # -- composites ----------------------------------------------------------------------------

    @staticmethod
    def eager() -> AutomationCondition:
        """Request the latest partition when it becomes missing or a dependency updates.

        Never while a dependency is missing or in progress, nor while the partition is in
        progress; what was already true at the first evaluation does not count.
        """
        return (
            AutomationCondition.in_latest_time_window()
            & (
                AutomationCondition.newly_missing() | AutomationCondition.any_deps_updated()
            ).since_last_handled()
            & ~AutomationCondition.any_deps_missing()
            & ~AutomationCondition.any_deps_in_progress()
            & ~AutomationCondition.in_progress()
        ).with_label("eager")

    @staticmethod
    def on_cron(cron: str, timezone: str = "UTC") -> AutomationCondition:
        """Request the latest partition once per tick of ``cron``, once dependencies updated.

        After each tick the asset waits until every dependency has updated since that tick,
        then is requested once.

        Raises:
            DefinitionError: the cron expression or the time zone is invalid.
        """
        problem = cron_problem(cron, timezone)
        if problem is not None:
            raise DefinitionError(f"AutomationCondition.on_cron: {problem}")
        return (
            AutomationCondition.in_latest_time_window()
            & AutomationCondition.cron_tick_passed(cron, timezone).since_last_handled()
            & AutomationCondition.all_deps_updated_since_cron(cron, timezone)
        ).with_label(f"on_cron({cron}, {timezone})")

    @staticmethod
    def on_missing() -> AutomationCondition:
        """Request latest partitions that become missing after the first evaluation.

        Only once their dependencies are present and not in progress.
        """
        return (
            AutomationCondition.in_latest_time_window()
            & AutomationCondition.newly_missing().since_last_handled()
            & ~AutomationCondition.any_deps_missing()
            & ~AutomationCondition.any_deps_in_progress()
            & ~AutomationCondition.in_progress()
        ).with_label("on_missing")

    # -- wire ----------------------------------------------------------------------------------

    def to_proto(self) -> definitions_pb2.AutomationConditionSnap:
        """Convert to the wire message (``rivers.v1.AutomationConditionSnap``)."""
        from rivers._convert.definitions import condition_to_proto

        return condition_to_proto(self)

    @staticmethod
    def from_proto(msg: definitions_pb2.AutomationConditionSnap) -> AutomationCondition:
        """Build from the wire message, validating it."""
        from rivers._convert.definitions import condition_from_proto

        return condition_from_proto(msg)

    @staticmethod
    def validate_tree(data: Any) -> AutomationCondition:
        """Build a condition from plain data (``model_dump()`` output or a model)."""
        result: AutomationCondition = _ADAPTER.validate_python(data)
        return result


class LeafCondition(AutomationCondition):
    """A fact about a partition or its dependencies (see the factories)."""

    kind: LeafKind


class TimeWindowCondition(AutomationCondition):
    """``in_latest_time_window``: the latest complete time window, optionally with lookback."""

    kind: Literal["in_latest_time_window"] = "in_latest_time_window"
    lookback_seconds: float | None = None

    @model_validator(mode="after")
    def _check(self) -> TimeWindowCondition:
        if self.lookback_seconds is not None and not self.lookback_seconds > 0:
            raise ValueError(f"lookback_seconds must be positive, not {self.lookback_seconds}")
        return self

    def _describe(self) -> str:
        if self.lookback_seconds is None:
            return "in_latest_time_window()"
        return f"in_latest_time_window({timedelta(seconds=self.lookback_seconds)})"


class CronCondition(AutomationCondition):
    """A condition on the ticks of a cron schedule read in a time zone."""

    kind: Literal["cron_tick_passed", "all_deps_updated_since_cron"]
    cron: str
    timezone: str = "UTC"

    @model_validator(mode="after")
    def _check(self) -> CronCondition:
        problem = cron_problem(self.cron, self.timezone)
        if problem is not None:
            raise ValueError(f"{self.kind}: {problem}")
        return self

    def _describe(self) -> str:
        return f"{self.kind}({self.cron!r}, {self.timezone!r})"


class _Combinator(AutomationCondition):
    """A node with operands; subclasses fix their arity."""

    children: tuple[AnyCondition, ...]
    ARITY: ClassVar[tuple[int, int | None]] = (1, None)

    def operands(self) -> tuple[AnyCondition, ...]:
        """The operands."""
        return self.children

    @model_validator(mode="after")
    def _check_arity(self) -> _Combinator:
        low, high = self.ARITY
        n = len(self.children)
        if n < low or (high is not None and n > high):
            expected = f"{low}" if high == low else f"at least {low}"
            raise ValueError(f"{self.node_kind} takes {expected} operand(s), got {n}")
        return self


class AndCondition(_Combinator):
    """True where every operand is true (``a & b``)."""

    kind: Literal["and"] = "and"

    def _describe(self) -> str:
        return "(" + " & ".join(map(str, self.children)) + ")"


class OrCondition(_Combinator):
    """True where any operand is true (``a | b``)."""

    kind: Literal["or"] = "or"

    def _describe(self) -> str:
        return "(" + " | ".join(map(str, self.children)) + ")"


class NotCondition(_Combinator):
    """True where the operand is false (``~a``)."""

    kind: Literal["not"] = "not"
    ARITY = (1, 1)

    def _describe(self) -> str:
        return f"~{self.children[0]}"


class SinceCondition(_Combinator):
    """True once the first operand was true, until the second (the reset) is true."""

    kind: Literal["since"] = "since"
    ARITY = (2, 2)

    def _describe(self) -> str:
        return f"{self.children[0]}.since({self.children[1]})"


class NewlyTrueCondition(_Combinator):
    """True where the operand is true now and was false on the previous tick."""

    kind: Literal["newly_true"] = "newly_true"
    ARITY = (1, 1)

    def _describe(self) -> str:
        return f"{self.children[0]}.newly_true()"


AnyCondition: TypeAlias = Annotated[
    LeafCondition
    | TimeWindowCondition
    | CronCondition
    | AndCondition
    | OrCondition
    | NotCondition
    | SinceCondition
    | NewlyTrueCondition,
    Field(discriminator="kind"),
]
"""Any concrete condition node (the field type to use in models)."""

for _model in (AndCondition, OrCondition, NotCondition, SinceCondition, NewlyTrueCondition):
    _model.model_rebuild()
_ADAPTER: TypeAdapter[AnyCondition] = TypeAdapter(AnyCondition)


def _as_any(condition: AutomationCondition) -> AnyCondition:
    if isinstance(
        condition,
        LeafCondition
        | TimeWindowCondition
        | CronCondition
        | AndCondition
        | OrCondition
        | NotCondition
        | SinceCondition
        | NewlyTrueCondition,
    ):
        return condition
    raise DefinitionError(f"{condition!r} is not a concrete automation condition")


def _check_operand(other: object, op: str) -> AutomationCondition:
    if not isinstance(other, AutomationCondition):
        raise DefinitionError(
            f"automation conditions combine with {op} only with other rs.AutomationCondition "
            f"objects, not {other!r}"
        )
    return other


def _flatten(condition: AutomationCondition, kind: str) -> tuple[AnyCondition, ...]:
    # Unlabelled chains of one operator become one node (a & b & c); a label keeps its node.
    if condition.node_kind == kind and condition.label is None:
        return condition.operands()
    return (_as_any(condition),)


def _cron(
    kind: Literal["cron_tick_passed", "all_deps_updated_since_cron"], cron: str, tz: str
) -> CronCondition:
    problem = cron_problem(cron, tz)
    if problem is not None:
        raise DefinitionError(f"AutomationCondition.{kind}: {problem}")
    return CronCondition(kind=kind, cron=cron.strip(), timezone=tz)
