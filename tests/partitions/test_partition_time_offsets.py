"""Time-window offsets count downstream partitions: a table checked against Dagster 1.13.

Every expected value below was produced by Dagster's ``TimeWindowPartitionMapping``
(``get_upstream_mapped_partitions_result_for_partitions`` / ``get_downstream_partitions_for_
partitions``) on the same definitions at the same ``now`` and written down literally, so the
suite needs no Dagster. Hourly keys in Europe/Paris carry the UTC offset here (Dagster omits
it); the windows are the same.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple

import pytest

from rivers.partitions import PartitionKeyRange, PartitionMapping, PartitionsDefinition

P = PartitionsDefinition
NOW = datetime(2024, 6, 1, tzinfo=UTC)
DAILY = P.daily(start="2024-01-01")
HOURLY = P.hourly(start="2024-01-01")
WEEKLY = P.weekly(start="2024-01-01")  # Sundays, from 2024-01-07
MONTHLY = P.monthly(start="2024-01-01")
PARIS_DAILY = P.daily(start="2024-01-01", timezone="Europe/Paris")
PARIS_HOURLY = P.hourly(start="2024-01-01", timezone="Europe/Paris")
R = PartitionKeyRange.single


class Span(NamedTuple):
    """The ``size`` consecutive keys from ``first`` to ``last`` (long results, written short)."""

    first: str
    last: str
    size: int


Expected = list[str] | Span


def _check(got: list[str], expected: Expected, definition: PartitionsDefinition) -> None:
    if isinstance(expected, list):
        assert got == expected
        return
    assert len(got) == expected.size
    assert got == list(definition.resolve(R(expected.first, expected.last), now=NOW))


UPSTREAM = [
    # daily reads hourly: whole days of hours
    (DAILY, HOURLY, -1, -1, "2024-01-10", Span("2024-01-09-00:00", "2024-01-09-23:00", 24)),
    (DAILY, HOURLY, -2, -2, "2024-01-10", Span("2024-01-08-00:00", "2024-01-08-23:00", 24)),
    (DAILY, HOURLY, 1, 1, "2024-01-10", Span("2024-01-11-00:00", "2024-01-11-23:00", 24)),
    (DAILY, HOURLY, -1, 0, "2024-01-10", Span("2024-01-09-00:00", "2024-01-10-23:00", 48)),
    (DAILY, HOURLY, 0, 0, "2024-01-10", Span("2024-01-10-00:00", "2024-01-10-23:00", 24)),
    (
        DAILY,
        HOURLY,
        -1,
        -1,
        R("2024-01-31", "2024-02-01"),
        Span("2024-01-30-00:00", "2024-01-31-23:00", 48),
    ),
    (DAILY, HOURLY, -1, -1, "2024-01-01", []),
    # hourly reads daily: the day containing the shifted hour
    (HOURLY, DAILY, -1, -1, "2024-01-10-00:00", ["2024-01-09"]),
    (HOURLY, DAILY, -1, -1, "2024-01-10-05:00", ["2024-01-10"]),
    (HOURLY, DAILY, 1, 1, "2024-01-10-23:00", ["2024-01-11"]),
    (HOURLY, DAILY, -2, -2, "2024-01-10-01:00", ["2024-01-09"]),
    (HOURLY, DAILY, -1, 0, "2024-01-10-00:00", ["2024-01-09", "2024-01-10"]),
    (
        HOURLY,
        DAILY,
        -1,
        -1,
        R("2024-01-31-22:00", "2024-02-01-01:00"),
        ["2024-01-31", "2024-02-01"],
    ),
    # same cadence: shifted keys, clipped to the existing ones
    (DAILY, DAILY, -1, -1, "2024-01-10", ["2024-01-09"]),
    (DAILY, DAILY, -2, -2, "2024-01-10", ["2024-01-08"]),
    (DAILY, DAILY, 1, 1, "2024-01-10", ["2024-01-11"]),
    (DAILY, DAILY, -1, 0, "2024-01-10", ["2024-01-09", "2024-01-10"]),
    (DAILY, DAILY, 0, 1, "2024-01-10", ["2024-01-10", "2024-01-11"]),
    (DAILY, DAILY, -2, 1, "2024-01-10", ["2024-01-08", "2024-01-09", "2024-01-10", "2024-01-11"]),
    (DAILY, DAILY, -1, -1, R("2024-01-30", "2024-02-02"), Span("2024-01-29", "2024-02-01", 4)),
    (DAILY, DAILY, -1, -1, "2024-01-01", []),
    (DAILY, DAILY, -1, -1, R("2024-01-01", "2024-01-03"), ["2024-01-01", "2024-01-02"]),
    (DAILY, DAILY, 1, 1, "2024-05-31", []),
    # weekly / monthly read daily: whole previous (or next) periods, across month ends
    (WEEKLY, DAILY, -1, -1, "2024-01-14", Span("2024-01-07", "2024-01-13", 7)),
    (WEEKLY, DAILY, 1, 1, "2024-01-14", Span("2024-01-21", "2024-01-27", 7)),
    (WEEKLY, DAILY, -1, 0, "2024-01-14", Span("2024-01-07", "2024-01-20", 14)),
    (WEEKLY, DAILY, -2, -2, "2024-01-28", Span("2024-01-14", "2024-01-20", 7)),
    (WEEKLY, DAILY, -1, -1, "2024-02-04", Span("2024-01-28", "2024-02-03", 7)),
    (WEEKLY, DAILY, 0, 0, "2024-01-28", Span("2024-01-28", "2024-02-03", 7)),
    (MONTHLY, DAILY, -1, -1, "2024-03-01", Span("2024-02-01", "2024-02-29", 29)),
    (MONTHLY, DAILY, -1, -1, "2024-02-01", Span("2024-01-01", "2024-01-31", 31)),
    (MONTHLY, DAILY, -1, 0, "2024-03-01", Span("2024-02-01", "2024-03-31", 60)),
    (MONTHLY, DAILY, 1, 1, "2024-03-01", Span("2024-04-01", "2024-04-30", 30)),
    (MONTHLY, DAILY, -2, -2, "2024-04-01", Span("2024-02-01", "2024-02-29", 29)),
    # coarser upstream: the period containing the shifted downstream window
    (DAILY, WEEKLY, -1, -1, "2024-01-15", ["2024-01-14"]),
    (DAILY, WEEKLY, -1, -1, "2024-01-14", ["2024-01-07"]),
    (DAILY, MONTHLY, -1, -1, "2024-03-01", ["2024-02-01"]),
    (DAILY, MONTHLY, -1, -1, "2024-03-02", ["2024-03-01"]),
    (MONTHLY, WEEKLY, -1, -1, "2024-03-01", Span("2024-01-28", "2024-02-25", 5)),
    (WEEKLY, MONTHLY, -1, -1, "2024-03-03", ["2024-02-01", "2024-03-01"]),
    # a 23-hour day when Paris moves to summer time
    (
        PARIS_DAILY,
        PARIS_HOURLY,
        -1,
        -1,
        "2024-04-01",
        Span("2024-03-31-00:00+0100", "2024-03-31-23:00+0200", 23),
    ),
    (
        PARIS_DAILY,
        PARIS_HOURLY,
        0,
        0,
        "2024-03-31",
        Span("2024-03-31-00:00+0100", "2024-03-31-23:00+0200", 23),
    ),
    (PARIS_HOURLY, PARIS_DAILY, -1, -1, "2024-03-31-03:00+0200", ["2024-03-31"]),
    (PARIS_DAILY, PARIS_DAILY, -1, 0, "2024-03-31", ["2024-03-30", "2024-03-31"]),
]


@pytest.mark.parametrize(("down_def", "up_def", "start", "end", "spec", "expected"), UPSTREAM)
def test_upstream_keys_match_dagster(
    down_def: P,
    up_def: P,
    start: int,
    end: int,
    spec: str | PartitionKeyRange,
    expected: Expected,
) -> None:
    """Offsets shift the downstream window by downstream partitions, as Dagster >= 1.7.4."""
    mapping = PartitionMapping.time_window(start_offset=start, end_offset=end)
    keys = down_def.resolve(spec, now=NOW)
    _check(list(mapping.upstream_keys(keys, up_def, now=NOW)), expected, up_def)


DOWNSTREAM = [
    (DAILY, HOURLY, -1, -1, "2024-01-09-12:00", ["2024-01-10"]),
    (DAILY, HOURLY, -1, 0, "2024-01-09-12:00", ["2024-01-09", "2024-01-10"]),
    (HOURLY, DAILY, -1, -1, "2024-01-09", Span("2024-01-09-01:00", "2024-01-10-00:00", 24)),
    (MONTHLY, DAILY, -1, -1, "2024-02-15", ["2024-03-01"]),
    (WEEKLY, DAILY, 1, 1, "2024-01-21", ["2024-01-14"]),
    (DAILY, MONTHLY, -1, -1, "2024-02-01", Span("2024-02-02", "2024-03-01", 29)),
    (DAILY, DAILY, -1, -1, "2024-01-09", ["2024-01-10"]),
    (DAILY, DAILY, -2, 1, "2024-01-09", ["2024-01-08", "2024-01-09", "2024-01-10", "2024-01-11"]),
    (MONTHLY, WEEKLY, -1, -1, "2024-01-28", ["2024-02-01", "2024-03-01"]),
]


@pytest.mark.parametrize(("down_def", "up_def", "start", "end", "key", "expected"), DOWNSTREAM)
def test_downstream_keys_match_dagster(
    down_def: P, up_def: P, start: int, end: int, key: str, expected: Expected
) -> None:
    """downstream_keys lists the downstream partitions whose shifted windows meet the key."""
    mapping = PartitionMapping.time_window(start_offset=start, end_offset=end)
    found = mapping.downstream_keys(up_def.resolve([key], now=NOW), down_def, now=NOW)
    _check(list(found), expected, down_def)


@pytest.mark.parametrize(
    ("down_def", "up_def", "start", "end"),
    [
        (WEEKLY, DAILY, -1, -1),
        (MONTHLY, DAILY, -1, 1),
        (HOURLY, DAILY, 1, 1),
        (DAILY, MONTHLY, -2, 0),
        (MONTHLY, WEEKLY, -1, 0),
    ],
)
def test_downstream_keys_invert_shifted_upstream_keys(
    down_def: P, up_def: P, start: int, end: int
) -> None:
    """Across cadences, downstream_keys(U) is exactly the keys whose upstream keys meet U."""
    now = datetime(2024, 3, 20, tzinfo=UTC)
    mapping = PartitionMapping.time_window(start_offset=start, end_offset=end)
    upstream = up_def.get_partition_keys(now=now)
    reads = {
        key: set(mapping.upstream_keys(down_def.resolve(key, now=now), up_def, now=now))
        for key in down_def.get_partition_keys(now=now)
    }
    for chosen in (upstream[:1], upstream[5:9], upstream[-2:], upstream[len(upstream) // 2 :: 7]):
        found = set(mapping.downstream_keys(chosen, down_def, now=now))
        assert found == {key for key, read in reads.items() if read & set(chosen)}


def test_a_thousand_day_mapping_stays_a_lazy_range() -> None:
    """Mapping 1,000 downstream days with an offset is O(1) and stays a range."""
    wide = P.daily(start="2000-01-01", end="2030-01-01")
    days = wide.resolve(R("2010-01-01", "2012-09-26"), now=NOW)
    mapped = PartitionMapping.time_window(offset=-1).upstream_keys(days, wide, now=NOW)
    assert len(days) == len(mapped) == 1000
    assert (mapped[0], mapped[-1]) == ("2009-12-31", "2012-09-25")
    assert isinstance(mapped.selections[0], range)
