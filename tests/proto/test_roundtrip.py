"""Models survive the trip through their wire messages exactly (rivers._convert)."""

from __future__ import annotations

from typing import Any, get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import rivers as rs
from rivers._convert.common import json_from_proto, json_to_proto
from rivers._convert.definitions import snapshot_from_proto, snapshot_to_proto
from rivers._convert.events import event_from_proto, event_to_proto
from rivers._convert.plan import plan_from_proto, plan_to_proto
from rivers._proto.rivers.v1 import common_pb2, definitions_pb2, events_pb2, plan_pb2
from rivers.definitions.metadata import MetadataKind, MetadataValue
from rivers.definitions.resolve import resolve
from rivers.definitions.retry import RetryPolicy
from rivers.definitions.snapshot import AssetSnap, DefinitionsSnapshot, DependencySnap, JobSnap
from rivers.execution.events import ErrorInfo, EventKind, RunEvent
from rivers.planning.plan import ExecutionPlan, PlanStep, build_plan

# Modest counts keep this folder fast; deadline off because CI machines are noisy.
_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

INT64 = st.integers(-(2**63), 2**63 - 1)
# NaN is excluded only because NaN != NaN would fail the equality, not the conversion.
FLOATS = st.floats(allow_nan=False)
TEXT = st.text(max_size=12)
OPT_TEXT = st.none() | TEXT

# MetadataValue.json refuses NaN and infinities (they are not JSON).
JSON: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | INT64 | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
METADATA_VALUES = st.one_of(
    INT64.map(MetadataValue.int),
    FLOATS.map(MetadataValue.float),
    TEXT.map(MetadataValue.text),
    JSON.map(MetadataValue.json),
    TEXT.map(MetadataValue.url),
    TEXT.map(MetadataValue.path),
    TEXT.map(MetadataValue.md),
    st.booleans().map(MetadataValue.bool),
    FLOATS.map(MetadataValue.timestamp),
)
METADATA = st.dictionaries(TEXT, METADATA_VALUES, max_size=3)
TAGS = st.dictionaries(TEXT, TEXT, max_size=3)
KEYS = st.lists(TEXT, max_size=3).map(tuple)
BOUNDED = st.floats(min_value=0, max_value=1e9)

RETRY = st.builds(
    RetryPolicy,
    max_retries=st.integers(0, 2**63 - 1),
    delay=BOUNDED,
    backoff=st.sampled_from(["constant", "linear", "exponential"]),
    max_delay=st.none() | BOUNDED,
    jitter=st.floats(min_value=0, max_value=1),
)
DEPENDENCY = st.builds(
    DependencySnap,
    asset_key=TEXT,
    role=st.sampled_from(["input", "dep"]),
    arg_name=OPT_TEXT,
    metadata=METADATA,
)
ASSET = st.builds(
    AssetSnap,
    key=TEXT,
    kind=st.sampled_from(["asset", "external"]),
    step_key=TEXT,
    group=TEXT,
    description=OPT_TEXT,
    dependencies=st.lists(DEPENDENCY, max_size=3).map(tuple),
    code_version=OPT_TEXT,
    tags=TAGS,
    metadata=METADATA,
    is_async=st.booleans(),
    has_self_dependency=st.booleans(),
    config_schema=st.none() | st.dictionaries(TEXT, JSON, max_size=4),
    retry_policy=st.none() | RETRY,
    executor=OPT_TEXT,
)
JOB = st.builds(JobSnap, name=TEXT, selection=KEYS, description=OPT_TEXT, tags=TAGS)
SNAPSHOT = st.builds(
    DefinitionsSnapshot,
    location=TEXT,
    assets=st.lists(ASSET, max_size=4).map(tuple),
    jobs=st.lists(JOB, max_size=2).map(tuple),
)
STEP = st.builds(
    PlanStep, key=TEXT, asset_keys=KEYS, upstream=KEYS, is_async=st.booleans(), executor=OPT_TEXT
)
PLAN = st.builds(
    ExecutionPlan,
    snapshot_id=TEXT,
    selection=KEYS,
    asset_keys=KEYS,
    steps=st.lists(STEP, max_size=5).map(tuple),
)
ERROR = st.builds(ErrorInfo, error_type=TEXT, message=TEXT, traceback=TEXT)
EVENT = st.builds(
    RunEvent,
    run_id=TEXT,
    kind=st.sampled_from(EventKind),
    timestamp=FLOATS,
    step_key=OPT_TEXT,
    asset_key=OPT_TEXT,
    partition_key=OPT_TEXT,
    level=TEXT,
    message=TEXT,
    metadata=METADATA,
    data_version=OPT_TEXT,
    error=st.none() | ERROR,
    duration_ms=st.none() | FLOATS,
    attempt=INT64,
    seq=st.none() | INT64,
)


@_SETTINGS
@given(SNAPSHOT)
def test_snapshot_round_trips_exactly(snapshot: DefinitionsSnapshot) -> None:
    """A snapshot equals itself after conversion and after serialising to bytes and back."""
    msg = snapshot_to_proto(snapshot)
    assert snapshot_from_proto(msg) == snapshot
    parsed = definitions_pb2.DefinitionsSnapshot.FromString(msg.SerializeToString())
    assert snapshot_from_proto(parsed) == snapshot


@_SETTINGS
@given(SNAPSHOT)
def test_snapshot_id_survives_the_wire(snapshot: DefinitionsSnapshot) -> None:
    """The id is carried on the wire and recomputed identically (dict order is preserved)."""
    wire = snapshot_to_proto(snapshot).SerializeToString()
    msg = definitions_pb2.DefinitionsSnapshot.FromString(wire)
    assert msg.snapshot_id == snapshot.snapshot_id
    assert snapshot_from_proto(msg).snapshot_id == snapshot.snapshot_id


@_SETTINGS
@given(PLAN)
def test_plan_round_trips_exactly(plan: ExecutionPlan) -> None:
    """A plan equals itself after conversion and after serialising to bytes and back."""
    msg = plan_to_proto(plan)
    assert plan_from_proto(msg) == plan
    parsed = plan_pb2.ExecutionPlan.FromString(msg.SerializeToString())
    back = plan_from_proto(parsed)
    assert back == plan
    assert all(type(s) is PlanStep for s in back.steps)


@_SETTINGS
@given(EVENT)
def test_event_round_trips_exactly(event: RunEvent) -> None:
    """A run event equals itself after conversion and after serialising to bytes and back."""
    msg = event_to_proto(event)
    assert event_from_proto(msg) == event
    parsed = events_pb2.RunEvent.FromString(msg.SerializeToString())
    assert event_from_proto(parsed) == event


def test_model_hooks_use_the_conversion_modules() -> None:
    """`to_proto()` / `from_proto()` on the models round-trip through rivers._convert."""
    snapshot = DefinitionsSnapshot(location="loc", assets=(AssetSnap(key="a", step_key="a"),))
    plan = build_plan(snapshot)
    event = RunEvent(run_id="r", kind=EventKind.LOG, timestamp=1.5, message="hi")
    assert DefinitionsSnapshot.from_proto(snapshot.to_proto()) == snapshot
    assert ExecutionPlan.from_proto(plan.to_proto()) == plan
    assert RunEvent.from_proto(event.to_proto()) == event


class _Window(BaseModel):
    days: int = 7
    scale: float = 1.0
    label: str | None = None


def test_resolved_snapshot_and_its_plan_round_trip() -> None:
    """A snapshot built by resolving real assets (config schema, retries, deps) survives."""

    @rs.Asset(metadata={"owner": "data", "rows": 3}, tags={"tier": "gold"}, code_version="2")
    def raw() -> int:
        return 1

    @rs.Asset(retry_policy=rs.RetryPolicy(max_retries=2, backoff="exponential", max_delay=9.0))
    def cooked(context: rs.AssetExecutionContext[_Window], raw: int) -> int:
        """Cook the raw number."""
        return raw * context.config.days

    @rs.Asset(deps=[rs.AssetDef.dep("raw")])
    def report(cooked: int) -> int:
        return cooked

    snapshot = resolve([raw, cooked, report], location="test").snapshot
    assert any(a.config_schema for a in snapshot.assets)
    back = DefinitionsSnapshot.from_proto(snapshot.to_proto())
    assert back == snapshot
    assert back.snapshot_id == snapshot.snapshot_id
    plan = build_plan(back)
    assert ExecutionPlan.from_proto(plan.to_proto()) == plan


def test_json_keeps_integers_floats_and_key_order() -> None:
    """JSON values come back with ints as ints, integral floats as floats, keys in order."""
    value = {"z": 1, "a": 1.0, "m": [2**62, -0.5, None, True, "s", {"y": {}, "b": []}]}
    back = json_from_proto(json_to_proto(value))
    assert back == value
    assert type(back["z"]) is int
    assert type(back["a"]) is float
    assert list(back) == ["z", "a", "m"]
    assert list(back["m"][5]) == ["y", "b"]


def test_json_non_string_keys_become_strings_as_in_json() -> None:
    """Non-string object keys are stringified exactly as `json.dumps` would."""
    value = {1: "a", 2.5: "b", None: "c", False: "d"}
    assert json_from_proto(json_to_proto(value)) == {
        "1": "a",
        "2.5": "b",
        "null": "c",
        "false": "d",
    }


def test_empty_strings_and_absent_optionals_stay_distinct() -> None:
    """An optional field set to "" does not come back as None, nor None as ""."""
    event = RunEvent(run_id="r", kind=EventKind.LOG, timestamp=0.0, step_key="", asset_key=None)
    back = event_from_proto(event_to_proto(event))
    assert back.step_key == ""
    assert back.asset_key is None


def test_every_metadata_kind_has_its_own_oneof_member() -> None:
    """The wire's MetadataValue oneof has exactly one `<kind>_value` member per model kind."""
    members = common_pb2.MetadataValue.DESCRIPTOR.oneofs_by_name["value"].fields
    assert sorted(f.name for f in members) == sorted(f"{k}_value" for k in get_args(MetadataKind))


def test_every_event_kind_has_its_own_wire_value() -> None:
    """Each EventKind maps to the proto enum value of the same name, never UNSPECIFIED."""
    for kind in EventKind:
        msg = event_to_proto(RunEvent(run_id="r", kind=kind, timestamp=0.0))
        assert events_pb2.EventKind.Name(msg.kind) == f"EVENT_KIND_{kind.value}"


# A value from a newer contract; typed Any because the stubs only admit known values.
_UNKNOWN_ENUM_VALUE: Any = 99


@pytest.mark.parametrize(
    ("decode", "msg"),
    [
        (event_from_proto, events_pb2.RunEvent(run_id="r")),
        (event_from_proto, events_pb2.RunEvent(run_id="r", kind=_UNKNOWN_ENUM_VALUE)),
        (snapshot_from_proto, definitions_pb2.DefinitionsSnapshot(assets=[{"key": "a"}])),
        (
            snapshot_from_proto,
            definitions_pb2.DefinitionsSnapshot(
                assets=[{"key": "a", "kind": 1, "dependencies": [{"asset_key": "b"}]}]
            ),
        ),
        (
            snapshot_from_proto,
            definitions_pb2.DefinitionsSnapshot(
                assets=[{"key": "a", "kind": 1, "metadata": [{"key": "m", "value": {}}]}]
            ),
        ),
        (
            snapshot_from_proto,
            definitions_pb2.DefinitionsSnapshot(
                assets=[{"key": "a", "kind": 1, "retry_policy": {"max_retries": 1}}]
            ),
        ),
    ],
    ids=[
        "event-kind-unspecified",
        "event-kind-unknown",
        "asset-kind-unspecified",
        "dependency-role-unspecified",
        "metadata-value-unset",
        "retry-backoff-unspecified",
    ],
)
def test_unset_or_unknown_enums_and_oneofs_are_rejected(decode: Any, msg: Any) -> None:
    """Decoding refuses a message whose enum is UNSPECIFIED/unknown or whose oneof is unset."""
    with pytest.raises(ValueError, match=r"unsupported|no value set"):
        decode(msg)


def test_metadata_int_beyond_64_bits_is_rejected() -> None:
    """An int metadata value that does not fit the wire's 64 bits is refused when built."""
    with pytest.raises(ValueError, match="64 bits"):
        MetadataValue.int(2**64)
