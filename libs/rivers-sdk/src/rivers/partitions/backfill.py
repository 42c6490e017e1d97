"""``rs.BackfillStrategy``: how a backfill groups partition keys into runs."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from rivers.partitions.errors import PartitionError
from rivers.partitions.selection import PartitionKeys

if TYPE_CHECKING:
    from rivers._proto.rivers.v1 import partitions_pb2
    from rivers.partitions.definition import PartitionsDefinition

__all__ = ["BackfillStrategy"]


def _names(values: Sequence[str], what: str) -> tuple[str, ...]:
    if isinstance(values, str) or not all(isinstance(v, str) and v for v in values):
        raise PartitionError(f"per_dimension({what}=...) takes a list of dimension names")
    return tuple(values)


class BackfillStrategy(BaseModel):
    """How a backfill turns partition keys into runs. Build one with a factory.

    Example:
        >>> s = BackfillStrategy.per_dimension(multi_run=["date"], single_run=["region"])
        >>> [list(run) for run in s.chunks(keys)]  # doctest: +SKIP
        [['2024-01-01|eu', '2024-01-01|us'], ['2024-01-02|eu', '2024-01-02|us']]
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    kind: Literal["multi_run", "single_run", "per_dimension"]
    multi_run_dimensions: tuple[str, ...] = ()
    single_run_dimensions: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> BackfillStrategy:
        named = (*self.multi_run_dimensions, *self.single_run_dimensions)
        if self.kind != "per_dimension" and named:
            raise PartitionError("only per_dimension() takes dimension names")
        if self.kind == "per_dimension":
            if not named:
                raise PartitionError("per_dimension() needs the dimensions to iterate or batch")
            repeated = sorted({n for n in named if named.count(n) > 1})
            if repeated:
                raise PartitionError(
                    f"per_dimension(): dimensions {repeated} are named more than once"
                )
        return self

    @staticmethod
    def multi_run() -> BackfillStrategy:
        """One run per partition key (the default)."""
        return BackfillStrategy(kind="multi_run")

    @staticmethod
    def single_run() -> BackfillStrategy:
        """One run for all keys: the step gets them all in ``context.partition.keys``."""
        return BackfillStrategy(kind="single_run")

    @staticmethod
    def per_dimension(
        multi_run: Sequence[str] = (), single_run: Sequence[str] = ()
    ) -> BackfillStrategy:
        """Runs iterate the ``multi_run`` dimensions; ``single_run`` ones are batched per run.

        Together the two lists must name every dimension of the multi definition exactly once.

        Example:
            >>> BackfillStrategy.per_dimension(multi_run=["date"], single_run=["region"]).kind
            'per_dimension'
        """
        return BackfillStrategy(
            kind="per_dimension",
            multi_run_dimensions=_names(multi_run, "multi_run"),
            single_run_dimensions=_names(single_run, "single_run"),
        )

    def to_proto(self) -> partitions_pb2.BackfillStrategy:
        """Convert to the wire message (``rivers.v1.BackfillStrategy``)."""
        from rivers._convert.partitions import backfill_to_proto

        return backfill_to_proto(self)

    @staticmethod
    def from_proto(msg: partitions_pb2.BackfillStrategy) -> BackfillStrategy:
        """Build from the wire message, validating it as the factories do."""
        from rivers._convert.partitions import backfill_from_proto

        return backfill_from_proto(msg)

    def validate(  # type: ignore[override]  # replaces pydantic's deprecated v1 classmethod
        self, definition: PartitionsDefinition
    ) -> None:
        """Raise PartitionError unless this strategy fits ``definition``."""
        if self.kind != "per_dimension":
            return
        if definition.kind != "multi":
            raise PartitionError("per_dimension() needs a multi partitions definition")
        named = {*self.multi_run_dimensions, *self.single_run_dimensions}
        names = set(definition.dimension_names)
        if named != names:
            missing, unknown = sorted(names - named), sorted(named - names)
            raise PartitionError(
                "per_dimension() must name every dimension of "
                f"{definition.dimension_names} exactly once"
                + (f"; missing {missing}" if missing else "")
                + (f"; unknown {unknown}" if unknown else "")
            )

    def _iterated(self, keys: PartitionKeys) -> list[int]:
        self.validate(keys.definition)
        names = keys.dimension_names
        return [names.index(n) for n in names if n in self.multi_run_dimensions]

    def run_count(self, keys: PartitionKeys) -> int:
        """How many runs :meth:`chunks` makes: O(1) except for non-product selections."""
        if not len(keys):
            return 0
        if self.kind == "multi_run":
            return len(keys)
        if self.kind == "single_run":
            return 1
        iterated = self._iterated(keys)
        if keys.is_product:
            return math.prod(len(keys.selections[d]) for d in iterated)
        return len({tuple(ix[d] for d in iterated) for ix in keys.axis_index_tuples()})

    def chunks(self, keys: PartitionKeys) -> Iterator[PartitionKeys]:
        """The keys of each run, lazily, in definition order.

        Example:
            >>> [len(c) for c in BackfillStrategy.single_run().chunks(keys)]  # doctest: +SKIP
            [31]
        """
        if not len(keys):
            return
        if self.kind == "single_run":
            yield keys
            return
        if self.kind == "multi_run":
            for i in range(len(keys)):
                yield keys[i : i + 1]
            return
        iterated = self._iterated(keys)
        if keys.is_product:
            sels = list(keys.selections)
            for combo in itertools.product(*(range(len(sels[d])) for d in iterated)):
                run = list(sels)
                for d, x in zip(iterated, combo, strict=True):
                    run[d] = sels[d][x : x + 1]
                yield PartitionKeys.product(keys.definition, keys.axes, run)
            return
        # A sliced or explicit view: group its keys by the iterated dimensions (O(n)).
        groups: dict[tuple[int, ...], list[tuple[int, ...]]] = {}
        for ix in keys.axis_index_tuples():
            groups.setdefault(tuple(ix[d] for d in iterated), []).append(ix)
        for combo in sorted(groups):
            yield PartitionKeys.from_axis_indices(keys.definition, keys.axes, groups[combo])
