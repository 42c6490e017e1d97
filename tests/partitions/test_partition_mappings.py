"""PartitionMapping: upstream/downstream keys, defaults and validation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

import rivers as rs
from rivers.partitions import (
    PartitionError,
    PartitionKey,
    PartitionKeyRange,
    PartitionKeys,
    PartitionMapping,
    PartitionsDefinition,
    default_partition_mapping,
)

P = PartitionsDefinition
M = PartitionMapping
NOW = datetime(2024, 6, 1, tzinfo=UTC)
DAILY = P.daily(start="2024-01-01")
HOURLY = P.hourly(start="2024-01-01")
REGIONS = P.static_(["us", "eu", "ap"])
TIERS = P.static_(["free", "pro"])
DATE_REGION = P.multi({"date": DAILY, "region": REGIONS})
HOUR_REGION = P.multi({"date": HOURLY, "region": REGIONS})
DATE_REGION_TIER = P.multi({"date": DAILY, "region": REGIONS, "tier": TIERS})


def up(
    mapping: PartitionMapping,
    down_def: PartitionsDefinition,
    spec: Any,
    up_def: PartitionsDefinition,
) -> list[str]:
    keys = down_def.resolve(spec, now=NOW)
    return list(mapping.upstream_keys(keys, up_def, now=NOW))


def test_identity() -> None:
    """identity() reads the same key; keys missing upstream are dropped."""
    assert up(M.identity(), DAILY, "2024-01-10", DAILY) == ["2024-01-10"]
    fewer = P.static_(["us", "eu"])
    assert up(M.identity(), REGIONS, ["us", "ap"], fewer) == ["us"]
    assert up(M.identity(), DATE_REGION, "2024-01-02|eu", DATE_REGION) == ["2024-01-02|eu"]


def test_time_window_offsets_count_downstream_partitions() -> None:
    """offset=-1 reads the previous day; start/end offsets widen the range (same cadence)."""
    assert up(M.time_window(offset=-1), DAILY, "2024-01-10", DAILY) == ["2024-01-09"]
    assert up(M.time_window(start_offset=-1, end_offset=0), DAILY, "2024-01-10", DAILY) == [
        "2024-01-09",
        "2024-01-10",
    ]
    assert up(M.time_window(), DAILY, "2024-01-10", DAILY) == ["2024-01-10"]
    assert up(M.time_window(offset=2), DAILY, "2024-01-10", DAILY) == ["2024-01-12"]
    days = PartitionKeyRange.single("2024-01-03", "2024-01-05")
    assert up(M.time_window(start_offset=-2, end_offset=0), DAILY, days, DAILY) == [
        "2024-01-01",
        "2024-01-02",
        "2024-01-03",
        "2024-01-04",
        "2024-01-05",
    ]


def test_time_window_clips_at_the_first_and_last_upstream_partition() -> None:
    """An offset before the first upstream partition gives fewer (or no) keys, not an error."""
    assert up(M.time_window(offset=-1), DAILY, "2024-01-01", DAILY) == []
    first_days = PartitionKeyRange.single("2024-01-01", "2024-01-03")
    assert up(M.time_window(offset=-1), DAILY, first_days, DAILY) == ["2024-01-01", "2024-01-02"]
    ahead = P.daily(start="2024-01-01", end_offset=1)
    assert up(M.time_window(), ahead, "2024-06-01", DAILY) == []
    later = P.daily(start="2024-01-05")
    assert up(M.time_window(), DAILY, ["2024-01-04", "2024-01-05"], later) == ["2024-01-05"]


def test_time_window_across_granularities() -> None:
    """Daily reads the 24 hours of its day; hourly reads the day containing it."""
    hours = up(M.time_window(), DAILY, "2024-01-10", HOURLY)
    assert hours == [f"2024-01-10-{h:02d}:00" for h in range(24)]
    assert up(M.time_window(), HOURLY, "2024-01-10-05:00", DAILY) == ["2024-01-10"]
    hours_2_days = PartitionKeyRange.single("2024-01-10-22:00", "2024-01-11-01:00")
    assert up(M.time_window(), HOURLY, hours_2_days, DAILY) == ["2024-01-10", "2024-01-11"]
    monthly = P.monthly(start="2024-01-01")
    assert len(up(M.time_window(), monthly, "2024-02-01", DAILY)) == 29


def test_time_window_offsets_across_granularities_shift_the_downstream_window() -> None:
    """offset=-1 means the previous downstream period whatever the upstream cadence."""
    yesterday = up(M.time_window(offset=-1), DAILY, "2024-01-10", HOURLY)
    assert yesterday == [f"2024-01-09-{h:02d}:00" for h in range(24)]
    assert up(M.time_window(offset=-1), HOURLY, "2024-01-10-05:00", DAILY) == ["2024-01-10"]
    assert up(M.time_window(offset=-1), HOURLY, "2024-01-10-00:00", DAILY) == ["2024-01-09"]
    monthly = P.monthly(start="2024-01-01")
    last_month = up(M.time_window(offset=-1), monthly, "2024-03-01", DAILY)
    assert (len(last_month), last_month[0], last_month[-1]) == (29, "2024-02-01", "2024-02-29")


def test_time_window_in_other_zones() -> None:
    """Windows compare in absolute time: a Paris day overlaps two UTC days."""
    paris = P.daily(start="2024-01-01", timezone="Europe/Paris")
    assert up(M.time_window(), paris, "2024-01-10", DAILY) == ["2024-01-09", "2024-01-10"]


def test_time_window_projects_a_multi_downstream_onto_its_time_dimension() -> None:
    """A multi downstream with one time dimension maps that dimension to a time upstream."""
    keys = up(M.time_window(offset=-1), DATE_REGION, "2024-01-10|eu", DAILY)
    assert keys == ["2024-01-09"]
    everyone = up(M.time_window(offset=-1), DAILY, "2024-01-10", DATE_REGION)
    assert everyone == ["2024-01-09|us", "2024-01-09|eu", "2024-01-09|ap"]


def test_for_keys_always_reads_those_keys() -> None:
    """for_keys() reads fixed upstream keys whatever the downstream key; missing ones drop."""
    mapping = M.for_keys([PartitionKey.single("eu"), "us"])
    assert up(mapping, DAILY, "2024-01-10", REGIONS) == ["us", "eu"]
    assert list(mapping.upstream_keys(None, REGIONS)) == ["us", "eu"]
    future = M.for_keys(["2024-01-02", "2030-01-01"])
    assert up(future, REGIONS, "us", DAILY) == ["2024-01-02"]
    multi = M.for_keys([PartitionKey.multi({"date": "2024-01-02", "region": ["us", "ap"]})])
    assert up(multi, DAILY, "2024-01-10", DATE_REGION) == ["2024-01-02|us", "2024-01-02|ap"]


def test_subset_both_directions() -> None:
    """subset(): a multi key reads the upstream key with its value; a single key reads them all."""
    assert up(M.subset(), DATE_REGION, "2024-01-15|us", DAILY) == ["2024-01-15"]
    assert up(M.subset(), DATE_REGION, "2024-01-15|ap", REGIONS) == ["ap"]
    assert up(M.subset(), DAILY, "2024-01-15", DATE_REGION) == [
        "2024-01-15|us",
        "2024-01-15|eu",
        "2024-01-15|ap",
    ]
    assert up(M.subset(), DATE_REGION_TIER, "2024-01-15|eu|pro", DATE_REGION) == ["2024-01-15|eu"]
    assert up(M.subset(), DATE_REGION, "2024-01-15|eu", DATE_REGION_TIER) == [
        "2024-01-15|eu|free",
        "2024-01-15|eu|pro",
    ]
    twins = P.multi({"a": REGIONS, "b": REGIONS})
    with pytest.raises(PartitionError, match=r"dimension=\.\.\."):
        up(M.subset(), twins, "us|eu", REGIONS)
    assert up(M.subset(dimension="b"), twins, "us|eu", REGIONS) == ["eu"]


def test_all_and_last() -> None:
    """all() reads every upstream key, last() the last one; both work for unpartitioned."""
    now = datetime(2024, 1, 4, tzinfo=UTC)
    assert list(M.all().upstream_keys(REGIONS.resolve("us"), DAILY, now=now)) == [
        "2024-01-01",
        "2024-01-02",
        "2024-01-03",
    ]
    assert list(M.all().upstream_keys(None, REGIONS)) == ["us", "eu", "ap"]
    assert list(M.last().upstream_keys(None, DAILY, now=now)) == ["2024-01-03"]
    assert list(M.last().upstream_keys(REGIONS.resolve("us"), DATE_REGION, now=now)) == [
        "2024-01-03|ap"
    ]
    empty = DAILY.get_partition_keys(now=now)[:0]
    assert list(M.all().upstream_keys(empty, REGIONS)) == []
    assert list(M.last().upstream_keys(None, DAILY, now=datetime(2023, 1, 1, tzinfo=UTC))) == []


def test_multi_per_dimension_mappings() -> None:
    """multi() applies per-dimension mappings; unlisted dimensions use identity()."""
    yesterday = M.multi({"date": M.time_window(offset=-1)})
    assert up(yesterday, DATE_REGION, "2024-01-15|eu", DATE_REGION) == ["2024-01-14|eu"]
    us_only = M.multi({"region": M.for_keys(["us"])})
    assert up(us_only, DATE_REGION, "2024-01-15|eu", DATE_REGION) == ["2024-01-15|us"]
    hours = up(M.multi({"date": M.time_window()}), DATE_REGION, "2024-01-15|eu", HOUR_REGION)
    assert len(hours) == 24 and hours[0] == "2024-01-15-00:00|eu"
    with pytest.raises(PartitionError, match="cannot use subset"):
        M.multi({"date": M.subset()})


def test_mapping_a_non_product_view_equals_the_union_per_key() -> None:
    """Mapping a strided or sliced multi selection equals mapping key by key."""
    keys = DATE_REGION.get_partition_keys(now=datetime(2024, 1, 20, tzinfo=UTC))
    views = [keys[2:17], keys[5:40:4], keys[30:3:-7]]
    mappings = [M.multi({"date": M.time_window(offset=-1)}), M.identity(), M.subset()]
    targets = [DATE_REGION, DATE_REGION, DAILY]
    for mapping, target in zip(mappings, targets, strict=True):
        for view in views:
            mapped = mapping.upstream_keys(view, target, now=NOW)
            per_key = {
                k
                for key in view
                for k in mapping.upstream_keys(
                    view.definition.resolve(key, now=NOW), target, now=NOW
                )
            }
            assert set(mapped) == per_key and len(mapped) == len(per_key)


@pytest.mark.parametrize(
    ("mapping", "down_def", "up_def"),
    [
        (M.identity(), DAILY, DAILY),
        (M.time_window(offset=-1), DAILY, DAILY),
        (M.time_window(start_offset=-2, end_offset=1), DAILY, HOURLY),
        (M.time_window(offset=-1), HOURLY, DAILY),
        (M.subset(), DATE_REGION, DAILY),
        (M.subset(), DAILY, DATE_REGION),
        (M.subset(), DATE_REGION_TIER, DATE_REGION),
        (M.multi({"date": M.time_window(offset=-1)}), DATE_REGION, DATE_REGION),
        (M.all(), REGIONS, DAILY),
        (M.last(), REGIONS, DAILY),
        (M.for_keys(["eu"]), DAILY, REGIONS),
    ],
)
def test_downstream_keys_invert_upstream_keys(
    mapping: PartitionMapping, down_def: P, up_def: P
) -> None:
    """A downstream key is in downstream_keys(U) exactly when its upstream keys meet U."""
    now = datetime(2024, 1, 8, tzinfo=UTC)
    downstream = down_def.get_partition_keys(now=now)
    upstream = up_def.get_partition_keys(now=now)
    for chosen in (
        upstream[len(upstream) // 2 : len(upstream) // 2 + 1],
        upstream[-3:],
        upstream[:2],
    ):
        found = set(mapping.downstream_keys(chosen, down_def, now=now))
        wanted = {
            key
            for key in downstream
            if set(mapping.upstream_keys(down_def.resolve(key, now=now), up_def, now=now))
            & set(chosen)
        }
        assert found == wanted


def test_plain_key_lists_are_read_in_the_other_definition() -> None:
    """A list of key strings is read in downstream_def, by default the upstream definition."""
    assert list(M.time_window(offset=-1).upstream_keys(["2024-01-10"], DAILY, now=NOW)) == [
        "2024-01-09"
    ]
    hours = M.time_window().upstream_keys(
        ["2024-01-10-05:00"], DAILY, downstream_def=HOURLY, now=NOW
    )
    assert list(hours) == ["2024-01-10"]
    assert list(M.time_window(offset=-1).downstream_keys(["2024-01-09"], DAILY, now=NOW)) == [
        "2024-01-10"
    ]


def test_all_last_and_for_keys_ignore_what_downstream_keys_are() -> None:
    """all(), last() and for_keys() only need to know whether there are downstream keys."""
    assert list(M.last().upstream_keys(["anything"], REGIONS)) == ["ap"]
    assert list(M.all().upstream_keys([], REGIONS)) == []
    assert list(M.for_keys(["eu"]).upstream_keys(["x", "y"], REGIONS)) == ["eu"]


def test_dynamic_upstream_needs_storage(storage: rs.Storage) -> None:
    """Mapping to dynamic partitions reads their keys from storage."""
    customers = P.dynamic("customers")
    storage.add_dynamic_partitions("customers", ["acme", "globex"])
    keys = customers.resolve("acme", storage)
    assert list(M.identity().upstream_keys(keys, customers, storage=storage)) == ["acme"]
    assert list(M.all().upstream_keys(None, customers, storage=storage)) == ["acme", "globex"]
    with pytest.raises(PartitionError, match="needs storage"):
        M.all().upstream_keys(None, customers)


@pytest.mark.parametrize(
    ("up_def", "down_def", "expected"),
    [
        (None, DAILY, None),
        (DAILY, None, M.all()),
        (DAILY, DAILY, M.identity()),
        (REGIONS, P.static_(["us", "eu", "ap"]), M.identity()),
        (P.dynamic("c"), P.dynamic("c"), M.identity()),
        (HOURLY, DAILY, M.time_window()),
        (DAILY, P.daily(start="2023-01-01", timezone="Europe/Paris"), M.time_window()),
        (DAILY, DATE_REGION, M.subset()),
        (DATE_REGION, REGIONS, M.subset()),
        (DATE_REGION, DATE_REGION, M.identity()),
        (HOUR_REGION, DATE_REGION, M.multi({"date": M.time_window()})),
    ],
)
def test_default_mappings(
    up_def: PartitionsDefinition | None,
    down_def: PartitionsDefinition | None,
    expected: PartitionMapping | None,
) -> None:
    """default_partition_mapping follows Dagster's defaults."""
    assert default_partition_mapping(up_def, down_def) == expected


@pytest.mark.parametrize(
    ("up_def", "down_def"),
    [
        (REGIONS, DAILY),
        (REGIONS, P.static_(["us"])),
        (P.dynamic("a"), P.dynamic("b")),
        (DATE_REGION, DATE_REGION_TIER),
        (P.multi({"date": DAILY, "tier": TIERS}), DATE_REGION),
        (HOURLY, DATE_REGION),
    ],
)
def test_no_default_mapping(up_def: PartitionsDefinition, down_def: PartitionsDefinition) -> None:
    """Unrelated definitions need an explicit mapping."""
    with pytest.raises(PartitionError, match="pass one"):
        default_partition_mapping(up_def, down_def)


@pytest.mark.parametrize(
    ("mapping", "up_def", "down_def", "message"),
    [
        (M.time_window(), REGIONS, TIERS, "time-window partitions"),
        (M.time_window(), REGIONS, DAILY, "time-window partitions"),
        (M.identity(), DATE_REGION, DAILY, "same dimensions"),
        (M.subset(), DAILY, HOURLY, "multi definition"),
        (
            M.subset(),
            P.multi({"a": REGIONS, "b": TIERS}),
            P.multi({"a": REGIONS, "c": TIERS}),
            "subset",
        ),
        (M.multi({"date": M.identity()}), DATE_REGION, DATE_REGION_TIER, "same dimensions"),
        (M.multi({"nope": M.identity()}), DATE_REGION, DATE_REGION, "unknown dimensions"),
        (M.for_keys(["mars"]), REGIONS, DAILY, "e.g. 'us'"),
        (M.for_keys(["2024/01/01"]), DAILY, DAILY, "e.g. '2024-01-01'"),
        (
            M.for_keys([PartitionKey.multi({"date": "2024-01-01"})]),
            DATE_REGION,
            DAILY,
            "dimensions",
        ),
        (M.identity(), None, DAILY, "partitioned upstream"),
        (M.identity(), DAILY, None, "partitioned downstream"),
        (M.time_window(), HOURLY, P.multi({"a": DAILY, "b": HOURLY}), "time dimension"),
    ],
)
def test_validate_rejects_mappings_that_cannot_apply(
    mapping: PartitionMapping, up_def: P | None, down_def: P | None, message: str
) -> None:
    """validate() raises a PartitionError saying why a mapping does not fit."""
    with pytest.raises(PartitionError, match=message):
        mapping.validate(up_def, down_def)


def test_validate_accepts_fitting_mappings() -> None:
    """validate() is silent for mappings that apply."""
    M.time_window(offset=-1).validate(HOURLY, DAILY)
    M.subset().validate(DAILY, DATE_REGION)
    M.all().validate(DAILY, None)
    M.last().validate(DATE_REGION, None)
    M.for_keys(["us"]).validate(REGIONS, DAILY)
    M.multi({"date": M.time_window(offset=-1)}).validate(HOUR_REGION, DATE_REGION)


def test_invalid_mapping_arguments() -> None:
    """Inverted offsets, empty key lists and misplaced fields are PartitionErrors."""
    with pytest.raises(PartitionError, match="after end_offset"):
        M.time_window(start_offset=1, end_offset=0)
    with pytest.raises(PartitionError, match="at least one key"):
        M.for_keys([])
    with pytest.raises(PartitionError, match="offsets"):
        M(kind="identity", start_offset=-1, end_offset=-1)
    with pytest.raises(PartitionError):
        M.multi({})


def test_mappings_round_trip_as_json() -> None:
    """Mappings are plain data: JSON round trips keep them equal."""
    for mapping in (
        M.time_window(start_offset=-2, end_offset=1),
        M.for_keys([PartitionKey.multi({"a": ["1", "2"], "b": "x"})]),
        M.multi({"date": M.time_window(offset=-1), "region": M.all()}),
        M.subset(dimension="b"),
    ):
        assert M.model_validate_json(mapping.model_dump_json()) == mapping


def test_upstream_keys_of_a_range_stay_lazy() -> None:
    """Mapping a long daily range returns a contiguous range without enumerating it."""
    long = DAILY.resolve(PartitionKeyRange.single("2024-01-02", "2024-05-30"), now=NOW)
    mapped = M.time_window(offset=-1).upstream_keys(long, DAILY, now=NOW)
    assert isinstance(mapped, PartitionKeys) and mapped.selections == (range(0, 150),)
