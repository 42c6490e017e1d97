"""PartitionKey, PartitionKeyRange, resolve() and the lazy PartitionKeys sequence."""

from __future__ import annotations

import itertools
import pickle
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

import rivers as rs
from rivers.partitions import (
    PartitionError,
    PartitionKey,
    PartitionKeyRange,
    PartitionKeys,
    PartitionsDefinition,
)

P = PartitionsDefinition
NOW = datetime(2024, 6, 1, tzinfo=UTC)
DAILY = P.daily(start="2024-01-01")
REGIONS = P.static_(["us", "eu", "ap"])
DATE_REGION = P.multi({"region": REGIONS, "date": DAILY})


def _big(storage: rs.Storage) -> PartitionsDefinition:
    storage.add_dynamic_partitions("tenants", ["t1", "t2", "t3", "t4"])
    return P.multi(
        {
            "hour": P.hourly(start="2000-01-01", end="2010-01-01"),
            "region": P.static_(["eu", "us"]),
            "tier": P.static_(["bronze", "silver", "gold"]),
            "tenant": P.dynamic("tenants"),
        }
    )


def test_partition_key_factories() -> None:
    """single() is its key; multi() sorts dimensions and turns each value into a tuple."""
    assert str(PartitionKey.single("2024-01-15")) == "2024-01-15"
    key = PartitionKey.multi({"region": ["us", "eu"], "date": "2024-01-15"})
    assert key.values == {"date": ("2024-01-15",), "region": ("us", "eu")}
    assert key.is_multi and str(key) == "2024-01-15|{us,eu}"
    assert str(PartitionKey.multi({"b": "2", "a": "1"})) == "1|2"
    bad_values: list[dict[str, Any]] = [{}, {"a": []}, {"a": [""]}, {"a|b": "x"}]
    for bad in bad_values:
        with pytest.raises(PartitionError):
            PartitionKey.multi(bad)
    with pytest.raises(PartitionError):
        PartitionKey.single("")


def test_partition_key_range_factories() -> None:
    """single() keeps both ends; multi() reads tuples as ranges, lists as keys, strings as one."""
    assert PartitionKeyRange.single("a", PartitionKey.single("b")).end == "b"
    r = PartitionKeyRange.multi(
        {"date": ("2024-01-01", "2024-01-07"), "region": ["us"], "t": "pro"}
    )
    dims = dict(r.dimensions)
    assert (dims["date"].start, dims["date"].end) == ("2024-01-01", "2024-01-07")
    assert dims["region"].keys == ("us",) and dims["t"].keys == ("pro",)
    with pytest.raises(PartitionError, match="range"):
        PartitionKeyRange.multi({"date": ("a", "b", "c")})
    with pytest.raises(PartitionError):
        PartitionKeyRange.multi({"date": 3})  # type: ignore[dict-item]


def test_multi_key_format_and_order() -> None:
    """Multi keys join values in dimension-name order; the last dimension varies fastest."""
    keys = DATE_REGION.get_partition_keys(now=datetime(2024, 1, 3, tzinfo=UTC))
    assert list(keys) == [
        "2024-01-01|us",
        "2024-01-01|eu",
        "2024-01-01|ap",
        "2024-01-02|us",
        "2024-01-02|eu",
        "2024-01-02|ap",
    ]
    assert keys.dimension_names == ("date", "region")
    assert keys.is_product and keys.selections == (range(2), range(3))


def test_expand_single_and_multi_keys() -> None:
    """PartitionKey.expand validates and lists the concrete keys (definition order)."""
    assert list(PartitionKey.single("2024-01-15").expand(DAILY, now=NOW)) == ["2024-01-15"]
    key = PartitionKey.multi({"date": "2024-01-15", "region": ["ap", "us"]})
    assert list(key.expand(DATE_REGION, now=NOW)) == ["2024-01-15|us", "2024-01-15|ap"]
    with pytest.raises(PartitionError, match="misses dimensions"):
        PartitionKey.multi({"date": "2024-01-15"}).expand(DATE_REGION, now=NOW)
    with pytest.raises(PartitionError, match="unknown dimensions"):
        PartitionKey.multi({"date": "2024-01-15", "x": "1"}).expand(DATE_REGION, now=NOW)
    with pytest.raises(PartitionError, match="has none"):
        key.expand(DAILY, now=NOW)


def test_expand_ranges() -> None:
    """Ranges are inclusive, stay lazy, and multi ranges default missing dimensions to all."""
    days = PartitionKeyRange.single("2024-01-01", "2024-01-31").expand(DAILY, now=NOW)
    assert (len(days), days[0], days[-1]) == (31, "2024-01-01", "2024-01-31")
    assert days.selections == (range(0, 31),)
    multi = PartitionKeyRange.multi({"date": ("2024-01-01", "2024-01-07")}).expand(
        DATE_REGION, now=NOW
    )
    assert len(multi) == 21 and multi.is_product
    picked = PartitionKeyRange.multi({"date": ("2024-01-02", "2024-01-03"), "region": ["eu"]})
    assert list(picked.expand(DATE_REGION, now=NOW)) == ["2024-01-02|eu", "2024-01-03|eu"]
    flat = PartitionKeyRange.single("2024-01-01|ap", "2024-01-02|eu").expand(DATE_REGION, now=NOW)
    assert list(flat) == ["2024-01-01|ap", "2024-01-02|us", "2024-01-02|eu"]


def test_invalid_ranges_show_valid_examples() -> None:
    """Reversed ranges and unknown ends are PartitionErrors; key errors show a valid example."""
    with pytest.raises(PartitionError, match="comes after"):
        DAILY.resolve(PartitionKeyRange.single("2024-01-05", "2024-01-01"), now=NOW)
    with pytest.raises(PartitionError, match="comes after"):
        DATE_REGION.resolve(
            PartitionKeyRange.multi({"date": ("2024-01-05", "2024-01-01")}), now=NOW
        )
    with pytest.raises(PartitionError, match=r"e\.g\. '2024-01-01'"):
        DAILY.resolve(PartitionKeyRange.single("2024-01-01", "2024-02-30"), now=NOW)
    with pytest.raises(PartitionError, match=r"dimension 'region'.*e\.g\. 'us'"):
        DATE_REGION.resolve(PartitionKeyRange.multi({"region": ["mars"]}), now=NOW)


@pytest.mark.parametrize(
    ("definition", "key", "example"),
    [
        (DAILY, "2024/01/01", "'2024-01-01'"),
        (DAILY, "2030-01-01", "'2024-01-01'"),
        (DAILY, "2024-1-1", "'2024-01-01'"),
        (REGIONS, "mars", "'us'"),
        (DATE_REGION, "2024-01-01", "'2024-01-01|us'"),
        (DATE_REGION, "2024-01-01|mars", "'2024-01-01|us'"),
        (P.hourly(start="2024-01-01"), "2024-01-01", "'2024-01-01-00:00'"),
    ],
)
def test_invalid_keys_name_the_format_and_an_example(
    definition: PartitionsDefinition, key: str, example: str
) -> None:
    """validate_key, index_of and resolve reject bad keys with the format and a valid example."""
    assert not definition.has_key(key, now=NOW)
    for attempt in (
        lambda: definition.validate_key(key, now=NOW),
        lambda: definition.index_of(key, now=NOW),
        lambda: definition.resolve(key, now=NOW),
    ):
        with pytest.raises(PartitionError, match=f"e.g. {example}") as info:
            attempt()
        assert repr(key) in str(info.value)


def test_future_keys_are_reported_as_outside_the_range() -> None:
    """A well-formed key of a window that has not ended names the existing span."""
    with pytest.raises(PartitionError, match="outside the existing keys"):
        DAILY.validate_key("2030-01-01", now=NOW)


def test_resolve_accepts_every_spec() -> None:
    """resolve() takes None, a key, PartitionKey, PartitionKeyRange, lists and PartitionKeys."""
    now = datetime(2024, 1, 11, tzinfo=UTC)
    assert len(DAILY.resolve(None, now=now)) == 10
    assert list(DAILY.resolve("2024-01-03", now=now)) == ["2024-01-03"]
    mixed = DAILY.resolve(
        [
            "2024-01-05",
            PartitionKey.single("2024-01-01"),
            PartitionKeyRange.single("2024-01-02", "2024-01-03"),
        ],
        now=now,
    )
    assert list(mixed) == ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-05"]
    assert list(DAILY.resolve(["2024-01-02", "2024-01-02", "2024-01-01"], now=now)) == [
        "2024-01-01",
        "2024-01-02",
    ]
    keys = DAILY.resolve(None, now=now)
    assert DAILY.resolve(keys) is keys
    with pytest.raises(PartitionError, match="another"):
        REGIONS.resolve(keys)
    with pytest.raises(PartitionError, match="cannot select"):
        DAILY.resolve(42, now=now)  # type: ignore[arg-type]
    multi = DATE_REGION.resolve(["2024-01-02|ap", "2024-01-01|us"], now=now)
    assert list(multi) == ["2024-01-01|us", "2024-01-02|ap"]


def test_sequence_protocol() -> None:
    """PartitionKeys behaves as a Sequence[str]: len, index, slices, negative steps, count, eq."""
    keys = DAILY.get_partition_keys(now=datetime(2024, 1, 11, tzinfo=UTC))
    assert isinstance(keys[2:5], PartitionKeys) and list(keys[2:5]) == [
        "2024-01-03",
        "2024-01-04",
        "2024-01-05",
    ]
    assert list(keys[::-3]) == ["2024-01-10", "2024-01-07", "2024-01-04", "2024-01-01"]
    assert list(keys[8:]) == ["2024-01-09", "2024-01-10"] and keys[-1] == "2024-01-10"
    assert keys.index("2024-01-04") == 3 and keys.count("2024-01-04") == 1
    assert keys.count("1999-01-01") == 0 and 5 not in keys  # type: ignore[comparison-overlap]
    with pytest.raises(ValueError, match="not in"):
        keys.index("2024-01-04", 5)
    with pytest.raises(IndexError):
        keys[10]
    assert keys[2:4] == ["2024-01-03", "2024-01-04"] and keys[2:4] == ("2024-01-03", "2024-01-04")
    assert keys[2:4] == DAILY.resolve(["2024-01-03", "2024-01-04"], now=NOW)
    assert keys != keys[1:] and keys[:0] == []
    assert PartitionKey.single("2024-01-02") in keys  # type: ignore[comparison-overlap]
    assert list(reversed(keys[:2])) == ["2024-01-02", "2024-01-01"]


def test_repr_shows_kind_length_and_ends() -> None:
    """The repr names the definition kind, the length and the first and last key."""
    keys = DAILY.get_partition_keys(now=datetime(2024, 1, 11, tzinfo=UTC))
    assert repr(keys) == "PartitionKeys(daily, 10 keys: '2024-01-01' … '2024-01-10')"
    assert repr(keys[:1]) == "PartitionKeys(daily, 1 key: '2024-01-01')"
    assert repr(keys[:0]) == "PartitionKeys(daily, 0 keys)"
    assert repr(REGIONS.get_partition_keys()).startswith("PartitionKeys(static, 3 keys")


@pytest.fixture
def no_iteration(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make enumerating any PartitionKeys an error."""

    def boom(self: PartitionKeys) -> Iterator[str]:
        raise AssertionError("enumerated")

    monkeypatch.setattr(PartitionKeys, "__iter__", boom)


def test_two_million_keys_stay_lazy(storage: rs.Storage, no_iteration: None) -> None:
    """len, [i], slices, in and index on a 2.1M-key 4-dimension product never enumerate."""
    keys = _big(storage).get_partition_keys(storage, now=NOW)
    assert len(keys) == 87_672 * 2 * 3 * 4 == 2_104_128
    assert keys[0] == "2000-01-01-00:00|eu|t1|bronze"
    assert keys[-1] == "2009-12-31-23:00|us|t4|gold"
    key = "2005-06-01-13:00|us|t3|gold"
    assert key in keys and keys[keys.index(key)] == key
    part = keys[1_000_000:2_000_000:7]
    assert isinstance(part, PartitionKeys) and len(part) == 142_858
    assert part[0] == keys[1_000_000] and part[-1] == keys[1_999_999]
    assert (keys[1_000_007] in part, keys[1_000_008] in part) == (True, False)
    assert part.index(keys[1_000_007]) == 1
    assert "2005-06-01-13:00|us|t9|gold" not in keys and "x" not in keys
    assert "2005-06-01-13:00|us|t3" not in keys


def test_slices_of_a_multi_product_iterate_correctly(storage: rs.Storage) -> None:
    """Iterating slices (contiguous, strided, reversed) matches indexing key by key."""
    keys = _big(storage).get_partition_keys(storage, now=NOW)
    for part in (keys[5:300], keys[23:290:7], keys[400:100:-9], keys[-50:]):
        assert list(part) == [part[i] for i in range(len(part))]
    small = DATE_REGION.get_partition_keys(now=datetime(2024, 1, 4, tzinfo=UTC))
    assert list(small[1:8]) == list(small)[1:8]
    assert list(small[1:8:3]) == list(small)[1:8:3]
    month = DATE_REGION.get_partition_keys(now=datetime(2024, 1, 31, tzinfo=UTC))
    every = [month[i] for i in range(len(month))]
    assert list(month) == every
    for step in (slice(None, None, 2), slice(None, None, -1), slice(3, 80, 5)):
        assert list(month[step]) == every[step]


def test_products_cover_any_view_exactly() -> None:
    """products() splits any view into full sub-products with the same keys."""
    keys = DATE_REGION.get_partition_keys(now=datetime(2024, 2, 1, tzinfo=UTC))
    views = [keys, keys[4:67], keys[3:60], keys[5:6], keys[10:90:4], keys[70:2:-5], keys[0:0]]
    for view in views:
        parts = list(view.products())
        assert all(p.is_product for p in parts)
        assert sorted(itertools.chain.from_iterable(parts)) == sorted(view)
        if isinstance(view.view, range) and abs(view.view.step) == 1:
            assert len(parts) <= 2 * len(view.dimension_names)


def test_dimension_keys_of_a_multi_selection() -> None:
    """dimension_keys gives the selected keys of one dimension."""
    picked = DATE_REGION.resolve(
        PartitionKeyRange.multi({"date": ("2024-01-02", "2024-01-03"), "region": ["eu", "ap"]}),
        now=NOW,
    )
    assert list(picked.dimension_keys("region")) == ["eu", "ap"]
    assert list(picked.dimension_keys("date")) == ["2024-01-02", "2024-01-03"]
    assert picked.dimension_keys("date").definition == DAILY
    with pytest.raises(PartitionError, match="no dimension"):
        picked.dimension_keys("tier")


def test_dynamic_dimension_in_a_multi(storage: rs.Storage) -> None:
    """A dynamic dimension reads its keys from storage; its changes show in new key sets."""
    tenants = P.multi({"tenant": P.dynamic("tenants"), "region": REGIONS})
    assert tenants.count(storage) == 0 and len(tenants.get_partition_keys(storage)) == 0
    storage.add_dynamic_partitions("tenants", ["acme", "globex"])
    keys = tenants.get_partition_keys(storage)
    assert list(keys[:4]) == ["us|acme", "us|globex", "eu|acme", "eu|globex"]
    assert tenants.has_key("ap|globex", storage) and not tenants.has_key("ap|initech", storage)
    with pytest.raises(PartitionError, match=r"e\.g\. 'us\|acme'"):
        tenants.validate_key("ap|initech", storage)
    storage.add_dynamic_partitions("tenants", ["initech"])
    assert tenants.count(storage) == 9 and "ap|initech" in tenants.get_partition_keys(storage)


def test_partition_keys_pickle() -> None:
    """PartitionKeys (even a strided multi view) can be sent to another process."""
    view = DATE_REGION.get_partition_keys(now=NOW)[3:40:4]
    again = pickle.loads(pickle.dumps(view))
    assert again == view and again.definition == DATE_REGION
