"""rs.Schedule, rs.Sensor, rs.RunRequest and rs.SensorResult: validation and normalisation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

import rivers as rs

TICK = datetime(2024, 3, 1, 6, tzinfo=UTC)


@rs.Asset
def orders() -> int:
    return 1


# -- requests ---------------------------------------------------------------------------------


def test_run_request_normalises_selection_partition_and_tags():
    """Assets become keys, PartitionKey becomes text, tags must be strings."""
    request = rs.RunRequest(
        [orders], partition=rs.PartitionKey.single("2024-01-02"), tags={"a": "b"}
    )
    assert request.selection == ("orders",)
    assert request.partition == "2024-01-02"
    assert rs.RunRequest("group:sales").selection == ("group:sales",)
    assert rs.RunRequest().selection is None
    with pytest.raises(ValueError, match="tags"):
        rs.RunRequest(tags=["x"])
    with pytest.raises(ValueError, match="extra"):
        rs.RunRequest(unknown=1)


def test_backfill_and_skip_and_result_normalisation():
    """Partitions become tuples, a SkipReason becomes its message, lists become tuples."""
    assert rs.BackfillRequest(partitions="2024-01-01").partitions == ("2024-01-01",)
    span = rs.PartitionKeyRange.single("2024-01-01", "2024-01-03")
    assert rs.BackfillRequest(partitions=span).partitions == span
    result = rs.SensorResult(run_requests=[rs.RunRequest()], skip_reason=rs.SkipReason("idle"))
    assert result.run_requests == (rs.RunRequest(),)
    assert result.skip_reason == "idle"
    assert rs.SkipReason("why").message == "why"


# -- sensors ----------------------------------------------------------------------------------


def test_sensor_validation_errors_name_the_sensor():
    """Bad intervals, statuses, signatures and targets fail at definition time."""
    with pytest.raises(rs.DefinitionError, match="sensor 'fast': minimum_interval"):
        rs.Sensor(lambda: None, name="fast", minimum_interval=0)
    with pytest.raises(rs.DefinitionError, match="default_status"):
        rs.Sensor(lambda: None, name="s", default_status="ON")  # type: ignore[arg-type]
    with pytest.raises(rs.DefinitionError, match="at most one parameter"):

        @rs.Sensor
        def two(context, extra):  # type: ignore[no-untyped-def]
            return None

    with pytest.raises(rs.DefinitionError, match="takes a function"):
        rs.Sensor(42)  # type: ignore[arg-type]


def test_sensor_evaluate_normalises_returns_and_yields():
    """A request, a list, a generator, a skip and None all become a SensorResult."""

    @rs.Sensor(target=orders)
    def single():
        return rs.RunRequest(run_key="k1")

    @rs.Sensor
    def many(context: rs.SensorContext):
        yield rs.RunRequest(run_key="a")
        yield rs.BackfillRequest(partitions=["p"])
        yield rs.AddDynamicPartitionsRequest(partitions_def_name="files", partition_keys=("x",))

    @rs.Sensor
    def skip():
        return rs.SkipReason("nothing new")

    @rs.Sensor
    def nothing():
        return None

    assert single.selection == ("orders",)
    assert single.evaluate(rs.SensorContext("single")).run_requests == (
        rs.RunRequest(run_key="k1"),
    )
    result = many.evaluate(rs.SensorContext("many", cursor="41"))
    assert [type(r).__name__ for r in result.run_requests] == ["RunRequest", "BackfillRequest"]
    assert len(result.dynamic_partitions_requests) == 1
    assert result.cursor is None  # not updated: the stored cursor stays
    assert skip.evaluate(rs.SensorContext("skip")).skip_reason == "nothing new"
    assert nothing.evaluate(rs.SensorContext("nothing")) == rs.SensorResult()


def test_sensor_bad_output_is_a_definition_error():
    """Returning or yielding something else names the sensor and what it returned."""

    @rs.Sensor
    def wrong():
        return 3

    @rs.Sensor
    def wrong_item():
        yield "run please"

    with pytest.raises(rs.DefinitionError, match="wrong: returned 3"):
        wrong.evaluate(rs.SensorContext("wrong"))
    with pytest.raises(rs.DefinitionError, match="yielded 'run please'"):
        wrong_item.evaluate(rs.SensorContext("wrong_item"))


def test_async_sensors_and_async_generators_evaluate_on_the_loop():
    """Async sensors need evaluate_async; coroutines and async generators both normalise."""

    @rs.Sensor(name="coro", minimum_interval=5)
    async def coro(context: rs.SensorContext) -> rs.SensorResult:
        await asyncio.sleep(0)
        return rs.SensorResult(run_requests=[rs.RunRequest(run_key=context.cursor)], cursor="2")

    @rs.Sensor
    async def agen():
        yield rs.RunRequest(run_key="x")
        yield rs.SkipReason("partial")

    assert coro.is_async and coro.snap().is_async and coro.snap().minimum_interval == 5.0
    with pytest.raises(rs.DefinitionError, match="is async"):
        coro.evaluate(rs.SensorContext("coro"))
    result = asyncio.run(coro.evaluate_async(rs.SensorContext("coro", cursor="1")))
    assert result.run_requests == (rs.RunRequest(run_key="1"),) and result.cursor == "2"
    out = asyncio.run(agen.evaluate_async(rs.SensorContext("agen")))
    assert out.run_requests == (rs.RunRequest(run_key="x"),) and out.skip_reason == "partial"


def test_cursor_updated_while_yielding_is_kept() -> None:
    """A generator sensor that calls update_cursor after yielding still stores the cursor."""

    @rs.Sensor
    def tailing(context: rs.SensorContext):
        yield rs.RunRequest(run_key="a")
        context.update_cursor("42")

    assert tailing.evaluate(rs.SensorContext("tailing", cursor="41")).cursor == "42"


def test_cursor_from_context_fills_a_result_without_one():
    """context.update_cursor applies when the returned SensorResult sets no cursor."""

    @rs.Sensor
    def keeps(context: rs.SensorContext):
        context.update_cursor("c")
        return rs.SensorResult()

    @rs.Sensor
    def overrides(context: rs.SensorContext):
        context.update_cursor("c")
        return rs.SensorResult(cursor="d")

    assert keeps.evaluate(rs.SensorContext("keeps")).cursor == "c"
    assert overrides.evaluate(rs.SensorContext("overrides")).cursor == "d"


# -- schedules --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "s", "cron": "often", "target": "orders"}, "invalid cron"),
        ({"name": "s", "cron": "0 * * * *", "target": "orders", "timezone": "X/Y"}, "time zone"),
        ({"name": "s", "cron": "0 * * * *", "target": "orders", "max_catchup_ticks": -1}, "catch"),
        ({"name": "s", "cron": "0 * * * *", "target": 5}, "target"),
        ({"name": "s", "cron": "0 * * * *", "target": "o", "partition": 3}, "partition"),
    ],
)
def test_schedule_validation_errors(kwargs, message):
    """Invalid crons, zones, catch-up, targets and partitions fail at definition time."""
    with pytest.raises(rs.DefinitionError, match=message):
        rs.Schedule(**kwargs)


def test_incomplete_schedules_are_refused_by_check_complete():
    """Without a function a schedule needs a name and a target (checked when registered)."""
    with pytest.raises(rs.DefinitionError, match="needs a target"):
        rs.Schedule(name="s", cron="0 * * * *").check_complete()
    with pytest.raises(rs.DefinitionError, match="needs a name"):
        rs.Schedule(cron="0 * * * *", target="orders").check_complete()
    rs.Schedule(name="s", cron="0 * * * *", target="orders").check_complete()


def test_static_schedule_evaluates_from_its_arguments():
    """Without user code a tick is one request with the fixed partition and run config."""
    nightly = rs.Schedule(
        name="nightly",
        cron="0 2 * * *",
        target=orders,
        timezone="Europe/Amsterdam",
        partition="2024-01-01",
        run_config={"orders": {"n": 1}},
        tags={"team": "data"},
    )
    assert not nightly.has_function
    result = nightly.evaluate(rs.ScheduleContext("nightly", TICK))
    assert result.run_requests == (
        rs.RunRequest(partition="2024-01-01", run_config={"orders": {"n": 1}}),
    )
    snap = nightly.snap()
    assert (snap.cron, snap.timezone, snap.selection, snap.partition_key) == (
        "0 2 * * *",
        "Europe/Amsterdam",
        ("orders",),
        "2024-01-01",
    )
    assert snap.tags == {"team": "data"} and snap.default_status == "STOPPED"


def test_schedule_functions_and_callables_run_per_tick():
    """A function's dict is run config, None is a skip; callable partitions see the context."""

    @rs.Schedule(cron="0 * * * *", target="orders")
    def hourly(context: rs.ScheduleContext):
        return {"orders": {"hour": context.scheduled_time.hour}}

    @rs.Schedule(cron="0 * * * *", target="orders")
    def quiet():
        return None

    by_day = rs.Schedule(
        name="by_day",
        cron="0 0 * * *",
        target="orders",
        partition=lambda ctx: ctx.scheduled_time.strftime("%Y-%m-%d"),
    )
    assert hourly.has_function and by_day.has_function
    assert hourly.evaluate(rs.ScheduleContext("hourly", TICK)).run_requests[0].run_config == {
        "orders": {"hour": 6}
    }
    assert quiet.evaluate(rs.ScheduleContext("quiet", TICK)).skip_reason
    request = by_day.evaluate(rs.ScheduleContext("by_day", TICK)).run_requests[0]
    assert isinstance(request, rs.RunRequest) and request.partition == "2024-03-01"
    with pytest.raises(rs.DefinitionError, match="not callable"):
        hourly(lambda: None)
