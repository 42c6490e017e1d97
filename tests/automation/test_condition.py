"""rs.AutomationCondition: construction, validation, operators, and the wire round trip."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rivers as rs
from rivers._convert.definitions import (
    condition_from_proto,
    condition_to_proto,
    snapshot_from_proto,
    snapshot_to_proto,
)
from rivers._proto.rivers.v1 import definitions_pb2
from rivers.automation.condition import AutomationCondition as AC
from rivers.definitions.resolve import resolve
from rivers.definitions.snapshot import AssetSnap, DefinitionsSnapshot


def kinds(condition: AC) -> list[str]:
    return [condition.node_kind, *(k for c in condition.operands() for k in kinds(c))]


def test_leaves_and_composites_build_labelled_trees():
    """The composites are labelled trees of the leaves, with Dagster's structure."""
    eager = AC.eager()
    assert eager.label == "eager" and eager.node_kind == "and"
    assert kinds(eager) == [
        "and",
        "in_latest_time_window",
        "since",
        "or",
        "newly_true",
        "missing",
        "any_deps_updated",
        "or",
        "newly_requested",
        "newly_updated",
        "initial_evaluation",
        "not",
        "any_deps_missing",
        "not",
        "any_deps_in_progress",
        "not",
        "in_progress",
    ]
    cron = AC.on_cron("0 6 * * *", "Europe/Amsterdam")
    assert str(cron) == "on_cron(0 6 * * *, Europe/Amsterdam)"
    assert "all_deps_updated_since_cron" in kinds(cron) and "cron_tick_passed" in kinds(cron)
    assert AC.on_missing().label == "on_missing"
    assert AC.newly_missing().label == "newly_missing"


def test_operators_flatten_unlabelled_chains_and_keep_labels():
    """Chains like a & b & c become one and-node; a labelled operand stays its own node."""
    a, b, c = AC.missing(), AC.in_progress(), AC.newly_updated()
    chain = a & b & c
    assert chain.node_kind == "and" and len(chain.operands()) == 3
    assert len(((a | b) | c).operands()) == 3
    labelled = (a & b).with_label("ab") & c
    assert [x.node_kind for x in labelled.operands()] == ["and", "newly_updated"]
    assert (~a).node_kind == "not" and (~a).operands() == (a,)
    assert a.since(b).operands() == (a, b)
    assert a.newly_true().node_kind == "newly_true"
    assert str(~a | (b & c)) == "(~missing() | (in_progress() & newly_updated()))"


def test_conditions_are_frozen_and_compare_by_value():
    """Equal trees are equal; a node cannot be changed in place."""
    assert AC.eager() == AC.eager()
    assert AC.on_cron("@daily") != AC.on_cron("@hourly")
    node = AC.missing()
    with pytest.raises(Exception, match="frozen"):
        node.label = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: AC.on_cron("every day"), "on_cron: invalid cron 'every day'"),
        (lambda: AC.cron_tick_passed("0 6 * * *", "Mars/Olympus"), "unknown time zone"),
        (lambda: AC.all_deps_updated_since_cron("61 * * * *"), "invalid cron"),
        (lambda: AC.in_latest_time_window(timedelta(0)), "positive"),
        (lambda: AC.in_latest_time_window(-5), "positive"),
        (lambda: AC.missing() & "missing", "only with other rs.AutomationCondition"),
        (lambda: AC.missing().since(3), "only with other"),  # type: ignore[arg-type]
        (lambda: AC.missing().with_label(""), "non-empty"),
    ],
)
def test_invalid_arguments_raise_definition_errors(build, message):
    """Bad crons, zones, lookbacks and operands fail at construction, naming the problem."""
    with pytest.raises(rs.DefinitionError, match=message):
        build()


def test_lookback_accepts_timedelta_or_seconds():
    """in_latest_time_window(lookback) stores seconds, from a timedelta or a number."""
    assert AC.in_latest_time_window(timedelta(hours=2)) == AC.in_latest_time_window(7200)
    assert getattr(AC.in_latest_time_window(90), "lookback_seconds", None) == 90.0


def test_decoding_rejects_malformed_trees():
    """Unknown kinds, wrong arity and bad crons in data or wire messages are refused."""
    with pytest.raises(ValueError, match="kind"):
        AC.validate_tree({"kind": "sometimes"})
    with pytest.raises(ValueError, match="takes 2 operand"):
        AC.validate_tree({"kind": "since", "children": [{"kind": "missing"}]})
    msg = definitions_pb2.AutomationConditionSnap(kind="cron_tick_passed", cron="nope")
    with pytest.raises(ValueError, match="invalid cron"):
        condition_from_proto(msg)
    with pytest.raises(ValueError, match="operand"):
        condition_from_proto(definitions_pb2.AutomationConditionSnap(kind="not"))


LEAVES = st.sampled_from(
    [
        AC.missing(),
        AC.in_progress(),
        AC.execution_failed(),
        AC.newly_updated(),
        AC.newly_requested(),
        AC.initial_evaluation(),
        AC.any_deps_updated(),
        AC.any_deps_missing(),
        AC.any_deps_in_progress(),
        AC.in_latest_time_window(),
        AC.in_latest_time_window(timedelta(days=3)),
        AC.cron_tick_passed("*/30 * * * * *"),
        AC.all_deps_updated_since_cron("0 6 * * 1", "America/New_York"),
        AC.eager(),
        AC.on_missing(),
    ]
)


def _combine(inner: st.SearchStrategy[AC]) -> st.SearchStrategy[AC]:
    return st.one_of(
        st.tuples(inner, inner).map(lambda p: p[0] & p[1]),
        st.tuples(inner, inner).map(lambda p: p[0] | p[1]),
        inner.map(lambda c: ~c),
        inner.map(lambda c: c.newly_true()),
        inner.map(lambda c: c.since_last_handled()),
        st.tuples(inner, inner).map(lambda p: p[0].since(p[1])),
        st.tuples(inner, st.text(min_size=1, max_size=8)).map(lambda p: p[0].with_label(p[1])),
    )


CONDITIONS = st.recursive(LEAVES, _combine, max_leaves=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(CONDITIONS)
def test_conditions_round_trip_through_data_and_proto(condition: AC):
    """Any tree survives model_dump/validate, JSON, and the wire message (as bytes) exactly."""
    assert AC.validate_tree(condition.model_dump()) == condition
    assert AC.validate_tree(condition.model_dump(mode="json")) == condition
    msg = condition_to_proto(condition)
    decoded = condition_from_proto(
        definitions_pb2.AutomationConditionSnap.FromString(msg.SerializeToString())
    )
    assert decoded == condition
    assert AC.from_proto(condition.to_proto()) == condition


def test_asset_kwarg_reaches_the_snapshot_and_the_wire():
    """@rs.Asset, multi-assets and graph assets carry the condition into AssetSnap and back."""

    @rs.Asset(automation_condition=AC.eager())
    def plain() -> int:
        return 1

    @rs.Asset.from_multi(
        output_defs=[rs.AssetDef("users"), rs.AssetDef("orders")],
        automation_condition=AC.on_cron("0 * * * *"),
    )
    def extract():
        yield rs.Output(1, output_name="users")
        yield rs.Output(2, output_name="orders")

    @rs.Task
    def one() -> int:
        return 1

    @rs.Asset.from_graph(automation_condition=AC.on_missing())
    def composed():
        return one()

    @rs.Asset
    def manual() -> int:
        return 1

    assert plain.automation_condition == AC.eager()
    snapshot = resolve([plain, *extract, composed, manual], location="loc").snapshot
    conditions = {a.key: a.automation_condition for a in snapshot.assets}
    assert conditions == {
        "plain": AC.eager(),
        "users": AC.on_cron("0 * * * *"),
        "orders": AC.on_cron("0 * * * *"),
        "composed": AC.on_missing(),
        "manual": None,
    }
    msg = snapshot_to_proto(snapshot)
    assert {a.key for a in msg.assets if a.HasField("automation_condition")} == {
        "plain",
        "users",
        "orders",
        "composed",
    }
    back = snapshot_from_proto(
        definitions_pb2.DefinitionsSnapshot.FromString(msg.SerializeToString())
    )
    assert back == snapshot and back.snapshot_id == snapshot.snapshot_id


def test_condition_changes_the_snapshot_id():
    """Two snapshots that differ only in a condition have different ids."""
    bare = DefinitionsSnapshot(location="l", assets=(AssetSnap(key="a", step_key="a"),))
    with_condition = DefinitionsSnapshot(
        location="l", assets=(AssetSnap(key="a", step_key="a", automation_condition=AC.eager()),)
    )
    assert bare.snapshot_id != with_condition.snapshot_id


def test_asset_rejects_a_non_condition():
    """automation_condition must be an rs.AutomationCondition, named in the error."""
    with pytest.raises(rs.DefinitionError, match="asset 'bad': automation_condition"):

        @rs.Asset(automation_condition="eager")  # type: ignore[call-overload]
        def bad() -> int:
            return 1
