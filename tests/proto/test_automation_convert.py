"""Sensor and schedule replies survive the trip through their messages (_convert.automation)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rivers as rs
from rivers._convert.automation import (
    backfill_request_from_proto,
    backfill_request_to_proto,
    evaluation_error_from_proto,
    run_request_from_proto,
    run_request_to_proto,
    schedule_error_to_proto,
    schedule_result_from_proto,
    schedule_result_to_proto,
    sensor_error_to_proto,
    sensor_result_from_proto,
    sensor_result_to_proto,
)
from rivers._proto.rivers.v1 import codelocation_pb2 as pb
from rivers.execution.events import ErrorInfo

_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

NAME = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
KEY = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=10)
TEXT = st.text(max_size=12)
SELECTION = st.none() | st.lists(NAME, min_size=1, max_size=3, unique=True)
TAGS = st.dictionaries(NAME, TEXT, max_size=3)
JSON: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
RUN_REQUESTS = st.builds(
    rs.RunRequest,
    SELECTION,
    job=st.none() | NAME,
    partition=st.none() | KEY,
    run_config=st.none() | st.dictionaries(NAME, JSON, max_size=3),
    tags=TAGS,
    run_key=st.none() | TEXT,
)
BACKFILL_REQUESTS = st.builds(
    rs.BackfillRequest,
    SELECTION,
    partitions=st.lists(KEY, min_size=1, max_size=4)
    | st.builds(rs.PartitionKeyRange.single, KEY, KEY),
    tags=TAGS,
)
DYNAMIC_REQUESTS = st.one_of(
    st.builds(
        rs.AddDynamicPartitionsRequest,
        partitions_def_name=NAME,
        partition_keys=st.lists(KEY, max_size=3).map(tuple),
    ),
    st.builds(
        rs.DeleteDynamicPartitionsRequest,
        partitions_def_name=NAME,
        partition_keys=st.lists(KEY, min_size=1, max_size=3).map(tuple),
    ),
)


@_SETTINGS
@given(request=RUN_REQUESTS)
def test_run_request_roundtrip(request: rs.RunRequest) -> None:
    """A run request comes back equal, through bytes (config keeps ints and key order)."""
    data = run_request_to_proto(request).SerializeToString()
    assert run_request_from_proto(pb.RunRequestSpec.FromString(data)) == request


@_SETTINGS
@given(request=BACKFILL_REQUESTS)
def test_backfill_request_roundtrip(request: rs.BackfillRequest) -> None:
    """A backfill request of keys or of a single key range comes back equal."""
    data = backfill_request_to_proto(request).SerializeToString()
    assert backfill_request_from_proto(pb.BackfillRequestSpec.FromString(data)) == request


@_SETTINGS
@given(
    runs=st.lists(RUN_REQUESTS, max_size=3),
    backfills=st.lists(BACKFILL_REQUESTS, max_size=2),
    dynamic=st.lists(DYNAMIC_REQUESTS, max_size=3),
    cursor=st.none() | TEXT,
    skip=st.none() | TEXT,
)
def test_sensor_result_roundtrip(
    runs: list[rs.RunRequest],
    backfills: list[rs.BackfillRequest],
    dynamic: list[rs.AddDynamicPartitionsRequest | rs.DeleteDynamicPartitionsRequest],
    cursor: str | None,
    skip: str | None,
) -> None:
    """A sensor result (runs before backfills) comes back equal, with no error set."""
    result = rs.SensorResult(
        run_requests=[*runs, *backfills],
        dynamic_partitions_requests=dynamic,
        cursor=cursor,
        skip_reason=skip,
    )
    msg = pb.EvaluateSensorResponse.FromString(sensor_result_to_proto(result).SerializeToString())
    assert evaluation_error_from_proto(msg) is None
    assert sensor_result_from_proto(msg) == result


@_SETTINGS
@given(runs=st.lists(RUN_REQUESTS, max_size=3), skip=st.none() | TEXT)
def test_schedule_result_roundtrip(runs: list[rs.RunRequest], skip: str | None) -> None:
    """A schedule result (run requests, skip reason) comes back equal."""
    result = rs.SensorResult(run_requests=runs, skip_reason=skip)
    data = schedule_result_to_proto(result).SerializeToString()
    msg = pb.EvaluateScheduleResponse.FromString(data)
    assert evaluation_error_from_proto(msg) is None
    assert schedule_result_from_proto(msg) == result


def test_errors_roundtrip_in_both_replies() -> None:
    """An evaluation error travels in the reply's error field, for sensors and schedules."""
    error = ErrorInfo(error_type="ValueError", message="bad", traceback="Traceback ...")
    assert evaluation_error_from_proto(sensor_error_to_proto(error)) == error
    assert evaluation_error_from_proto(schedule_error_to_proto(error)) == error


def test_strategies_and_multi_ranges_travel() -> None:
    """A backfill request with a strategy or a multi-dimensional range comes back equal."""
    multi = rs.PartitionKeyRange.multi({"date": ("2024-01-01", "2024-01-02"), "region": ["us"]})
    for request in (
        rs.BackfillRequest(partitions=["a"], strategy=rs.BackfillStrategy.single_run()),
        rs.BackfillRequest(partitions=multi, strategy=rs.BackfillStrategy.multi_run()),
    ):
        data = backfill_request_to_proto(request).SerializeToString()
        assert backfill_request_from_proto(pb.BackfillRequestSpec.FromString(data)) == request


def test_what_a_schedule_reply_cannot_carry_is_refused() -> None:
    """A schedule asking for a backfill, or setting a cursor: ValueError."""
    with pytest.raises(ValueError, match="backfill"):
        schedule_result_to_proto(
            rs.SensorResult(run_requests=[rs.BackfillRequest(partitions=["a"])])
        )
    with pytest.raises(ValueError, match="cursor"):
        schedule_result_to_proto(rs.SensorResult(cursor="1"))


def test_one_dynamic_message_with_adds_and_deletes() -> None:
    """A message with both add and delete keys decodes as the add, then the delete."""
    msg = pb.EvaluateSensorResponse(
        dynamic_partitions_requests=[
            pb.DynamicPartitionsRequestSpec(
                partitions_def_name="files", add_keys=["a"], delete_keys=["b"]
            )
        ]
    )
    assert sensor_result_from_proto(msg).dynamic_partitions_requests == (
        rs.AddDynamicPartitionsRequest(partitions_def_name="files", partition_keys=("a",)),
        rs.DeleteDynamicPartitionsRequest(partitions_def_name="files", partition_keys=("b",)),
    )
