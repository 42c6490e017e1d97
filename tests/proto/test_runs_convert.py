"""Ticks and instigator states survive the trip through their wire messages (runs.proto)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rivers._convert.runs import (
    instigator_state_from_proto,
    instigator_state_to_proto,
    instigator_type_from_proto,
    instigator_type_to_proto,
    tick_from_proto,
    tick_status_from_proto,
    tick_status_to_proto,
    tick_to_proto,
)
from rivers._proto.rivers.v1 import runs_pb2
from rivers.client._convert import instigator_info_from_proto, instigator_info_to_proto
from rivers.client.models import InstigatorInfo
from rivers.execution.events import ErrorInfo
from rivers.storage.records import InstigatorState, InstigatorType, TickRecord, TickStatus

_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TEXT = st.text(max_size=12)
OPT_TEXT = st.none() | TEXT
TIMES = st.floats(min_value=0, max_value=4e9)
OPT_TIMES = st.none() | TIMES
IDS = st.lists(TEXT, max_size=3).map(tuple)
ERRORS = st.none() | st.builds(ErrorInfo, error_type=TEXT, message=TEXT, traceback=TEXT)

TICKS = st.builds(
    TickRecord,
    tick_id=TEXT,
    location_id=TEXT,
    instigator=TEXT,
    type=st.sampled_from(InstigatorType),
    status=st.sampled_from(TickStatus),
    timestamp=TIMES,
    scheduled_time=OPT_TIMES,
    run_ids=IDS,
    backfill_ids=IDS,
    run_keys=IDS,
    skip_reason=OPT_TEXT,
    error=ERRORS,
    cursor=OPT_TEXT,
    duration_ms=TIMES,
    requested=st.integers(0, 2**63 - 1),
)
STATES = st.builds(
    InstigatorState,
    location_id=TEXT,
    name=TEXT,
    type=st.sampled_from(InstigatorType),
    status=st.sampled_from(["RUNNING", "STOPPED"]),
    cursor=OPT_TEXT,
    last_tick_time=OPT_TIMES,
    last_tick_status=st.none() | st.sampled_from(TickStatus),
    updated_at=st.just(0.0),
)
INFOS = st.builds(
    InstigatorInfo,
    location_id=TEXT,
    name=TEXT,
    type=st.sampled_from(InstigatorType),
    running=st.booleans(),
    cursor=OPT_TEXT,
    last_tick_time=OPT_TIMES,
    last_tick_status=st.none() | st.sampled_from(TickStatus),
    next_tick_time=OPT_TIMES,
    cron=OPT_TEXT,
    minimum_interval=st.none() | st.floats(min_value=0, max_value=1e6),
)


@_SETTINGS
@given(TICKS)
def test_tick_round_trips(tick: TickRecord) -> None:
    """Every field of a tick, the user's error included, comes back unchanged."""
    assert tick_from_proto(tick_to_proto(tick)) == tick


@_SETTINGS
@given(STATES)
def test_instigator_state_with_a_status_round_trips(state: InstigatorState) -> None:
    """A stored state with an explicit status comes back unchanged (updated_at is not sent)."""
    assert instigator_state_from_proto(instigator_state_to_proto(state)) == state


@_SETTINGS
@given(INFOS)
def test_instigator_info_round_trips(info: InstigatorInfo) -> None:
    """What the client returns for an instigator survives the wire unchanged."""
    assert instigator_info_from_proto(instigator_info_to_proto(info)) == info


def test_instigator_state_without_a_status_needs_running() -> None:
    """A state following its code default is sent with the running flag the caller resolved."""
    state = InstigatorState(
        location_id="loc", name="nightly", type=InstigatorType.SCHEDULE, updated_at=1.0
    )
    with pytest.raises(ValueError, match="code default"):
        instigator_state_to_proto(state)
    msg = instigator_state_to_proto(
        state, running=True, next_tick_time=60.0, cron="* * * * *", minimum_interval=None
    )
    assert (msg.running, msg.next_tick_time, msg.cron) == (True, 60.0, "* * * * *")
    assert not msg.HasField("minimum_interval") and not msg.HasField("cursor")
    assert msg.last_tick_status == runs_pb2.TICK_STATUS_UNSPECIFIED
    assert instigator_state_from_proto(msg).status == "RUNNING"


def test_enums_map_by_name_and_refuse_unspecified() -> None:
    """Every tick status and instigator type has a wire value; 0 and unknown ones are refused."""
    for status in TickStatus:
        assert tick_status_from_proto(tick_status_to_proto(status)) is status
    for kind in InstigatorType:
        assert instigator_type_from_proto(instigator_type_to_proto(kind)) is kind
    assert instigator_type_to_proto(InstigatorType.AUTOMATION) == (
        runs_pb2.INSTIGATOR_TYPE_AUTOMATION
    )
    for bad in (0, 99):
        with pytest.raises(ValueError, match="unsupported tick status"):
            tick_status_from_proto(bad)
        with pytest.raises(ValueError, match="unsupported instigator type"):
            instigator_type_from_proto(bad)
    with pytest.raises(ValueError, match="unsupported"):
        tick_from_proto(runs_pb2.TickRecord(tick_id="t", type=runs_pb2.INSTIGATOR_TYPE_SENSOR))
