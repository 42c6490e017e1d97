"""LaunchRun, GetRun and CancelRun: what a queued run holds, and every refusal's status code."""

from __future__ import annotations

import time

import grpc
import pytest

import rivers as rs
from rivers._convert.common import json_object_fields
from rivers._proto.rivers.v1 import api_pb2 as pb
from rivers._proto.rivers.v1 import runs_pb2
from rivers.storage import RunStatus
from tests.fixtures.code_locations import basic, e2e, partitioned
from tests.gateway.harness import Stack


def _code(call: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        call()  # type: ignore[operator]
    return info.value.code(), info.value.details()


def test_launch_run_queues_a_planned_run(stack: Stack) -> None:
    """A launch stores a QUEUED run with the plan's selection and assets, snapshot and config."""
    location = stack.register(basic.repo)
    client = stack.client()
    run = client.launch_run(["scaled"], config={"scaled": {"factor": 3}}, tags={"team": "data"})
    assert run.status is RunStatus.QUEUED
    assert run.location_id == location.identity
    assert run.snapshot_id == location.snapshot_id
    assert run.selection == ("scaled",)
    assert run.asset_keys == ("scaled",)
    assert run.config == {"scaled": {"factor": 3}}
    assert run.tags == {"team": "data"}
    assert run.partitions is None
    stored = stack.storage.get_run(run.run_id)
    assert stored is not None
    assert stored.model_dump(exclude={"heartbeat_at", "worker"}) == run.model_dump(
        exclude={"heartbeat_at", "worker"}
    )
    assert client.get_run(run.run_id) == run


def test_launch_run_without_a_selection_runs_every_asset(stack: Stack) -> None:
    """No selection and no job: the run covers every asset of the location, in plan order."""
    stack.register(basic.repo)
    run = stack.client().launch_run()
    assert run.asset_keys == ("numbers", "scaled", "total", "report")


def test_launch_run_with_a_job_uses_its_selection_and_tags(stack: Stack) -> None:
    """A job's selection and tags apply; the caller's tags win over the job's."""
    stack.register(basic.repo)
    run = stack.client().launch_run(job="everything", tags={"owner": "me"})
    assert run.job_name == "everything"
    assert set(run.asset_keys) == {"numbers", "scaled", "total", "report"}
    assert run.tags == {"team": "data", "owner": "me"}


def test_launch_run_with_partitions_stores_them_and_tags_the_run(stack: Stack) -> None:
    """A key becomes rivers/partition; a range the range tags; both are stored as JSON."""
    stack.register(partitioned.repo)
    client = stack.client()
    one = client.launch_run(["daily_events"], partition="2024-01-03")
    assert one.partitions == {"key": "2024-01-03"}
    assert one.tags == {"rivers/partition": "2024-01-03"}
    span = rs.PartitionKeyRange.single("2024-01-02", "2024-01-04")
    many = client.launch_run(["daily_events"], partition=span)
    assert many.partitions == {"range": span.model_dump(mode="json")}
    assert many.tags == {
        "rivers/partition_range_start": "2024-01-02",
        "rivers/partition_range_end": "2024-01-04",
    }


def test_launch_run_for_all_partitions_spells_out_the_keys(stack: Stack) -> None:
    """`all` is stored as the validated key list, which the run worker can execute as is."""
    stack.register(partitioned.repo)
    request = pb.LaunchRunRequest(
        selection=["daily_events"], partitions=runs_pb2.PartitionSelection(all=True)
    )
    reply = stack.stub().LaunchRun(request)
    run = stack.storage.get_run(reply.run.run_id)
    assert run is not None and run.partitions is not None
    assert len(run.partitions["keys"]) == 10


@pytest.mark.parametrize(
    ("request_fields", "expected"),
    [
        ({"selection": ["nope"]}, "nope"),
        ({"selection": ["daily_events"]}, "partitioned"),
        (
            {
                "selection": ["daily_events"],
                "partitions": runs_pb2.PartitionSelection(key="1999-01-01"),
            },
            "1999-01-01",
        ),
    ],
    ids=["unknown-asset", "missing-partition", "invalid-key"],
)
def test_planner_refusals_are_invalid_argument(
    stack: Stack, request_fields: dict[str, object], expected: str
) -> None:
    """The planner's refusal reaches the caller as INVALID_ARGUMENT with its message."""
    stack.register(partitioned.repo)
    code, details = _code(lambda: stack.stub().LaunchRun(pb.LaunchRunRequest(**request_fields)))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert expected in details
    assert "Traceback" not in details
    assert stack.storage.get_runs() == []


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"total": {"x": 1}}, "takes no config"),
        ({"seed": {}}, "not an asset selected"),
        ({"scaled": 3}, "must be an object"),
    ],
    ids=["no-config-type", "not-selected", "not-an-object"],
)
def test_bad_config_is_invalid_argument(
    stack: Stack, config: dict[str, object], expected: str
) -> None:
    """Config for an asset that takes none, is not selected, or is not an object is refused."""
    stack.register(basic.repo)
    request = pb.LaunchRunRequest(selection=["scaled", "total"], config=json_object_fields(config))
    code, details = _code(lambda: stack.stub().LaunchRun(request))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert expected in details


def test_unknown_job_is_invalid_argument(stack: Stack) -> None:
    """A job the location does not define is refused, naming the jobs it has."""
    stack.register(basic.repo)
    code, details = _code(lambda: stack.stub().LaunchRun(pb.LaunchRunRequest(job_name="nope")))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "everything" in details


def test_location_choice_and_its_errors(stack: Stack) -> None:
    """By name when several exist; unknown name NOT_FOUND; no name among several refused."""
    stub = stack.stub()
    code, details = _code(lambda: stub.LaunchRun(pb.LaunchRunRequest()))
    assert code is grpc.StatusCode.NOT_FOUND
    assert "no code location" in details
    stack.register(basic.repo)
    other = stack.register(e2e.repo)
    code, details = _code(lambda: stub.LaunchRun(pb.LaunchRunRequest()))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "basic, e2e" in details
    code, _ = _code(lambda: stub.LaunchRun(pb.LaunchRunRequest(location="nope")))
    assert code is grpc.StatusCode.NOT_FOUND
    run = stack.client().launch_run(["seed"], location="e2e")
    assert run.location_id == other.identity


def test_location_without_snapshot_is_failed_precondition(stack: Stack) -> None:
    """A location whose code server never published definitions cannot take runs yet."""
    stack.storage.ensure_location("fresh")
    code, details = _code(lambda: stack.stub().LaunchRun(pb.LaunchRunRequest()))
    assert code is grpc.StatusCode.FAILED_PRECONDITION
    assert "fresh" in details


def test_planner_down_is_unavailable(stack: Stack) -> None:
    """With the planner gone, a launch is UNAVAILABLE "planner unreachable"; nothing stored."""
    stack.register(basic.repo)
    stack.stop_planner()
    stack.stop_gateway()
    stack.start_gateway(planner_timeout=2.0)
    code, details = _code(lambda: stack.stub().LaunchRun(pb.LaunchRunRequest()))
    assert code is grpc.StatusCode.UNAVAILABLE
    assert "planner unreachable" in details
    assert stack.storage.get_runs() == []


def test_get_and_cancel_unknown_runs_are_not_found(stack: Stack) -> None:
    """GetRun, CancelRun and WatchRun of an unknown run are NOT_FOUND, naming the run."""
    stub = stack.stub()
    for call in (
        lambda: stub.GetRun(pb.GetRunRequest(run_id="nope")),
        lambda: stub.CancelRun(pb.CancelRunRequest(run_id="nope")),
        lambda: list(stub.WatchRun(pb.WatchRunRequest(run_id="nope"))),
    ):
        code, details = _code(call)
        assert code is grpc.StatusCode.NOT_FOUND
        assert "nope" in details


def test_cancel_run(stack: Stack) -> None:
    """A queued run is CANCELED at once, with an event; a finished run is not cancelled."""
    stack.register(basic.repo)
    client = stack.client()
    run = client.launch_run(["numbers"])
    assert client.cancel_run(run.run_id) is True
    assert client.get_run(run.run_id).status is RunStatus.CANCELED
    assert [e.kind for e in client.watch_run(run.run_id)] == [rs.EventKind.RUN_CANCELED]
    done = stack.add_run(stack.register(basic.repo), status=RunStatus.SUCCESS)
    assert client.cancel_run(done.run_id) is False


def test_launched_run_executes_end_to_end(stack: Stack) -> None:
    """A launched run, executed by a real run worker, is watched to success; assets update."""
    stack.register(basic.repo)
    client = stack.client()
    started = time.perf_counter()
    run = client.launch_run(config={"scaled": {"factor": 3}})
    launch_seconds = time.perf_counter() - started
    assert launch_seconds < 5.0
    worker = stack.run_worker("tests.fixtures.code_locations.basic", run.run_id)
    assert worker.returncode == 0, worker.stderr
    events = list(client.watch_run(run.run_id))
    kinds = [e.kind for e in events]
    assert kinds[0] is rs.EventKind.RUN_STARTED
    assert kinds[-1] is rs.EventKind.RUN_SUCCESS
    assert [e.seq for e in events] == sorted(e.seq for e in events)
    assert client.wait_for_run(run.run_id, timeout=5).status is RunStatus.SUCCESS
    total = client.get_asset("total")
    assert total.summary.last_run_id == run.run_id
    assert total.materializations[0].metadata["count"].value == 4
    listed = {a.key: a for a in client.list_assets()}
    assert listed["report"].last_run_id == run.run_id
    assert listed["report"].last_materialized_at is not None
