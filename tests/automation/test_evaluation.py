"""The automation engine over in-memory status: eager, on_missing, on_cron, mappings, state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import rivers as rs
from rivers.automation.evaluation import (
    AUTOMATION_TAG,
    AutomationState,
    AutomationTickResult,
    LocationStatus,
    evaluate_status,
)
from rivers.definitions.resolve import resolve
from rivers.definitions.snapshot import DefinitionsSnapshot

AC = rs.AutomationCondition
DAILY = rs.PartitionsDefinition.daily(start="2024-01-01")
REGIONS = rs.PartitionsDefinition.static_(["eu", "us"])


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def snapshot_of(*assets: rs.Asset) -> DefinitionsSnapshot:
    return resolve(list(assets), location="loc").snapshot


class Driver:
    """Runs ticks against an in-memory status, carrying the state like the daemon does."""

    def __init__(self, snapshot: DefinitionsSnapshot) -> None:
        self.snapshot = snapshot
        self.status = LocationStatus()
        self.state: AutomationState | None = None

    def materialize(self, asset: str, key: str | None = None, when: float = 0.0) -> None:
        self.status.materialize(asset, key, when)

    def tick(self, now: float) -> AutomationTickResult:
        result = evaluate_status(self.snapshot, self.status, now, self.state)
        self.state = result.state
        self.status.start_tick()
        return result


def source_and(condition: rs.AutomationCondition) -> Driver:
    @rs.Asset
    def source() -> int:
        return 1

    @rs.Asset(automation_condition=condition)
    def target(source: int) -> int:
        return source

    return Driver(snapshot_of(source, target))


def test_eager_requests_once_per_upstream_update():
    """eager(): nothing at first; an upstream update requests the asset once, not again."""
    driver = source_and(AC.eager())
    driver.materialize("source")
    assert driver.tick(at("2024-03-01T00:00:00")).requested == 0  # initial evaluation
    driver.materialize("source", when=1.0)
    result = driver.tick(at("2024-03-01T00:01:00"))
    assert result.requested_keys == {"target": (None,)}
    assert [r.selection for r in result.run_requests] == [("target",)]
    assert result.run_requests[0].tags == {AUTOMATION_TAG: "true"}
    assert driver.tick(at("2024-03-01T00:02:00")).requested == 0
    assert driver.tick(at("2024-03-01T00:03:00")).requested == 0
    driver.materialize("source", when=2.0)
    assert driver.tick(at("2024-03-01T00:04:00")).requested_keys == {"target": (None,)}


def test_eager_waits_while_in_progress_and_while_a_dependency_is_missing():
    """eager(): an in-progress target, or a missing dependency, holds the request back."""
    driver = source_and(AC.eager())
    driver.tick(at("2024-03-01T00:00:00"))
    driver.status.edit("target").in_progress = {None}
    driver.materialize("source")
    assert driver.tick(at("2024-03-01T00:01:00")).requested == 0
    driver.status.edit("target").in_progress = set()
    # The update is remembered (since_last_handled) until the run is possible.
    assert driver.tick(at("2024-03-01T00:02:00")).requested_keys == {"target": (None,)}

    @rs.Asset
    def left() -> int:
        return 1

    @rs.Asset
    def right() -> int:
        return 1

    @rs.Asset(automation_condition=AC.eager())
    def both(left: int, right: int) -> int:
        return left + right

    driver = Driver(snapshot_of(left, right, both))
    driver.tick(at("2024-03-01T00:00:00"))
    driver.materialize("left")
    assert driver.tick(at("2024-03-01T00:01:00")).requested == 0  # right is missing
    driver.materialize("right")
    assert driver.tick(at("2024-03-01T00:02:00")).requested_keys == {"both": (None,)}


def test_eager_does_not_request_again_after_its_own_materialization():
    """A requested asset that then materializes is handled: no loop of requests."""
    driver = source_and(AC.eager())
    driver.tick(at("2024-03-01T00:00:00"))
    driver.materialize("source")
    assert driver.tick(at("2024-03-01T00:01:00")).requested == 1
    driver.status.edit("target").in_progress = {None}
    assert driver.tick(at("2024-03-01T00:02:00")).requested == 0
    driver.status.edit("target").in_progress = set()
    driver.materialize("target")
    for minute in range(3, 6):
        assert driver.tick(at(f"2024-03-01T00:0{minute}:00")).requested == 0


def test_eager_chain_is_requested_in_one_run():
    """Dependents of an asset requested on this tick are requested with it, in the same run."""

    @rs.Asset
    def raw() -> int:
        return 1

    @rs.Asset(automation_condition=AC.eager())
    def clean(raw: int) -> int:
        return raw

    @rs.Asset(automation_condition=AC.eager())
    def report(clean: int) -> int:
        return clean

    driver = Driver(snapshot_of(raw, clean, report))
    for key in ("raw", "clean", "report"):
        driver.materialize(key)
    driver.tick(at("2024-03-01T00:00:00"))
    driver.materialize("raw")
    result = driver.tick(at("2024-03-01T00:01:00"))
    assert result.requested_keys == {"clean": (None,), "report": (None,)}
    assert [r.selection for r in result.run_requests] == [("clean", "report")]


def test_on_missing_requests_only_new_latest_partitions():
    """on_missing(): old missing partitions stay alone; each new day is requested once."""

    @rs.Asset(partitions_def=DAILY, automation_condition=AC.on_missing())
    def daily() -> int:
        return 1

    driver = Driver(snapshot_of(daily))
    assert driver.tick(at("2024-03-01T12:00:00")).requested == 0
    result = driver.tick(at("2024-03-02T00:05:00"))
    assert result.requested_keys == {"daily": ("2024-03-01",)}
    assert [(r.selection, r.partition) for r in result.run_requests] == [(("daily",), "2024-03-01")]
    assert driver.tick(at("2024-03-02T00:10:00")).requested == 0
    assert driver.tick(at("2024-03-03T00:10:00")).requested_keys == {"daily": ("2024-03-02",)}


def test_on_missing_waits_for_missing_dependencies():
    """on_missing(): a new partition whose upstream partition is missing waits for it."""

    @rs.Asset(partitions_def=DAILY)
    def up() -> int:
        return 1

    @rs.Asset(partitions_def=DAILY, automation_condition=AC.on_missing())
    def down(up: int) -> int:
        return up

    driver = Driver(snapshot_of(up, down))
    driver.tick(at("2024-03-01T12:00:00"))
    assert driver.tick(at("2024-03-02T00:05:00")).requested == 0
    driver.materialize("up", "2024-03-01")
    assert driver.tick(at("2024-03-02T00:10:00")).requested_keys == {"down": ("2024-03-01",)}


def test_on_cron_requests_once_per_tick_after_dependencies_update():
    """on_cron(): after 06:00 it waits for the upstream to update, then requests once a day."""
    driver = source_and(AC.on_cron("0 6 * * *"))
    driver.materialize("source", when=at("2024-03-01T01:00:00"))
    driver.tick(at("2024-03-01T05:00:00"))
    assert driver.tick(at("2024-03-01T06:30:00")).requested == 0  # upstream is older
    driver.materialize("source", when=at("2024-03-01T07:00:00"))
    assert driver.tick(at("2024-03-01T07:05:00")).requested_keys == {"target": (None,)}
    assert driver.tick(at("2024-03-01T07:10:00")).requested == 0
    driver.materialize("source", when=at("2024-03-01T09:00:00"))
    assert driver.tick(at("2024-03-01T09:05:00")).requested == 0  # same cron tick
    driver.materialize("source", when=at("2024-03-02T06:10:00"))
    assert driver.tick(at("2024-03-02T06:15:00")).requested_keys == {"target": (None,)}


def test_on_cron_without_dependencies_follows_the_zone():
    """on_cron(): an asset without dependencies is requested at each tick, in its zone."""

    @rs.Asset(automation_condition=AC.on_cron("0 6 * * *", "Europe/Amsterdam"))
    def nightly() -> int:
        return 1

    driver = Driver(snapshot_of(nightly))
    driver.tick(at("2024-03-01T04:00:00"))
    assert driver.tick(at("2024-03-01T04:59:00")).requested == 0  # 05:59 in Amsterdam
    assert driver.tick(at("2024-03-01T05:01:00")).requested == 1  # 06:01 in Amsterdam
    assert driver.tick(at("2024-03-01T05:02:00")).requested == 0


def test_time_window_mapping_maps_upstream_updates_to_latest_partition():
    """A time_window(offset=-1) dependency: updating yesterday's upstream requests today."""

    @rs.Asset(partitions_def=DAILY)
    def up() -> int:
        return 1

    @rs.Asset(
        partitions_def=DAILY,
        deps=[rs.AssetDef.dep("up", partition_mapping=rs.PartitionMapping.time_window(offset=-1))],
        automation_condition=AC.eager(),
    )
    def down() -> int:
        return 1

    driver = Driver(snapshot_of(up, down))
    now = at("2024-03-02T12:00:00")  # latest complete window: 2024-03-01
    driver.materialize("up", "2024-02-29")
    driver.tick(now)
    driver.materialize("up", "2024-03-01")  # read by down's 2024-03-02: not in the window
    assert driver.tick(now + 60).requested == 0
    driver.materialize("up", "2024-02-29")  # read by down's 2024-03-01
    assert driver.tick(now + 120).requested_keys == {"down": ("2024-03-01",)}


def test_static_partitions_with_identity_mapping_request_the_updated_keys():
    """Without a time dimension every key is eligible: updated upstream keys map one to one."""

    @rs.Asset(partitions_def=REGIONS)
    def sales() -> int:
        return 1

    @rs.Asset(partitions_def=REGIONS, automation_condition=AC.eager())
    def totals(sales: int) -> int:
        return sales

    @rs.Asset(partitions_def=REGIONS, automation_condition=AC.eager())
    def charts(totals: int) -> int:
        return totals

    driver = Driver(snapshot_of(sales, totals, charts))
    for region in ("eu", "us"):
        driver.materialize("sales", region)
    driver.tick(at("2024-03-01T00:00:00"))
    driver.materialize("sales", "us")
    result = driver.tick(at("2024-03-01T00:01:00"))
    assert result.requested_keys == {"totals": ("us",), "charts": ("us",)}
    assert [(r.selection, r.partition) for r in result.run_requests] == [
        (("charts", "totals"), "us")
    ]


def test_partitioned_upstream_of_unpartitioned_asset():
    """Any updated partition of a partitioned dependency requests an unpartitioned asset."""

    @rs.Asset(partitions_def=REGIONS)
    def sales() -> int:
        return 1

    @rs.Asset(automation_condition=AC.eager())
    def summary(sales: dict[str, int]) -> int:
        return len(sales)

    driver = Driver(snapshot_of(sales, summary))
    driver.materialize("sales", "eu")
    driver.tick(at("2024-03-01T00:00:00"))
    driver.materialize("sales", "eu")
    assert driver.tick(at("2024-03-01T00:01:00")).requested == 0  # "us" is missing
    driver.materialize("sales", "us")
    assert driver.tick(at("2024-03-01T00:02:00")).requested_keys == {"summary": (None,)}


def test_lookback_missing_and_failures_over_partition_sets():
    """Leaves combine over key sets: a 3-day lookback of missing keys, and failed keys."""

    @rs.Asset(
        partitions_def=DAILY,
        automation_condition=AC.in_latest_time_window(timedelta(days=3)) & AC.missing(),
    )
    def recent() -> int:
        return 1

    @rs.Asset(partitions_def=DAILY, automation_condition=AC.execution_failed() & ~AC.in_progress())
    def retried() -> int:
        return 1

    @rs.Asset(partitions_def=DAILY, automation_condition=AC.missing())
    def everything() -> int:
        return 1

    driver = Driver(snapshot_of(recent, retried, everything))
    driver.materialize("recent", "2024-02-28")
    driver.status.edit("retried").failed = {"2024-01-05", "2024-02-01", "1999-01-01"}
    driver.status.edit("retried").in_progress = {"2024-02-01"}
    for day in range(1, 29):
        driver.materialize("everything", f"2024-02-{day:02d}")
    result = driver.tick(at("2024-03-01T12:00:00"))
    assert result.requested_keys["recent"] == ("2024-02-27", "2024-02-29")
    assert result.requested_keys["retried"] == ("2024-01-05",)
    assert len(result.requested_keys["everything"]) == 31 + 1  # January and Feb 29
    assert result.requested == 2 + 1 + 32


def test_state_survives_json_and_a_changed_condition_starts_afresh():
    """A restored state continues where it stopped; a changed condition is evaluated anew."""
    driver = source_and(AC.eager())
    driver.materialize("source")
    driver.tick(at("2024-03-01T00:00:00"))
    driver.materialize("source")
    assert driver.state is not None
    restored = AutomationState.from_json(driver.state.to_json())
    assert restored == driver.state
    result = evaluate_status(driver.snapshot, driver.status, at("2024-03-01T00:01:00"), restored)
    assert result.requested_keys == {"target": (None,)}

    changed = source_and(AC.eager().with_label("renamed"))
    changed.status = driver.status
    changed.materialize("source")
    # A new fingerprint means an initial evaluation: the update does not trigger.
    outcome = evaluate_status(changed.snapshot, changed.status, at("2024-03-01T00:02:00"), restored)
    assert outcome.requested == 0


def test_operators_over_sets_union_intersection_and_since():
    """|, & and ~ combine key sets; since() keeps a key until its reset."""

    @rs.Asset(
        partitions_def=REGIONS,
        automation_condition=(AC.newly_updated() | AC.execution_failed()) & ~AC.in_progress(),
    )
    def either() -> int:
        return 1

    @rs.Asset(
        partitions_def=REGIONS,
        automation_condition=AC.execution_failed().since(AC.newly_updated()),
    )
    def latch() -> int:
        return 1

    driver = Driver(snapshot_of(either, latch))
    driver.tick(at("2024-03-01T00:00:00"))
    driver.materialize("either", "eu")
    driver.status.edit("either").failed = {"us"}
    driver.status.edit("latch").failed = {"eu"}
    result = driver.tick(at("2024-03-01T00:01:00"))
    assert result.requested_keys == {"either": ("eu", "us"), "latch": ("eu",)}
    driver.status.edit("latch").failed = set()
    assert driver.tick(at("2024-03-01T00:02:00")).requested_keys["latch"] == ("eu",)
    driver.materialize("latch", "eu")
    assert "latch" not in driver.tick(at("2024-03-01T00:03:00")).requested_keys


def test_multi_partitions_use_their_time_dimension_for_the_window():
    """For date x region keys the latest window holds every region of the latest dates."""
    multi = rs.PartitionsDefinition.multi(
        {"date": DAILY, "region": rs.PartitionsDefinition.static_(["eu", "us"])}
    )

    @rs.Asset(
        partitions_def=multi,
        automation_condition=AC.in_latest_time_window(timedelta(days=2)) & AC.missing(),
    )
    def grid() -> int:
        return 1

    driver = Driver(snapshot_of(grid))
    driver.materialize("grid", "2024-02-29|eu")
    result = driver.tick(at("2024-03-01T12:00:00"))
    assert result.requested_keys == {"grid": ("2024-02-28|eu", "2024-02-28|us", "2024-02-29|us")}
    assert [r.partition for r in result.run_requests] == list(result.requested_keys["grid"])


def test_an_asset_that_cannot_be_evaluated_does_not_stop_the_others():
    """Dynamic partitions without storage: that asset reports an error, the others run."""

    @rs.Asset(
        partitions_def=rs.PartitionsDefinition.dynamic("files"), automation_condition=AC.missing()
    )
    def files() -> int:
        return 1

    @rs.Asset(automation_condition=AC.missing())
    def plain() -> int:
        return 1

    result = Driver(snapshot_of(files, plain)).tick(at("2024-03-01T00:00:00"))
    assert result.requested_keys == {"plain": (None,)}
    assert "needs storage" in result.errors["files"]
