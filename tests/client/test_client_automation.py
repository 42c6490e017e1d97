"""RiversClient for schedules, sensors, ticks and backfill control: typed results, errors."""

from __future__ import annotations

import time
import uuid

import pytest

import rivers as rs
from rivers.client import InstigatorInfo, InvalidRequestError, NotFoundError, RiversClient
from rivers.definitions.snapshot import ScheduleSnap, SensorSnap
from rivers.storage import BackfillRecord, BackfillState, LocationRecord, RunStatus
from rivers.storage.records import InstigatorType, TickRecord, TickStatus
from tests.fixtures.code_locations import basic, partitioned
from tests.gateway.harness import Stack


def _publish_automated(stack: Stack) -> LocationRecord:
    """The basic location with a schedule and a sensor, published as its code server would."""
    snapshot = basic.repo.snapshot.model_copy(
        update={
            "schedules": (ScheduleSnap(name="hourly", cron="0 * * * *", selection=("numbers",)),),
            "sensors": (SensorSnap(name="files", default_status="RUNNING"),),
        }
    )
    location = stack.storage.ensure_location(snapshot.location)
    snapshot_id = stack.storage.store_snapshot(location.identity, snapshot)
    stack.storage.heartbeat_location(
        location.identity, endpoint=None, snapshot_id=snapshot_id, server_id="test"
    )
    return location


def test_instigators_come_back_typed(stack: Stack) -> None:
    """list/start/stop_instigator return InstigatorInfo models with enums, not wire messages."""
    _publish_automated(stack)
    client = stack.client()
    hourly, files = client.list_instigators()
    assert isinstance(hourly, InstigatorInfo)
    assert (hourly.name, hourly.type, hourly.running) == ("hourly", InstigatorType.SCHEDULE, False)
    assert (files.type, files.running, files.minimum_interval) == (
        InstigatorType.SENSOR,
        True,
        30.0,
    )
    started = client.start_instigator("hourly")
    assert started.running and started.next_tick_time is not None
    assert started.next_tick_time % 3600 == 0 and started.next_tick_time > time.time()
    assert client.stop_instigator("files", location="basic").running is False
    assert [i.running for i in client.list_instigators("basic")] == [True, False]


def test_ticks_come_back_typed(stack: Stack) -> None:
    """list_ticks returns TickRecords, filtered by instigator and status (case-insensitive)."""
    location = _publish_automated(stack)
    now = time.time()
    stored = [
        TickRecord(
            tick_id=uuid.uuid4().hex,
            location_id=location.identity,
            instigator="files",
            type=InstigatorType.SENSOR,
            status=status,
            timestamp=now - i,
            skip_reason="quiet" if status is TickStatus.SKIPPED else None,
        )
        for i, status in enumerate([TickStatus.SKIPPED, TickStatus.SUCCESS, TickStatus.SKIPPED])
    ]
    for tick in stored:
        stack.storage.add_tick(tick)
    client = stack.client()
    assert client.list_ticks() == stored
    assert client.list_ticks(instigator="files", statuses=["skipped"]) == stored[::2]
    assert client.list_ticks(instigator="hourly") == []
    assert client.list_ticks(limit=1, before=stored[0].timestamp) == [stored[1]]


def test_backfill_control(stack: Stack) -> None:
    """cancel_backfill and retry_backfill_failures return the BackfillRecords they produce."""
    stack.register(partitioned.repo)
    client = stack.client()
    backfill = client.launch_backfill(["daily_events"], ["2024-01-01", "2024-01-02"])
    canceled = client.cancel_backfill(backfill.backfill_id)
    assert isinstance(canceled, BackfillRecord)
    assert canceled.status is BackfillState.CANCELED and canceled.end_time is not None
    stack.storage.record_backfill_run(
        backfill.backfill_id, run_id="r", succeeded=1, failed_partitions={"2024-01-02": "x"}
    )
    retry = client.retry_backfill_failures(backfill.backfill_id)
    assert (retry.status, retry.parent_backfill_id) == (
        BackfillState.REQUESTED,
        backfill.backfill_id,
    )
    assert retry.partitions == {"keys": ["2024-01-02"]} and retry.requested == 1


def test_errors_are_mapped(stack: Stack) -> None:
    """Unknown names NotFoundError; refused requests InvalidRequestError; bad status RiversError."""
    location = _publish_automated(stack)
    client = stack.client()
    with pytest.raises(NotFoundError, match="no schedule or sensor named 'nope'") as info:
        client.start_instigator("nope")
    assert info.value.code == "NOT_FOUND"
    with pytest.raises(NotFoundError, match="no code location named 'x'"):
        client.list_instigators("x")
    with pytest.raises(NotFoundError):
        client.list_ticks(location="x")
    with pytest.raises(InvalidRequestError, match="limit must not be negative"):
        client.list_ticks(limit=-1)
    with pytest.raises(rs.RiversError, match="unknown tick status 'DONE'"):
        client.list_ticks(statuses=["DONE"])
    with pytest.raises(NotFoundError):
        client.cancel_backfill("nope")
    with pytest.raises(NotFoundError):
        client.retry_backfill_failures("nope")
    stack.add_run(location, status=RunStatus.QUEUED)
    stack.register(partitioned.repo)
    backfill = client.launch_backfill(["daily_events"], ["2024-01-01"], location="partitioned")
    with pytest.raises(InvalidRequestError, match="has not finished") as refused:
        client.retry_backfill_failures(backfill.backfill_id)
    assert refused.value.code == "FAILED_PRECONDITION"
    with pytest.raises(InvalidRequestError, match="several code locations"):
        client.start_instigator("hourly")


def test_methods_are_documented_with_examples() -> None:
    """Every new client method has a docstring, and the public ones an example."""
    for name in (
        "list_ticks",
        "list_instigators",
        "start_instigator",
        "stop_instigator",
        "cancel_backfill",
        "retry_backfill_failures",
    ):
        doc = getattr(RiversClient, name).__doc__
        assert doc and "Example:" in doc and "Raises:" in doc, name
