"""Partition models survive the trip through ``rivers/v1/partitions.proto`` exactly."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from rivers._convert.definitions import snapshot_from_proto, snapshot_to_proto
from rivers._proto.rivers.v1 import definitions_pb2, partitions_pb2
from rivers.definitions.snapshot import AssetSnap, DefinitionsSnapshot, DependencySnap
from rivers.partitions import (
    BackfillStrategy,
    PartitionError,
    PartitionKey,
    PartitionKeyRange,
    PartitionMapping,
    PartitionsDefinition,
)

_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
P = PartitionsDefinition
M = PartitionMapping
T = TypeVar("T", bound=BaseModel)

# Zones with DST, without, with a 30-minute DST shift, and a +12:45 offset.
ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]
NAMES = st.text(st.characters(exclude_characters="|", exclude_categories=["Cs"]), max_size=6)
NAME = NAMES.filter(lambda s: bool(s) and s == s.strip())
VALUE = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=6)
NAIVE = st.datetimes(datetime(1995, 1, 1), datetime(2035, 1, 1))
# A start is naive (read in the definition's zone), aware in any zone, a date or a string.
START = st.one_of(
    NAIVE,
    st.datetimes(
        datetime(1995, 1, 1), datetime(2035, 1, 1), timezones=st.sampled_from(ZONES).map(ZoneInfo)
    ),
    NAIVE.map(lambda d: d.date()),
    NAIVE.map(lambda d: d.strftime("%Y-%m-%d %H:%M")),
)
CRONS = ["*/15 * * * *", "0 */6 * * *", "30 9 * * 1-5", "0 0 1 */3 *", "*/30 * * * * *"]


@st.composite
def time_windows(draw: st.DrawFn) -> PartitionsDefinition:
    """Every factory, several zones, naive/aware starts, open or bounded, with end_offset."""
    start = draw(START)
    timezone = draw(st.sampled_from(ZONES))
    end_offset = draw(st.integers(0, 3))
    factory = draw(st.sampled_from(["hourly", "daily", "weekly", "monthly", "cron"]))
    end: date | None = None
    if draw(st.booleans()):
        first = start if isinstance(start, date) else datetime.fromisoformat(start)
        end = first + timedelta(days=draw(st.integers(60, 4000)))
    if factory == "cron":
        cron = draw(st.sampled_from(CRONS))
        return P.time_window(start, cron, end=end, timezone=timezone, end_offset=end_offset)
    make = getattr(P, factory)
    return make(start, end=end, timezone=timezone, end_offset=end_offset)  # type: ignore[no-any-return]


STATIC = st.lists(NAME, min_size=1, max_size=4, unique=True).map(P.static_)
DYNAMIC = NAME.map(P.dynamic)
SINGLE_DIM = st.one_of(STATIC, DYNAMIC, time_windows())
MULTI = st.dictionaries(NAME, SINGLE_DIM, min_size=2, max_size=3).map(P.multi)
DEFINITIONS = st.one_of(STATIC, DYNAMIC, time_windows(), MULTI)

KEY = st.one_of(
    VALUE.map(PartitionKey.single),
    st.dictionaries(
        NAME, VALUE | st.lists(VALUE, min_size=1, max_size=3), min_size=1, max_size=3
    ).map(PartitionKey.multi),
)
SELECTION = VALUE | st.tuples(VALUE, VALUE) | st.lists(VALUE, min_size=1, max_size=3)
RANGE = st.one_of(
    st.builds(PartitionKeyRange.single, VALUE, VALUE),
    st.dictionaries(NAME, SELECTION, min_size=1, max_size=3).map(PartitionKeyRange.multi),
)


@st.composite
def offsets(draw: st.DrawFn) -> PartitionMapping:
    """time_window() with any ordered pair of offsets (or one offset)."""
    low, high = sorted(draw(st.lists(st.integers(-(2**40), 2**40), min_size=2, max_size=2)))
    return M.time_window(start_offset=low, end_offset=high)


PER_DIMENSION = st.one_of(
    st.just(M.identity()),
    st.just(M.all()),
    st.just(M.last()),
    offsets(),
    st.lists(KEY, min_size=1, max_size=3).map(M.for_keys),
)
MAPPINGS = st.one_of(
    PER_DIMENSION,
    st.builds(M.subset, st.none() | NAME),
    st.dictionaries(NAME, PER_DIMENSION, min_size=1, max_size=3).map(M.multi),
)


@st.composite
def per_dimension(draw: st.DrawFn) -> BackfillStrategy:
    """A per-dimension strategy with disjoint lists naming at least one dimension."""
    names = draw(st.lists(NAME, min_size=1, max_size=4, unique=True))
    cut = draw(st.integers(0, len(names)))
    return BackfillStrategy.per_dimension(multi_run=names[:cut], single_run=names[cut:])


STRATEGIES = st.one_of(
    st.just(BackfillStrategy.multi_run()), st.just(BackfillStrategy.single_run()), per_dimension()
)


def _round_trip(model: T, message: type[Any]) -> T:
    """``model`` after to_proto, bytes on the wire, and from_proto."""
    wire = model.to_proto().SerializeToString()  # type: ignore[attr-defined]
    back: T = type(model).from_proto(message.FromString(wire))  # type: ignore[attr-defined]
    assert back == model
    # Equality of datetimes ignores zone and fold; the JSON shows both offsets and values.
    assert back.model_dump_json() == model.model_dump_json()
    return back


def _zones(definition: PartitionsDefinition) -> list[tuple[str, timedelta | None] | None]:
    """Zone and UTC offset of every instant (the offset tells the two 01:30s of a fall-back)."""
    moments = [
        definition.start,
        definition.end,
        *(d for _, dim in definition.dims for d in (dim.start, dim.end)),
    ]
    return [None if m is None else (str(m.tzinfo), m.utcoffset()) for m in moments]


@_SETTINGS
@given(DEFINITIONS)
def test_definitions_round_trip_exactly(definition: PartitionsDefinition) -> None:
    """Every kind of definition, with start/end in their zone and DST fold, comes back equal."""
    back = _round_trip(definition, partitions_pb2.PartitionsDefinition)
    assert _zones(back) == _zones(definition)


@_SETTINGS
@given(MAPPINGS)
def test_mappings_round_trip_exactly(mapping: PartitionMapping) -> None:
    """Every kind of mapping, nested multi mappings and for_keys keys included."""
    _round_trip(mapping, partitions_pb2.PartitionMapping)


@_SETTINGS
@given(STRATEGIES)
def test_backfill_strategies_round_trip_exactly(strategy: BackfillStrategy) -> None:
    """multi_run, single_run and per_dimension with their dimension lists."""
    _round_trip(strategy, partitions_pb2.BackfillStrategy)


@_SETTINGS
@given(KEY, RANGE)
def test_keys_and_ranges_round_trip_exactly(
    key: PartitionKey, key_range: PartitionKeyRange
) -> None:
    """Single and multi keys (several values per dimension), single and multi ranges."""
    _round_trip(key, partitions_pb2.PartitionKey)
    _round_trip(key_range, partitions_pb2.PartitionKeyRange)


ASSET = st.builds(
    AssetSnap,
    key=NAME,
    step_key=NAME,
    dependencies=st.lists(
        st.builds(
            DependencySnap,
            asset_key=NAME,
            role=st.sampled_from(["input", "dep"]),
            partition_mapping=st.none() | MAPPINGS,
        ),
        max_size=2,
    ).map(tuple),
    partitions_def=st.none() | DEFINITIONS,
    backfill_strategy=st.none() | STRATEGIES,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ASSET, max_size=3).map(tuple))
def test_snapshot_with_partitions_keeps_its_id(assets: tuple[AssetSnap, ...]) -> None:
    """Partition fields travel in the snapshot; absent stays None and the id is unchanged."""
    snapshot = DefinitionsSnapshot(location="here", assets=assets)
    wire = snapshot_to_proto(snapshot).SerializeToString()
    back = snapshot_from_proto(definitions_pb2.DefinitionsSnapshot.FromString(wire))
    assert back == snapshot
    assert back.snapshot_id == snapshot.snapshot_id


def test_ambiguous_local_start_keeps_its_fold() -> None:
    """A start in the repeated hour when clocks go back comes back as the same instant."""
    paris = ZoneInfo("Europe/Paris")
    second = datetime(2024, 10, 27, 2, 0, tzinfo=paris, fold=1)
    definition = P.hourly(start=second, timezone="Europe/Paris")
    back = P.from_proto(definition.to_proto())
    assert back.start is not None and definition.start is not None
    assert (back.start.fold, back.start.utcoffset()) == (1, timedelta(hours=1))
    assert back.key_at(0) == definition.key_at(0) == "2024-10-27-02:00+0100"


def test_microseconds_and_far_dates_are_exact() -> None:
    """Instants are integer microseconds: no float rounding, whatever the year."""
    for start in (datetime(1995, 1, 1, 0, 0, 0, 1), datetime(2399, 12, 31, 23, 59, 59, 999_999)):
        definition = P.time_window(start, "*/30 * * * * *", timezone="Asia/Kolkata")
        assert P.from_proto(definition.to_proto()).start == definition.start


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (partitions_pb2.PartitionsDefinition(), "unsupported kind"),
        (
            partitions_pb2.PartitionsDefinition(
                kind=partitions_pb2.PARTITIONS_KIND_STATIC, dynamic={"name": "x"}
            ),
            "static_partitions",
        ),
    ],
)
def test_malformed_definitions_are_rejected(message: Any, error: str) -> None:
    """An unspecified kind, or a kind whose oneof member is not the one set, is a ValueError."""
    with pytest.raises(ValueError, match=error):
        P.from_proto(message)


def test_invalid_values_fail_like_the_factories() -> None:
    """Decoding validates again: an invalid mapping or strategy is a PartitionError."""
    inverted = partitions_pb2.PartitionMapping(
        kind=partitions_pb2.PARTITION_MAPPING_KIND_TIME_WINDOW, start_offset=1, end_offset=0
    )
    with pytest.raises(PartitionError, match="after end_offset"):
        M.from_proto(inverted)
    with pytest.raises(ValueError, match="unsupported kind"):
        M.from_proto(partitions_pb2.PartitionMapping())
    with pytest.raises(ValueError, match="unsupported kind"):
        BackfillStrategy.from_proto(partitions_pb2.BackfillStrategy())
    unknown_zone = P.daily(start="2024-01-01").to_proto()
    unknown_zone.time_window.timezone = "Mars/Olympus"
    with pytest.raises(PartitionError, match="unknown time zone"):
        P.from_proto(unknown_zone)
