"""PartitionsDefinition factories, validation, counting and (de)serialization."""

from __future__ import annotations

import pickle
import sys
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

import rivers as rs
from rivers.partitions import PartitionError, PartitionKey, PartitionsDefinition

P = PartitionsDefinition
NOW = datetime(2024, 6, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("definition", "fmt", "first_key"),
    [
        (P.daily(start="2024-01-01"), "%Y-%m-%d", "2024-01-01"),
        (P.hourly(start="2024-01-01"), "%Y-%m-%d-%H:%M", "2024-01-01-00:00"),
        (P.weekly(start="2024-01-01"), "%Y-%m-%d", "2024-01-07"),
        (P.monthly(start="2024-01-01"), "%Y-%m-%d", "2024-01-01"),
        (P.time_window(start="2024-01-01", cron_schedule="*/5 * * * *"), "%Y-%m-%d-%H:%M", None),
        (
            P.time_window(start="2024-01-01", cron_schedule="*/30 * * * * *"),
            "%Y-%m-%d-%H:%M:%S",
            "2024-01-01-00:00:00",
        ),
    ],
)
def test_factories_default_fmt(definition: P, fmt: str, first_key: str | None) -> None:
    """Every time factory gets Dagster's default key format for its cadence."""
    assert definition.kind == "time_window"
    assert definition.fmt == fmt
    if first_key is not None:
        assert definition.key_at(0, now=NOW) == first_key


def test_factories_build_the_expected_cron() -> None:
    """Offsets of the sugar factories become the cron schedule."""
    assert (
        P.daily(start="2024-01-01", hour_offset=6, minute_offset=30).cron_schedule == "30 6 * * *"
    )
    assert P.hourly(start="2024-01-01", minute_offset=15).cron_schedule == "15 * * * *"
    assert P.weekly(start="2024-01-01", day_offset=3, hour_offset=1).cron_schedule == "0 1 * * 3"
    assert P.monthly(start="2024-01-01", day_offset=5).cron_schedule == "0 0 5 * *"


@pytest.mark.parametrize(
    ("factory", "kwargs"),
    [
        (P.daily, {"hour_offset": 24}),
        (P.hourly, {"minute_offset": 60}),
        (P.weekly, {"day_offset": 7}),
        (P.monthly, {"day_offset": 29}),
        (P.monthly, {"day_offset": 0}),
        (P.daily, {"end_offset": -1}),
        (P.daily, {"timezone": "Mars/Olympus"}),
        (P.daily, {"end": "2023-01-01"}),
    ],
)
def test_invalid_time_arguments(factory: object, kwargs: dict[str, object]) -> None:
    """Out-of-range offsets, unknown zones and an end before the start are PartitionErrors."""
    with pytest.raises(PartitionError):
        factory(start="2024-01-01", **kwargs)  # type: ignore[operator]


def test_naive_start_is_in_the_timezone_and_aware_start_is_converted() -> None:
    """A naive start is local to `timezone`; an aware one is converted to it."""
    naive = P.daily(start=datetime(2024, 1, 1), timezone="Europe/Paris")
    assert naive.start == datetime(2023, 12, 31, 23, tzinfo=UTC)
    aware = P.daily(start=datetime(2024, 1, 1, tzinfo=UTC), timezone="Europe/Paris")
    # 01:00 Paris: the first whole local day is the 2nd.
    assert aware.key_at(0, now=NOW) == "2024-01-02"
    assert P.daily(start=date(2024, 1, 1)) == P.daily(start="2024-01-01")
    assert P.hourly(start="2024-01-01 05:30").key_at(0, now=NOW) == "2024-01-01-06:00"
    assert P.hourly(start="2024-01-01 05:00:00").key_at(0, now=NOW) == "2024-01-01-05:00"
    with pytest.raises(PartitionError, match="not a date"):
        P.daily(start="yesterday")


def test_end_none_counts_windows_ended_at_now() -> None:
    """Without an end, the last key is the last window fully ended at `now`."""
    daily = P.daily(start="2024-01-01")
    assert daily.count(now=datetime(2024, 1, 1, 23, 59, tzinfo=UTC)) == 0
    assert daily.count(now=datetime(2024, 1, 2, tzinfo=UTC)) == 1
    keys = daily.get_partition_keys(now=datetime(2024, 1, 11, 12, tzinfo=UTC))
    assert (len(keys), keys[-1]) == (10, "2024-01-10")
    assert daily.count(now=datetime(2023, 6, 1, tzinfo=UTC)) == 0


def test_end_is_exclusive_and_caps_the_count() -> None:
    """An end keeps windows ending at or before it, whatever `now` is after it."""
    daily = P.daily(start="2024-01-01", end="2024-01-05")
    assert list(daily.get_partition_keys(now=NOW)) == [
        "2024-01-01",
        "2024-01-02",
        "2024-01-03",
        "2024-01-04",
    ]
    assert daily.count(now=datetime(2024, 1, 3, tzinfo=UTC)) == 2


def test_end_offset_extends_into_the_future() -> None:
    """end_offset adds windows after the last ended one, but never past an end."""
    now = datetime(2024, 1, 10, 12, tzinfo=UTC)
    keys = P.daily(start="2024-01-01", end_offset=2).get_partition_keys(now=now)
    assert (len(keys), keys[-1]) == (11, "2024-01-11")
    capped = P.daily(start="2024-01-01", end="2024-01-11", end_offset=5)
    assert capped.count(now=now) == 10


def test_six_field_cron_has_leading_seconds() -> None:
    """A 6-field cron reads its first field as seconds."""
    every_30s = P.time_window(start="2024-01-01", cron_schedule="*/30 * * * * *")
    keys = every_30s.get_partition_keys(now=datetime(2024, 1, 1, 0, 2, tzinfo=UTC))
    assert list(keys) == [
        "2024-01-01-00:00:00",
        "2024-01-01-00:00:30",
        "2024-01-01-00:01:00",
        "2024-01-01-00:01:30",
    ]
    window = every_30s.time_window_for_key("2024-01-01-00:01:30")
    assert window.duration == timedelta(seconds=30)
    assert every_30s.count(now=datetime(2024, 1, 2, tzinfo=UTC)) == 2880


def test_cron_aliases_and_names() -> None:
    """@daily-style aliases and month/day names are understood."""
    assert P.time_window(start="2024-01-01", cron_schedule="@daily").fmt == "%Y-%m-%d"
    mondays = P.time_window(start="2024-01-01", cron_schedule="0 0 * * MON")
    assert mondays.key_at(1, now=NOW) == "2024-01-08"


@pytest.mark.parametrize("cron", ["* * *", "61 * * * *", "0 0 * * * * *", "nonsense x y z w", ""])
def test_invalid_cron(cron: str) -> None:
    """A malformed cron schedule is a PartitionError naming it."""
    with pytest.raises(PartitionError, match="cron"):
        P.time_window(start="2024-01-01", cron_schedule=cron)


def test_weekday_pattern_cron() -> None:
    """An irregular weekly cron (weekdays only) counts, indexes and parses keys."""
    weekdays = P.time_window(start="2024-01-01", cron_schedule="0 0 * * 1-5")
    now = datetime(2024, 1, 15, tzinfo=UTC)
    keys = weekdays.get_partition_keys(now=now)
    assert list(keys) == [f"2024-01-{d:02d}" for d in (1, 2, 3, 4, 5, 8, 9, 10, 11, 12)]
    assert weekdays.index_of("2024-01-08", now=now) == 5
    assert not weekdays.has_key("2024-01-06", now=now)
    assert weekdays.time_window_for_key("2024-01-05").duration == timedelta(days=3)


def test_business_hours_pattern_and_generic_crons() -> None:
    """Daily/weekly tick patterns are O(1); other crons are enumerated with croniter."""
    hours = P.time_window(start="2024-01-01", cron_schedule="0 9-17 * * 1-5")
    keys = hours.get_partition_keys(now=datetime(2024, 1, 9, tzinfo=UTC))
    assert (keys[0], keys[8], keys[9]) == (
        "2024-01-01-09:00",
        "2024-01-01-17:00",
        "2024-01-02-09:00",
    )
    assert (len(keys), keys[-1]) == (53, "2024-01-08-16:00")  # 17:00 ends Tuesday 09:00
    assert hours.time_window_for_key("2024-01-05-17:00").duration == timedelta(hours=64)
    twice = P.time_window(start="2024-01-01", cron_schedule="0 0 1,15 * *")
    assert list(twice.get_partition_keys(now=datetime(2024, 3, 2, tzinfo=UTC))) == [
        "2024-01-01",
        "2024-01-15",
        "2024-02-01",
        "2024-02-15",
    ]
    assert twice.index_of("2024-02-01", now=NOW) == 2
    last_day = P.time_window(start="2024-01-01", cron_schedule="0 0 L * *")
    assert last_day.key_at(1, now=NOW) == "2024-02-29"
    ny_hours = P.time_window(
        start="2024-11-02", cron_schedule="0 0,1,5 * * *", timezone="America/New_York"
    )
    ny_keys = list(ny_hours.get_partition_keys(now=datetime(2024, 11, 4, tzinfo=UTC)))
    assert len(ny_keys) == len(set(ny_keys)) and "2024-11-03-01:00-0500" in ny_keys


def test_cadence_names() -> None:
    """The cadence names regular time windows and shows other crons."""
    assert P.daily(start="2024-01-01").cadence == "daily"
    assert P.hourly(start="2024-01-01").cadence == "hourly"
    assert P.weekly(start="2024-01-01").cadence == "weekly"
    assert P.monthly(start="2024-01-01").cadence == "monthly"
    assert P.time_window(start="2024-01-01", cron_schedule="0 9 * * 1-5").cadence == (
        "cron '0 9 * * 1-5'"
    )
    assert P.static_(["a"]).cadence is None


def test_far_future_keys_of_a_generic_cron_are_rejected_quickly() -> None:
    """A far-future key never makes a generic cron enumerate ticks up to it."""
    twice = P.time_window(start="2024-01-01", cron_schedule="0 0 1,15 * *")
    assert not twice.has_key("9999-01-01", now=NOW)
    with pytest.raises(PartitionError, match="outside the existing keys"):
        twice.resolve("9999-01-01", now=NOW)


def test_fmt_must_distinguish_and_round_trip() -> None:
    """A custom fmt that repeats keys or cannot round-trip is rejected at definition time."""
    with pytest.raises(PartitionError, match="same key"):
        P.hourly(start="2024-01-01", fmt="%Y-%m-%d")
    with pytest.raises(PartitionError, match="'%z'"):
        P.hourly(start="2024-01-01", timezone="America/New_York", fmt="%Y-%m-%d-%H:%M")
    custom = P.daily(start="2024-01-01", fmt="%Y%m%d")
    assert custom.key_at(0, now=NOW) == "20240101"
    assert custom.index_of("20240103", now=NOW) == 2


def test_static_keys_validation() -> None:
    """Static keys must be unique, non-empty, without '|' or surrounding spaces."""
    assert P.static_(("us", "eu")).keys == ("us", "eu")
    for bad in ([], ["a", "a"], ["a|b"], [" a"], [""], "ab"):
        with pytest.raises(PartitionError):
            P.static_(bad)


def test_static_count_and_keys() -> None:
    """A static definition keeps its keys in the given order."""
    regions = P.static_(["us", "eu", "ap"])
    assert regions.count() == 3
    assert list(regions.get_partition_keys()) == ["us", "eu", "ap"]
    assert regions.index_of("eu") == 1 and regions.key_at(-1) == "ap"
    assert regions.has_key("ap") and not regions.has_key("mars")
    with pytest.raises(PartitionError, match="out of range"):
        regions.key_at(3)


def test_dynamic_needs_storage(storage: rs.Storage) -> None:
    """Dynamic keys come from storage; adding and removing keys changes the count."""
    customers = P.dynamic("customers")
    with pytest.raises(PartitionError, match="needs storage"):
        customers.count()
    with pytest.raises(PartitionError, match="needs storage"):
        customers.get_partition_keys()
    assert customers.count(storage) == 0
    storage.add_dynamic_partitions("customers", ["acme", "globex", "initech"])
    assert customers.count(storage) == 3
    assert list(customers.get_partition_keys(storage)) == ["acme", "globex", "initech"]
    assert customers.has_key("globex", storage) and customers.index_of("initech", storage) == 2
    storage.delete_dynamic_partitions("customers", ["globex"])
    assert customers.count(storage) == 2 and not customers.has_key("globex", storage)
    with pytest.raises(PartitionError, match=r"e\.g\. 'acme'"):
        customers.validate_key("globex", storage)
    with pytest.raises(PartitionError):
        P.dynamic("")


def test_multi_validation() -> None:
    """Multi needs >= 2 uniquely named, non-multi dimensions."""
    daily, regions = P.daily(start="2024-01-01"), P.static_(["us", "eu"])
    with pytest.raises(PartitionError, match="at least 2"):
        P.multi({"date": daily})
    nested = P.multi({"date": daily, "region": regions})
    with pytest.raises(PartitionError, match="do not nest"):
        P.multi({"inner": nested, "region": regions})
    with pytest.raises(PartitionError, match="dimension name"):
        P.multi({"a|b": daily, "region": regions})
    with pytest.raises(PartitionError):
        P.multi({"date": daily, "region": ["us"]})  # type: ignore[dict-item]


def test_multi_of_mixed_kinds_counts_in_o1(storage: rs.Storage) -> None:
    """Multi dims of all kinds (several time dims too) count as the product of their counts."""
    storage.add_dynamic_partitions("tenants", ["t1", "t2"])
    multi = P.multi(
        {
            "date": P.daily(start="2024-01-01"),
            "hour": P.hourly(start="2024-05-31"),
            "region": P.static_(["us", "eu", "ap"]),
            "tenant": P.dynamic("tenants"),
        }
    )
    assert multi.dimension_names == ("date", "hour", "region", "tenant")
    assert multi.count(storage, now=NOW) == 152 * 24 * 3 * 2
    assert list(multi.dimensions) == ["date", "hour", "region", "tenant"]
    assert multi.time_dimension is None
    with pytest.raises(PartitionError, match="needs storage"):
        multi.count(now=NOW)


def test_unrelated_fields_are_rejected() -> None:
    """A field of another kind is an error, so snapshots stay unambiguous."""
    with pytest.raises(PartitionError, match="'name' is not a field of static"):
        P(kind="static", keys=("a",), name="x")


@pytest.mark.parametrize(
    "definition",
    [
        P.static_(["us", "eu"]),
        P.dynamic("customers"),
        P.daily(start="2024-01-01", timezone="America/New_York", end="2024-06-01"),
        P.hourly(start="2024-01-01", timezone="Europe/Paris", end_offset=1),
        P.multi({"date": P.daily(start="2024-01-01"), "region": P.static_(["us", "eu"])}),
    ],
)
def test_json_and_pickle_round_trip(definition: P) -> None:
    """Definitions survive JSON and pickle unchanged (equal and with equal hashes)."""
    again = P.model_validate_json(definition.model_dump_json())
    assert again == definition and hash(again) == hash(definition)
    if definition.kind != "dynamic":
        assert list(again.get_partition_keys(now=NOW)) == list(
            definition.get_partition_keys(now=NOW)
        )
    assert pickle.loads(pickle.dumps(definition)) == definition


def test_generic_cron_definitions_pickle_after_use() -> None:
    """A generic-cron definition pickles after its tick cache was filled."""
    weekdays = P.time_window(start="2024-01-01", cron_schedule="0 0 * * 1-5")
    assert weekdays.count(now=NOW) > 0
    assert pickle.loads(pickle.dumps(weekdays)).count(now=NOW) == weekdays.count(now=NOW)


def test_equality_ignores_caches_and_repr_is_short() -> None:
    """Equality compares fields only, and repr omits defaults."""
    a, b = P.daily(start="2024-01-01"), P.daily(start="2024-01-01")
    a.count(now=NOW)
    assert a == b and a != P.daily(start="2024-01-02")
    assert "keys=" not in repr(a) and "cron_schedule='0 0 * * *'" in repr(a)


def test_time_methods_need_time_windows() -> None:
    """time_window_for_key and key_for_time explain when the definition is not time-based."""
    with pytest.raises(PartitionError, match="not time windows"):
        P.static_(["a"]).time_window_for_key("a")
    multi = P.multi({"a": P.daily(start="2024-01-01"), "b": P.daily(start="2024-01-01")})
    with pytest.raises(PartitionError, match="exactly one time-window dimension"):
        multi.time_window_for_key("2024-01-01|2024-01-01")


def test_key_for_time_and_time_window_for_key() -> None:
    """key_for_time finds the containing window; time_window_for_key works for multi too."""
    hourly = P.hourly(start="2024-01-01")
    assert hourly.key_for_time(datetime(2024, 1, 2, 5, 59, tzinfo=UTC)) == "2024-01-02-05:00"
    assert hourly.key_for_time(
        datetime(2024, 1, 2, 7, 30, tzinfo=timezone(timedelta(hours=2)))
    ) == ("2024-01-02-05:00")
    with pytest.raises(PartitionError, match="outside"):
        hourly.key_for_time(datetime(2023, 12, 31, tzinfo=UTC))
    multi = P.multi({"date": P.daily(start="2024-01-01"), "region": P.static_(["us"])})
    window = multi.time_window_for_key(PartitionKey.single("2024-01-05|us"))
    assert (window.start, window.end) == (
        datetime(2024, 1, 5, tzinfo=UTC),
        datetime(2024, 1, 6, tzinfo=UTC),
    )
    with pytest.raises(PartitionError, match="format"):
        multi.time_window_for_key("2024-01-05x|us")


def test_import_stays_light() -> None:
    """Importing rivers.partitions and using regular cadences never imports croniter."""
    import subprocess

    code = (
        "import sys; from rivers.partitions import PartitionsDefinition as P; "
        "P.daily(start='2024-01-01').count(); P.hourly(start='2024-01-01').key_at(3); "
        "assert 'croniter' not in sys.modules, 'croniter imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
