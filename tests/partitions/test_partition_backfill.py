"""BackfillStrategy: how backfills split partition keys into runs."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from rivers.partitions import (
    BackfillStrategy,
    PartitionError,
    PartitionKeyRange,
    PartitionKeys,
    PartitionsDefinition,
)

P = PartitionsDefinition
B = BackfillStrategy
NOW = datetime(2024, 1, 4, tzinfo=UTC)
DAILY = P.daily(start="2024-01-01")
DATE_REGION_TIER = P.multi(
    {"date": DAILY, "region": P.static_(["us", "eu"]), "tier": P.static_(["free", "pro"])}
)


def _runs(strategy: BackfillStrategy, keys: PartitionKeys) -> list[list[str]]:
    runs = list(strategy.chunks(keys))
    assert all(isinstance(run, PartitionKeys) for run in runs)
    assert strategy.run_count(keys) == len(runs)
    return [list(run) for run in runs]


def test_multi_run_makes_one_run_per_key() -> None:
    """multi_run(): one run per partition key, in definition order."""
    keys = DAILY.get_partition_keys(now=NOW)
    assert _runs(B.multi_run(), keys) == [["2024-01-01"], ["2024-01-02"], ["2024-01-03"]]


def test_single_run_makes_one_run_with_every_key() -> None:
    """single_run(): one run holding all keys (none for no keys)."""
    keys = DATE_REGION_TIER.get_partition_keys(now=NOW)
    runs = list(B.single_run().chunks(keys))
    assert len(runs) == 1 and runs[0] == keys and B.single_run().run_count(keys) == 1
    assert _runs(B.single_run(), keys[:0]) == [] and _runs(B.multi_run(), keys[:0]) == []


def test_per_dimension_iterates_and_batches() -> None:
    """per_dimension(): runs iterate multi_run dimensions; single_run ones are batched."""
    keys = DATE_REGION_TIER.resolve(
        PartitionKeyRange.multi({"date": ("2024-01-01", "2024-01-02")}), now=NOW
    )
    by_date = _runs(B.per_dimension(multi_run=["date"], single_run=["region", "tier"]), keys)
    assert by_date == [
        ["2024-01-01|us|free", "2024-01-01|us|pro", "2024-01-01|eu|free", "2024-01-01|eu|pro"],
        ["2024-01-02|us|free", "2024-01-02|us|pro", "2024-01-02|eu|free", "2024-01-02|eu|pro"],
    ]
    by_date_tier = _runs(B.per_dimension(multi_run=["tier", "date"], single_run=["region"]), keys)
    assert by_date_tier[0] == ["2024-01-01|us|free", "2024-01-01|eu|free"]
    assert len(by_date_tier) == 4 and all(len(run) == 2 for run in by_date_tier)
    everything = _runs(B.per_dimension(single_run=["date", "region", "tier"]), keys)
    assert everything == [list(keys)]
    one_each = _runs(B.per_dimension(multi_run=["date", "region", "tier"]), keys)
    assert one_each == [[k] for k in keys]


def test_per_dimension_on_a_sliced_selection_groups_its_keys() -> None:
    """A non-product selection still gives one run per value of the iterated dimensions."""
    keys = DATE_REGION_TIER.get_partition_keys(now=NOW)[3:9]
    strategy = B.per_dimension(multi_run=["date"], single_run=["region", "tier"])
    runs = _runs(strategy, keys)
    assert runs == [
        ["2024-01-01|eu|pro"],
        ["2024-01-02|us|free", "2024-01-02|us|pro", "2024-01-02|eu|free", "2024-01-02|eu|pro"],
        ["2024-01-03|us|free"],
    ]
    assert sorted(itertools.chain.from_iterable(runs)) == sorted(keys)


def test_per_dimension_run_count_is_arithmetic_for_products() -> None:
    """run_count of a product multiplies the iterated selections' sizes (no enumeration)."""
    big = P.multi(
        {"date": P.daily(start="2000-01-01"), "item": P.static_([f"i{i}" for i in range(50)])}
    )
    keys = big.get_partition_keys(now=NOW)
    strategy = B.per_dimension(multi_run=["date"], single_run=["item"])
    assert strategy.run_count(keys) == len(keys) // 50
    first = next(iter(strategy.chunks(keys)))
    assert len(first) == 50 and first[0] == "2000-01-01|i0"


@pytest.mark.parametrize(
    ("multi_run", "single_run", "message"),
    [
        (["date"], ["region"], "missing \\['tier'\\]"),
        (["date", "region", "tier", "x"], [], "unknown \\['x'\\]"),
    ],
)
def test_per_dimension_must_name_every_dimension_once(
    multi_run: list[str], single_run: list[str], message: str
) -> None:
    """Missing or unknown dimensions are PartitionErrors when chunking (and in validate)."""
    strategy = B.per_dimension(multi_run=multi_run, single_run=single_run)
    keys = DATE_REGION_TIER.get_partition_keys(now=NOW)
    with pytest.raises(PartitionError, match=message):
        list(strategy.chunks(keys))
    with pytest.raises(PartitionError, match=message):
        strategy.validate(DATE_REGION_TIER)


def test_per_dimension_arguments() -> None:
    """Repeated or no dimensions, and non-multi definitions, are rejected."""
    with pytest.raises(PartitionError, match="more than once"):
        B.per_dimension(multi_run=["date"], single_run=["date"])
    with pytest.raises(PartitionError, match="needs the dimensions"):
        B.per_dimension()
    with pytest.raises(PartitionError, match="list of dimension names"):
        B.per_dimension(multi_run="date")
    with pytest.raises(PartitionError, match="multi partitions"):
        B.per_dimension(multi_run=["date"]).validate(DAILY)
    B.multi_run().validate(DAILY)


def test_strategies_round_trip_as_json() -> None:
    """Strategies are plain data."""
    strategy = B.per_dimension(multi_run=["date"], single_run=["region", "tier"])
    assert B.model_validate_json(strategy.model_dump_json()) == strategy
